"""Server-sent events for streamed generations: keep-alive comments while the upstream is silent,
an error chunk for failures after the first byte, and upstream cancellation on client disconnect."""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from ..engine import Engine, RequestContext
from ..errors import SwitchpointError, UpstreamError
from ..types import ChatRequest
from .cache import StreamTape
from .http import Receive, Send
from .render import DONE, KEEPALIVE, ChunkRenderer

log = logging.getLogger("switchpoint.server")
SSE_HEADERS = [(b"content-type", b"text/event-stream"), (b"cache-control", b"no-cache"),
               (b"x-accel-buffering", b"no")]


class SSEWriter:
    __slots__ = ("send", "headers", "opened", "busy", "last", "relaying", "closed")

    def __init__(self, send: Send, headers: list[tuple[bytes, bytes]]) -> None:
        self.send = send
        self.headers = headers
        self.opened = False
        self.busy = False
        self.last = time.monotonic()
        self.relaying = False
        self.closed = False

    async def open(self, extra: list[tuple[bytes, bytes]] | None = None) -> None:
        if not self.opened:
            self.opened = True
            await self.send({"type": "http.response.start", "status": 200,
                             "headers": [*SSE_HEADERS, *self.headers, *(extra or ())]})

    async def write(self, data: bytes) -> None:
        if not self.opened:
            await self.open()
        self.busy = True
        try:
            await self.send({"type": "http.response.body", "body": data, "more_body": True})
        finally:
            self.busy = False
            self.last = time.monotonic()

    async def close(self, data: bytes = b"") -> None:
        if not self.opened:
            await self.open()
        self.closed = True
        await self.send({"type": "http.response.body", "body": data, "more_body": False})


async def stream_chat(engine: Engine, chat: ChatRequest, ctx: RequestContext, receive: Receive, send: Send,
                      *, created: int, interval: float, headers: list[tuple[bytes, bytes]] | None = None,
                      tape: StreamTape | None = None) -> SwitchpointError | None:
    """Relay a streamed generation. Returns an error to render as a normal response when the
    generation failed before anything was sent; otherwise writes the whole response itself.
    A `tape` keeps the chunks sent and, once the generation completed, its record and usage."""
    writer = SSEWriter(send, [(b"x-generation-id", ctx.generation_id.encode()), *(headers or ())])
    work = asyncio.ensure_future(_relay(engine, chat, ctx, writer, created, interval, tape))
    watcher = asyncio.ensure_future(_watch(receive, work, writer, interval))
    try:
        return await work
    except asyncio.CancelledError:
        if watcher.done() and not watcher.cancelled():
            return None  # the client disconnected; the generation was recorded as cancelled
        raise
    finally:
        watcher.cancel()


async def _relay(engine: Engine, chat: ChatRequest, ctx: RequestContext, writer: SSEWriter, created: int,
                 interval: float, tape: StreamTape | None) -> SwitchpointError | None:
    stream = engine.stream(chat, ctx)
    try:
        start = asyncio.ensure_future(stream.start())
        try:
            while not (await asyncio.wait((start,), timeout=interval))[0]:
                await writer.write(KEEPALIVE)  # commits to 200: later failures become error chunks
        except asyncio.CancelledError:
            start.cancel()
            raise
        try:
            start.result()
        except SwitchpointError as err:
            if not writer.opened:
                return err
            renderer = ChunkRenderer(ctx.generation_id, created, chat.model, None, chat.legacy_prompt)
            await writer.close(renderer.error(err) + DONE)
            return None
        record = stream.record
        renderer = ChunkRenderer(ctx.generation_id, created, record.model, record.provider, chat.legacy_prompt)
        overhead = record.overhead_ms((time.monotonic() - ctx.started) * 1000)
        await writer.open([(b"x-switchpoint-attempts", str(len(record.attempts)).encode()),
                           (b"x-switchpoint-overhead-ms", f"{overhead:.3f}".encode())])
        writer.relaying = True
        try:
            hide = chat.hides_reasoning
            async for batch in stream.batches():
                if hide:
                    batch = [d for d in (delta.without_reasoning() for delta in batch) if d is not None]
                data = b"".join([renderer.delta(delta) for delta in batch])
                if not data:
                    continue
                if tape is not None:
                    tape.chunks.append(data)
                await writer.write(data)
        except UpstreamError as exc:
            err = exc.to_client_error(record.provider or "")
            await stream.finish(error=err)
            await writer.close(renderer.error(err) + DONE)
            return None
        except Exception:  # a bug must still end the stream properly and be recorded
            log.exception("stream relay failed for %s", ctx.generation_id)
            err = SwitchpointError("Internal Server Error")
            await stream.finish(error=err)
            await writer.close(renderer.error(err) + DONE)
            return None
        usage = await stream.finish()
        if tape is not None:
            tape.finished(record, usage)
        await writer.close(renderer.usage(usage, record.cost_nanos, record.markup_nanos, record.router) + DONE)
        return None
    except asyncio.CancelledError:
        engine.spawn(stream.finish(cancelled=True))
        raise


async def _watch(receive: Receive, work: asyncio.Future[Any], writer: SSEWriter, interval: float) -> None:
    """Cancel the relay when the client disconnects; send keep-alives while the upstream is silent."""
    while not work.done():
        try:
            message = await asyncio.wait_for(receive(), interval)
        except TimeoutError:
            if (writer.relaying and not writer.busy and not writer.closed
                    and time.monotonic() - writer.last >= interval):
                await writer.write(KEEPALIVE)
            continue
        if message["type"] == "http.disconnect":
            if not work.done() and not writer.closed:
                work.cancel()
                return
            break
    raise asyncio.CancelledError  # normal end: mark the watcher as not having seen a disconnect
