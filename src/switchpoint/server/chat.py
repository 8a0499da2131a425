"""Handlers for the generation endpoints: chat, legacy completions, embeddings."""

from __future__ import annotations

import time

from ..engine import RequestContext
from ..generation import GenerationRecord
from ..ids import generation_id
from ..observability.context import current_scope
from ..types import hide_reasoning
from .cache import CACHE_HEADERS, StreamTape, status_headers
from .http import STREAMED, Request, Response, Send, Streamed
from .render import completion_body, embeddings_body
from .services import Services
from .streaming import SSE_HEADERS, stream_chat
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
    cache = services.cache
    plan = cache.plan(key, headers, request.path, chat)
    hit = await cache.lookup(plan) if plan is not None else None
    if hit is not None:
        await services.limiter.admit(key, free=services.engine.plan(chat)[1])
        cache.record_hit(hit, ctx.generation_id, key, streamed=chat.stream, started=ctx.started, user=ctx.user)
        headers = [(b"x-generation-id", ctx.generation_id.encode()), *hit.headers()]
        if chat.stream:
            await send({"type": "http.response.start", "status": 200, "headers": [*SSE_HEADERS, *headers]})
            for chunk in cache.replay_stream(hit, ctx.generation_id, int(now), chat.legacy_prompt):
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
            await send({"type": "http.response.body", "body": b"", "more_body": False})
            return STREAMED
        return Response(cache.replay_body(hit, ctx.generation_id, int(now)), headers=headers)
    extra = status_headers("MISS") if plan is not None else []
    if chat.stream:
        tape = StreamTape() if plan is not None else None
        error = await stream_chat(services.engine, chat, ctx, request.receive, send, created=int(now),
                                  interval=services.config.server.keepalive_interval, headers=extra, tape=tape)
        if error is not None:
            raise error
        if plan is not None and tape is not None and tape.record is not None and tape.usage is not None:
            await cache.store(plan, tape.record, tape.usage, chunks=tape.chunks)
        return STREAMED
    result = await services.engine.complete(chat, ctx)
    headers = [(b"x-generation-id", ctx.generation_id.encode()),
               (b"x-switchpoint-attempts", str(len(result.record.attempts)).encode()),
               (b"x-switchpoint-overhead-ms", overhead_header(result.record, ctx)), *extra]
    if chat.hides_reasoning:
        for choice in result.completion.choices:
            hide_reasoning(choice)
    rendered = completion_body(result.completion, result.record, result.usage, created=int(now),
                               legacy=chat.legacy_prompt)
    if plan is not None:
        await cache.store(plan, result.record, result.usage, body=rendered)
    return Response(rendered, headers=headers)


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
