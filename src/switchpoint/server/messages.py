"""Handlers for the Anthropic Messages API: `POST .../v1/messages` and `.../v1/messages/count_tokens`.

Thin: auth (`x-api-key` or `Authorization: Bearer`) -> parse (protocols.anthropic_messages) -> the same
engine, response cache and stream relay as chat completions -> render. Every error, before the first
byte, is answered in Anthropic's envelope and statuses; after it, as an `event: error` frame. The cost
goes back as `usage.cost` in translated bodies and in the `x-switchpoint-cost` header of every
non-streamed answer (a passed-through body is relayed byte for byte, so only the header carries it)."""

from __future__ import annotations

import time

import orjson

from ..accounting.end_users import end_user
from ..accounting.pricing import from_nanos
from ..config.catalogue import Model
from ..engine import RequestContext, target
from ..engine.cache import CACHE_HEADERS
from ..errors import INVALID, SwitchpointError, UpstreamError
from ..generation import GenerationRecord
from ..ids import generation_id
from ..observability.context import current_scope
from ..protocols.anthropic_messages import (
    PING,
    MessagesStreamRenderer,
    error_body,
    error_status,
    estimate_input_tokens,
    message_body,
    parse_messages,
)
from ..protocols.anthropic_messages.request import load_body
from ..protocols.openai_chat.request import bound_depth
from ..types import ChatRequest
from .chat import overhead_header
from .http import STREAMED, Request, Response, Send, Streamed
from .services import Services
from .streaming import send_replay, stream_generation

API_TYPE = "messages"
MESSAGES_HEADERS = frozenset(name.encode() for name in ("anthropic-version", "anthropic-beta", *CACHE_HEADERS,
                                                              "x-session-id"))


def authorization(request: Request) -> str | None:
    """`x-api-key: <key>` (as the anthropic SDKs send it) or `Authorization: Bearer <key>`."""
    key = request.header(b"x-api-key")
    return f"Bearer {key}" if key else request.header(b"authorization")


def error_response(err: SwitchpointError) -> Response:
    headers = [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in err.headers.items()]
    return Response(error_body(err), error_status(err), headers)


class MessagesSurface:
    """The stream relay's view of this API: `event: ping` keep-alives and Anthropic's events."""

    __slots__ = ("generation_id", "model")
    keepalive = PING

    def __init__(self, generation_id: str, model: str) -> None:
        self.generation_id = generation_id
        self.model = model

    def renderer(self, record: GenerationRecord | None) -> MessagesStreamRenderer:
        return MessagesStreamRenderer(self.generation_id, record.model if record is not None else self.model)


async def parse(services: Services, request: Request, *, counting: bool = False) -> tuple[ChatRequest, int]:
    body = await request.body(services.config.server.max_body_bytes)
    data = load_body(body)
    bound_depth(body, data)  # the upstream body is written with orjson, which stops at 254 levels
    if counting and "max_tokens" not in data:
        data = {**data, "max_tokens": 1}  # count_tokens takes no max_tokens; the count ignores it
    assert services.model_names is not None
    chat = parse_messages(data, request.pick(MESSAGES_HEADERS), services.model_names.resolve)
    fit_max_tokens(chat, services.catalogue.get(chat.model or services.engine.names.canonical("") or ""))
    return chat, len(body)


def fit_max_tokens(chat: ChatRequest, model: Model | None) -> None:
    """Lower max_tokens to what the model can produce. Claude Code asks for the output limit of the Claude
    model it believes it talks to (128000 for Opus); an alias may route it to a model with a smaller
    limit, whose endpoints the router would otherwise all exclude. An Anthropic endpoint still gets the
    client's own body."""
    wanted = chat.params.get("max_tokens")
    limits = [e.max_output_tokens for e in model.endpoints] if model is not None else []
    if limits and None not in limits and isinstance(wanted, int):
        limit = max(x for x in limits if x is not None)
        if wanted > limit:
            chat.params["max_tokens"] = limit


async def create_message(services: Services, request: Request, send: Send) -> Response | Streamed:
    try:
        return await _create(services, request, send)
    except SwitchpointError as err:
        return error_response(err)


async def _create(services: Services, request: Request, send: Send) -> Response | Streamed:
    key = await services.keys.authenticate(authorization(request))
    chat, size = await parse(services, request)
    if key.log_content:
        scope = current_scope()
        if scope is not None:
            scope.capture_content(chat.messages)
    now = time.time()
    ctx = RequestContext(key, generation_id(now), time.monotonic(), size, end_user(chat.params.get("user")), API_TYPE)
    turn = services.cache.turn(key, request.pick(MESSAGES_HEADERS), "/v1/messages", chat)
    if await turn.lookup() is not None:
        await services.limiter.admit(key, free=services.engine.plan(chat, key.policies)[1], user=ctx.user)
        hit = turn.replay(ctx, streamed=chat.stream)
        replay = [*hit.headers, (b"x-switchpoint-cost", b"0")]
        if hit.batches is not None:
            renderer = MessagesSurface(ctx.generation_id, chat.model).renderer(hit.record)
            return await send_replay(send, replay, renderer, hit.batches, hit.usage, hit.record)
        assert hit.completion is not None
        return Response(message_body(hit.completion, hit.record, hit.usage), headers=replay)
    extra = turn.headers
    if chat.stream:
        tape = turn.tape()
        error = await stream_generation(services.engine, chat, ctx, request.receive, send,
                                        MessagesSurface(ctx.generation_id, chat.model),
                                        interval=services.config.server.keepalive_interval, headers=extra, tape=tape)
        if error is not None:
            raise error
        await turn.store_stream(tape)
        return STREAMED
    result = await services.engine.complete(chat, ctx)
    await turn.store(result)
    rendered = message_body(result.completion, result.record, result.usage)
    return Response(rendered, headers=[
        (b"x-generation-id", ctx.generation_id.encode()),
        (b"x-switchpoint-cost", repr(from_nanos(result.record.cost_nanos)).encode()),
        (b"x-switchpoint-attempts", str(len(result.record.attempts)).encode()),
        (b"x-switchpoint-overhead-ms", overhead_header(result.record, ctx)), *extra])


async def count_tokens(services: Services, request: Request, send: Send) -> Response:
    """`{"input_tokens": N}`: counted by the first Anthropic endpoint the request would be routed to (its
    own count_tokens, relayed as is), else a conservative estimate (request.estimate_input_tokens)."""
    try:
        await services.keys.authenticate(authorization(request))
        chat, _ = await parse(services, request, counting=True)
        assert chat.native is not None
        engine = services.engine
        for cand in engine.route(chat).candidates:
            provider = services.providers[cand.endpoint.provider]
            upstream = provider.build_count_tokens(chat.native, target(cand)) if provider.passes_through(chat) else None
            if upstream is None:
                continue
            try:
                body = await engine.exchange(provider, upstream, provider.connection.timeout)
            except UpstreamError as err:
                if err.kind == INVALID:
                    raise err.to_client_error(cand.endpoint.provider) from None
                continue  # this endpoint cannot count now: the next, or the estimate
            return Response(body)
        return Response(orjson.dumps({"input_tokens": estimate_input_tokens(chat.native.body)}))
    except SwitchpointError as err:
        return error_response(err)
