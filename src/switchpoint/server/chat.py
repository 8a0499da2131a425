"""Handlers for the generation endpoints: chat, legacy completions, embeddings."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager

import orjson

from ..accounting.end_users import end_user
from ..accounting.keys import refused
from ..engine import RequestContext
from ..engine.cache import CACHE_HEADERS
from ..errors import SwitchpointError
from ..generation import GenerationRecord
from ..ids import generation_id
from ..observability.context import current_scope
from ..protocols.openai_chat.render import completion_body, embeddings_body
from ..protocols.openai_chat.request import ATTRIBUTION, parse_chat, parse_embeddings
from ..types import ChatRequest, Completion, Usage, hide_reasoning
from .http import STREAMED, Request, Response, Send, Streamed
from .services import Services
from .streaming import ChatSurface, send_replay, stream_chat

# The request headers a generation reads: attribution passed upstream, and the cache controls.
CHAT_HEADERS = frozenset(name.encode() for name in (*ATTRIBUTION, *CACHE_HEADERS, "x-session-id"))


async def chat_completions(services: Services, request: Request, send: Send) -> Response | Streamed:
    ctx = await authenticate(services, request)
    now = time.time()
    with refusals(services, ctx) as seen:
        body = await request.body(services.config.server.max_body_bytes)
        seen.append(body)
        headers = request.pick(CHAT_HEADERS)
        chat = parse_chat(body, headers, legacy=request.path == "/completions")
    ctx.body_size, ctx.user, key = len(body), end_user(chat.params.get("user")), ctx.key
    if key.log_content:
        scope = current_scope()
        if scope is not None:
            scope.capture_content(chat.messages)
    turn = services.cache.turn(key, headers, request.path, chat)
    if await turn.lookup() is not None:
        with refusals(services, ctx, chat.model, streamed=chat.stream):
            await services.limiter.admit(key, free=services.engine.plan(chat, key.policies)[1], user=ctx.user)
        hit = turn.replay(ctx, streamed=chat.stream)
        if hit.batches is not None:
            renderer = ChatSurface(chat, ctx.generation_id, int(now)).renderer(hit.record)
            return await send_replay(send, hit.headers, renderer, hit.batches, hit.usage, hit.record)
        assert hit.completion is not None
        return Response(_render(chat, hit.completion, hit.record, hit.usage, int(now)), headers=hit.headers)
    extra = turn.headers
    if chat.stream:
        tape = turn.tape()
        error = await stream_chat(services.engine, chat, ctx, request.receive, send, created=int(now),
                                  interval=services.config.server.keepalive_interval, headers=extra, tape=tape)
        if error is not None:
            raise error
        await turn.store_stream(tape)
        return STREAMED
    result = await services.engine.complete(chat, ctx)
    answered = [(b"x-generation-id", ctx.generation_id.encode()),
                (b"x-switchpoint-attempts", str(len(result.record.attempts)).encode()),
                (b"x-switchpoint-overhead-ms", overhead_header(result.record, ctx)), *extra]
    await turn.store(result)  # the completion as the engine made it: a hit is rendered (and hidden) again
    return Response(_render(chat, result.completion, result.record, result.usage, int(now)), headers=answered)


def _render(chat: ChatRequest, completion: Completion, record: GenerationRecord, usage: Usage, created: int) -> bytes:
    if chat.hides_reasoning:
        for choice in completion.choices:
            hide_reasoning(choice)
    return completion_body(completion, record, usage, created=created, legacy=chat.legacy_prompt)


def overhead_header(record: GenerationRecord, ctx: RequestContext) -> bytes:
    return f"{record.overhead_ms((time.monotonic() - ctx.started) * 1000):.3f}".encode()


async def embeddings(services: Services, request: Request, send: Send) -> Response:
    ctx = await authenticate(services, request)
    with refusals(services, ctx, api_type="embeddings") as seen:
        body = await request.body(services.config.server.max_body_bytes)
        seen.append(body)
        embed = parse_embeddings(body)
    ctx.body_size, ctx.user = len(body), end_user(embed.params.get("user"))
    result = await services.engine.embed(embed, ctx)
    return Response(embeddings_body(result.embeddings, result.record, embed.encoding_format),
                    headers=[(b"x-generation-id", ctx.generation_id.encode())])


async def authenticate(services: Services, request: Request) -> RequestContext:
    """The calling key, and the context of the generation it asks for. A known key that may not be used
    (disabled, expired) is refused with a ledger row, so its owner sees why in the activity. A 503 while
    the ledger cannot take rows: nothing is served (or refused) unaccounted."""
    key = await services.keys.identify(request.header(b"authorization"))
    services.ledger.admit()
    ctx = RequestContext(key, generation_id(time.time()), time.monotonic())
    refusal = refused(key)
    if refusal is not None:
        services.engine.books.refuse(services.engine.books.new_record(ctx, "", streamed=False), refusal)
        raise refusal
    return ctx


@contextmanager
def refusals(services: Services, ctx: RequestContext, model: str = "", *, streamed: bool = False,
             api_type: str = "completions") -> Iterator[list[bytes]]:
    """Records a request refused in the block (body too large or invalid, rate limited) in the ledger,
    then lets the error through. The block may append the request body: the row then names the model
    the body asked for, when it can be read."""
    body: list[bytes] = []
    try:
        yield body
    except SwitchpointError as err:
        record = services.engine.books.new_record(ctx, model or (body and requested_model(body[0])) or "", streamed=streamed)
        record.api_type = api_type
        services.engine.books.refuse(record, err)
        raise


def requested_model(body: bytes) -> str:
    """The `model` of a body that was refused as invalid, when it names one (else '')."""
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        return ""
    model = data.get("model") if isinstance(data, dict) else None
    return model[:200] if isinstance(model, str) else ""
