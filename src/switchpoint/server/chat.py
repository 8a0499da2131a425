"""Handlers for the generation endpoints: chat, legacy completions, embeddings."""

from __future__ import annotations

import time

from ..engine import RequestContext
from ..generation import GenerationRecord
from ..ids import generation_id
from ..observability.context import current_scope
from ..types import ChatRequest, Completion, Usage, hide_reasoning
from .cache import CACHE_HEADERS
from .http import STREAMED, Request, Response, Send, Streamed
from .render import completion_body, embeddings_body, replay_chunks
from .services import Services
from .streaming import send_replay, stream_chat
from .validate import ATTRIBUTION, parse_chat, parse_embeddings

# The request headers a generation reads: attribution passed upstream, and the cache controls.
CHAT_HEADERS = frozenset(name.encode() for name in (*ATTRIBUTION, *CACHE_HEADERS))


async def chat_completions(services: Services, request: Request, send: Send) -> Response | Streamed:
    key = await services.keys.authenticate(request.header(b"authorization"))
    services.ledger.admit()  # 503 while usage cannot be recorded: nothing is served unaccounted
    body = await request.body(services.config.server.max_body_bytes)
    headers = request.pick(CHAT_HEADERS)
    chat = parse_chat(body, headers, legacy=request.path == "/completions")
    if key.log_content:
        scope = current_scope()
        if scope is not None:
            scope.capture_content(chat.messages)
    now = time.time()
    ctx = RequestContext(key, generation_id(now), time.monotonic(), len(body), chat.params.get("user"))
    turn = services.cache.turn(key, headers, request.path, chat)
    if await turn.lookup() is not None:
        await services.limiter.admit(key, free=services.engine.plan(chat)[1])
        hit = turn.replay(ctx, streamed=chat.stream)
        if hit.batches is not None:
            return await send_replay(send, hit.headers, replay_chunks(
                hit.batches, hit.record, hit.usage, created=int(now), legacy=chat.legacy_prompt,
                hide_reasoning=chat.hides_reasoning))
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
    headers = [(b"x-generation-id", ctx.generation_id.encode()),
               (b"x-switchpoint-attempts", str(len(result.record.attempts)).encode()),
               (b"x-switchpoint-overhead-ms", overhead_header(result.record, ctx)), *extra]
    await turn.store(result)  # the completion as the engine made it: a hit is rendered (and hidden) again
    return Response(_render(chat, result.completion, result.record, result.usage, int(now)), headers=headers)


def _render(chat: ChatRequest, completion: Completion, record: GenerationRecord, usage: Usage, created: int) -> bytes:
    if chat.hides_reasoning:
        for choice in completion.choices:
            hide_reasoning(choice)
    return completion_body(completion, record, usage, created=created, legacy=chat.legacy_prompt)


def overhead_header(record: GenerationRecord, ctx: RequestContext) -> bytes:
    return f"{record.overhead_ms((time.monotonic() - ctx.started) * 1000):.3f}".encode()


async def embeddings(services: Services, request: Request, send: Send) -> Response:
    key = await services.keys.authenticate(request.header(b"authorization"))
    services.ledger.admit()  # 503 while usage cannot be recorded: nothing is served unaccounted
    body = await request.body(services.config.server.max_body_bytes)
    embed = parse_embeddings(body)
    now = time.time()
    ctx = RequestContext(key, generation_id(now), time.monotonic(), len(body), embed.params.get("user"))
    result = await services.engine.embed(embed, ctx)
    return Response(embeddings_body(result.embeddings, result.record, embed.encoding_format),
                    headers=[(b"x-generation-id", ctx.generation_id.encode())])
