"""Handlers for the generation endpoints: chat, legacy completions, embeddings."""

from __future__ import annotations

import time

from ..engine import RequestContext
from ..ids import generation_id
from .http import STREAMED, Request, Response, Send, Streamed
from .render import completion_body, embeddings_body
from .services import Services
from .streaming import stream_chat
from .validate import parse_chat, parse_embeddings


async def chat_completions(services: Services, request: Request, send: Send) -> Response | Streamed:
    key = await services.keys.authenticate(request.header(b"authorization"))
    body = await request.body(services.config.server.max_body_bytes)
    chat = parse_chat(body, request.headers, legacy=request.path == "/completions")
    now = time.time()
    ctx = RequestContext(key, generation_id(now), time.monotonic(), len(body), chat.params.get("user"))
    if chat.stream:
        error = await stream_chat(services.engine, chat, ctx, request.receive, send, created=int(now),
                                  interval=services.config.server.keepalive_interval)
        if error is not None:
            raise error
        return STREAMED
    result = await services.engine.complete(chat, ctx)
    headers = [(b"x-generation-id", ctx.generation_id.encode()),
               (b"x-switchpoint-attempts", str(len(result.record.attempts)).encode())]
    return Response(completion_body(result.completion, result.record, result.usage, created=int(now),
                                    legacy=chat.legacy_prompt), headers=headers)


async def embeddings(services: Services, request: Request, send: Send) -> Response:
    key = await services.keys.authenticate(request.header(b"authorization"))
    body = await request.body(services.config.server.max_body_bytes)
    embed = parse_embeddings(body)
    now = time.time()
    ctx = RequestContext(key, generation_id(now), time.monotonic(), len(body), embed.params.get("user"))
    result = await services.engine.embed(embed, ctx)
    return Response(embeddings_body(result.embeddings, result.record, embed.encoding_format),
                    headers=[(b"x-generation-id", ctx.generation_id.encode())])
