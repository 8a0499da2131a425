"""Handlers for the OpenAI Responses API: `POST .../responses`, `GET`/`DELETE .../responses/{id}` and
`GET .../responses/{id}/input_items`.

Thin: auth -> the stored conversation of `previous_response_id` (the calling key's only; any other id is
a 404) -> parse (protocols.openai_responses) -> the same engine, stream relay and response cache as chat
completions -> render -> with `store` (the default) the response and its conversation kept in the
database for `responses.retention_days`. Every error before the first byte is answered in OpenAI's
envelope; after it, as `error` and `response.failed` events.

The gateway resolves `previous_response_id` itself, for every endpoint: the request may be routed (or
fail over) to another provider than the one that served the previous turn, so an endpoint serving the
Responses API natively gets the whole conversation in `input` and never the id. A passed-through answer
is relayed byte for byte (its id is the upstream's) and stored under that id; its final bytes go out only
once it is stored, so a client may continue from it at once."""

from __future__ import annotations

import time
from typing import Any

import orjson

from ..accounting.end_users import end_user
from ..engine.cache import CACHE_HEADERS, OFF
from ..errors import NotFoundError, SwitchpointError
from ..generation import GenerationRecord
from ..observability.context import current_scope
from ..protocols.openai_chat.render import KEEPALIVE
from ..protocols.openai_chat.request import ATTRIBUTION, bound_depth
from ..protocols.openai_responses import (
    ResponsesStreamRenderer,
    completion_response,
    error_body,
    load_body,
    parse_responses,
)
from ..types import ChatRequest
from .chat import authenticate, overhead_header, refusals
from .http import STREAMED, Request, Response, Send, Streamed
from .services import Services
from .streaming import send_replay, stream_generation

API_TYPE = "responses"
RESPONSES_HEADERS = frozenset(name.encode() for name in (*ATTRIBUTION, *CACHE_HEADERS, "x-session-id"))
PURGE_EVERY = 3600.0  # seconds between purges of expired stored responses, per process


def error_response(err: SwitchpointError) -> Response:
    headers = [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in err.headers.items()]
    return Response(error_body(err), err.status, headers)


def not_found(response_id: str, param: str | None = None) -> NotFoundError:
    return NotFoundError(f"Response with id '{response_id}' not found.",
                         metadata={"param": param} if param else None)


class ResponsesSurface:
    """The stream relay's view of this API: keep-alive comments and the semantic events; the response is
    stored before the stream's last bytes go out."""

    __slots__ = ("services", "key_hash", "data", "chat", "generation_id", "created", "current")
    keepalive = KEEPALIVE

    def __init__(self, services: Services, key_hash: str, data: dict[str, Any], chat: ChatRequest,
                 generation_id: str, created: int) -> None:
        self.services = services
        self.key_hash = key_hash
        self.data = data
        self.chat = chat
        self.generation_id = generation_id
        self.created = created
        self.current: ResponsesStreamRenderer | None = None

    def renderer(self, record: GenerationRecord | None) -> ResponsesStreamRenderer:
        model = record.model if record is not None else self.chat.model
        self.current = ResponsesStreamRenderer(self.generation_id, self.created, model, self.data,
                                               record.provider if record is not None else None)
        return self.current

    async def on_finish(self) -> None:
        if self.current is not None and self.current.final is not None:
            await keep(self.services, self.key_hash, self.data, self.chat, self.current.final, self.generation_id)


async def keep(services: Services, key_hash: str, data: dict[str, Any], chat: ChatRequest, response: dict[str, Any],
               gen_id: str) -> None:
    """Store a finished response with its conversation, when the request asked for it (`store`)."""
    if data.get("store") is False or not isinstance(response.get("id"), str):
        return
    assert chat.native is not None
    now = time.time()
    retention = services.config.responses.retention_days * 86400
    await services.store.put_response({
        "id": response["id"], "key_hash": key_hash, "generation_id": gen_id, "created_at_ms": int(now * 1000),
        "expires_at_ms": int((now + retention) * 1000), "response": orjson.dumps(response).decode(),
        "conversation": orjson.dumps(chat.native.body.get("input") or []).decode()})
    if now - services.responses_purged_at > PURGE_EVERY:
        services.responses_purged_at = now
        services.engine.spawn(services.store.purge_responses(int(now * 1000)))


async def history(services: Services, key_hash: str, data: dict[str, Any]) -> list[dict[str, Any]]:
    """The conversation `previous_response_id` continues: its input items, then its output."""
    previous = data.get("previous_response_id")
    if not isinstance(previous, str) or not previous:
        return []
    row = await services.store.get_response(previous, key_hash)
    if row is None:
        raise NotFoundError(f"Previous response with id '{previous}' not found.",
                            metadata={"param": "previous_response_id"})
    response = orjson.loads(row["response"])
    return [*orjson.loads(row["conversation"]), *(response.get("output") or ())]


async def create_response(services: Services, request: Request, send: Send) -> Response | Streamed:
    try:
        return await _create(services, request, send)
    except SwitchpointError as err:
        return error_response(err)


async def _create(services: Services, request: Request, send: Send) -> Response | Streamed:
    ctx = await authenticate(services, request)
    ctx.api_type = API_TYPE
    key = ctx.key
    with refusals(services, ctx, api_type=API_TYPE) as seen:  # refused requests leave a ledger row too
        body = await request.body(services.config.server.max_body_bytes)
        seen.append(body)
        data = load_body(body)
        bound_depth(body, data)  # the upstream body is written with orjson, which stops at 254 levels
        headers = request.pick(RESPONSES_HEADERS)
        chat = parse_responses(data, await history(services, key.hash, data) if data.get("previous_response_id")
                               else [], {k: v for k, v in headers.items() if k in ATTRIBUTION})
        chat.session_id = chat.params.get("session_id") or headers.get("x-session-id") or None
    ctx.body_size, ctx.user = len(body), end_user(data.get("user"), data.get("safety_identifier"))
    if key.log_content:
        scope = current_scope()
        if scope is not None:
            scope.capture_content(chat.messages)
    now = time.time()
    # A cached answer has no state behind it: only requests that store nothing use the response cache.
    turn = services.cache.turn(key, headers, "/v1/responses", chat) if data.get("store") is False else OFF
    if await turn.lookup() is not None:
        with refusals(services, ctx, chat.model, streamed=chat.stream, api_type=API_TYPE):
            await services.limiter.admit(key, free=services.engine.plan(chat, key.policies)[1], user=ctx.user)
        hit = turn.replay(ctx, streamed=chat.stream)
        if hit.batches is not None:
            renderer = ResponsesStreamRenderer(ctx.generation_id, int(now), hit.record.model, data,
                                               hit.record.provider)
            return await send_replay(send, hit.headers, renderer, hit.batches, hit.usage, hit.record)
        assert hit.completion is not None
        replayed = completion_response(hit.completion, ctx.generation_id, int(now), hit.record.model, data, hit.usage,
                                       hit.record.cost_nanos, hit.record.provider)
        return Response(orjson.dumps(replayed), headers=hit.headers)
    extra = turn.headers
    if chat.stream:
        tape = turn.tape()
        surface = ResponsesSurface(services, key.hash, data, chat, ctx.generation_id, int(now))
        error = await stream_generation(services.engine, chat, ctx, request.receive, send, surface,
                                        interval=services.config.server.keepalive_interval, headers=extra, tape=tape)
        if error is not None:
            raise error
        await turn.store_stream(tape)
        return STREAMED
    result = await services.engine.complete(chat, ctx)
    completion, record = result.completion, result.record
    if completion.native is not None:
        rendered = completion.native
        response = orjson.loads(rendered)
    else:
        response = completion_response(completion, ctx.generation_id, int(now), record.model, data, result.usage,
                                       record.cost_nanos, record.provider)
        rendered = orjson.dumps(response)
    await keep(services, key.hash, data, chat, response, ctx.generation_id)
    await turn.store(result)
    return Response(rendered, headers=[
        (b"x-generation-id", ctx.generation_id.encode()),
        (b"x-switchpoint-attempts", str(len(record.attempts)).encode()),
        (b"x-switchpoint-overhead-ms", overhead_header(record, ctx)), *extra])


async def get_response(services: Services, request: Request, send: Send) -> Response:
    try:
        key = await services.keys.authenticate(request.header(b"authorization"))
        response_id = request.params["id"]
        row = await services.store.get_response(response_id, key.hash)
        if row is None:
            raise not_found(response_id)
        return Response(row["response"].encode())
    except SwitchpointError as err:
        return error_response(err)


async def delete_response(services: Services, request: Request, send: Send) -> Response:
    try:
        key = await services.keys.authenticate(request.header(b"authorization"))
        response_id = request.params["id"]
        if not await services.store.delete_response(response_id, key.hash):
            raise not_found(response_id)
        return Response(orjson.dumps({"id": response_id, "object": "response", "deleted": True}))
    except SwitchpointError as err:
        return error_response(err)


async def input_items(services: Services, request: Request, send: Send) -> Response:
    """The conversation a stored response was given (history included), newest first as OpenAI lists it
    by default (`order=asc` for oldest first)."""
    try:
        key = await services.keys.authenticate(request.header(b"authorization"))
        response_id = request.params["id"]
        row = await services.store.get_response(response_id, key.hash)
        if row is None:
            raise not_found(response_id)
        items = orjson.loads(row["conversation"])
        if request.query.get("order") != "asc":
            items.reverse()
        return Response(orjson.dumps({"object": "list", "data": items, "has_more": False,
                                      "first_id": _item_id(items[0]) if items else None,
                                      "last_id": _item_id(items[-1]) if items else None}))
    except SwitchpointError as err:
        return error_response(err)


def _item_id(item: Any) -> str | None:
    return item.get("id") if isinstance(item, dict) else None
