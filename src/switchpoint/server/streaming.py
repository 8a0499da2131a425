"""Server-sent events for streamed generations: keep-alive comments while the upstream is silent,
an error chunk for failures after the first byte, and upstream cancellation on client disconnect."""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from ..engine import Engine, RequestContext
from ..engine_stream import mid_stream_error
from ..errors import SwitchpointError, UpstreamError
from ..loops import PerLoop
from ..types import ChatRequest
from .cache import StreamTape
from .http import Receive, Send
from .render import DONE, KEEPALIVE, ChunkRenderer

log = logging.getLogger("switchpoint.server")
SSE_HEADERS = [(b"content-type", b"text/event-stream"), (b"cache-control", b"no-cache"),
               (b"x-accel-buffering", b"no")]


class SSEWriter:
    __slots__ = ("send", "headers", "opened", "busy", "last", "closed")

    def __init__(self, send: Send, headers: list[tuple[bytes, bytes]]) -> None:
        self.send = send
        self.headers = headers
        self.opened = False
        self.busy = False
        self.last = time.monotonic()
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

    async def keepalive(self) -> None:
        if not self.closed and not self.busy:
            await self.write(KEEPALIVE)

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
    A `tape` keeps the chunks sent and, once the generation completed, its record and usage.

    The relay runs in the request's own task; one more task waits for the client to go away (and then
    cancels the relay), and the loop's keep-alive timer sends comments while the upstream is silent. A held
    stream costs two tasks, not a timer or a task per keep-alive interval."""
    writer = SSEWriter(send, [(b"x-generation-id", ctx.generation_id.encode()), *(headers or ())])
    relay = asyncio.current_task()
    assert relay is not None
    watcher = asyncio.ensure_future(_watch(receive, relay, writer))
    keepalive = keepalive_for(interval)
    keepalive.add(writer)
    try:
        return await _relay(engine, chat, ctx, writer, created, tape)
    except asyncio.CancelledError:
        if watcher.done() and not watcher.cancelled() and watcher.result():
            relay.uncancel()
            return None  # the client disconnected; the generation was recorded as cancelled
        raise
    finally:
        keepalive.discard(writer)
        watcher.cancel()


class KeepAlive:
    """Writes `: SWITCHPOINT PROCESSING` to every open stream that wrote nothing for `interval`
    seconds, from one loop timer every half interval for all streams (a task is made only for a
    comment actually sent). A timer per stream, re-armed each interval, cost ~1 KB a held stream."""

    __slots__ = ("loop", "interval", "writers", "handle")

    def __init__(self, loop: asyncio.AbstractEventLoop, interval: float) -> None:
        self.loop = loop
        self.interval = interval
        self.writers: dict[SSEWriter, asyncio.Future[None] | None] = {}  # and the comment being written
        self.handle: asyncio.TimerHandle | None = None

    def add(self, writer: SSEWriter) -> None:
        self.writers[writer] = None
        if self.handle is None:
            self.handle = self.loop.call_later(self.interval / 2, self.tick)

    def discard(self, writer: SSEWriter) -> None:
        self.writers.pop(writer, None)

    def tick(self) -> None:
        now = time.monotonic()
        writers = self.writers
        for writer, pending in list(writers.items()):
            if writer.closed:
                del writers[writer]
            elif pending is None or pending.done():
                due = now - writer.last >= self.interval and not writer.busy
                writers[writer] = asyncio.ensure_future(writer.keepalive()) if due else None
        self.handle = self.loop.call_later(self.interval / 2, self.tick) if writers else None


_keepalives: PerLoop[KeepAlive] = PerLoop(KeepAlive)  # type: ignore[arg-type]


def keepalive_for(interval: float) -> KeepAlive:
    """The keep-alive timer of this event loop for streams with this interval."""
    return _keepalives.get(asyncio.get_running_loop(), interval)


async def _relay(engine: Engine, chat: ChatRequest, ctx: RequestContext, writer: SSEWriter, created: int,
                 tape: StreamTape | None) -> SwitchpointError | None:
    stream = engine.stream(chat, ctx)
    try:
        try:
            await stream.start()  # meanwhile keep-alives commit the response to 200: later failures are chunks
        except SwitchpointError as err:
            if not writer.opened:
                writer.closed = True  # the error goes out as a normal response; no keep-alive may follow
                return err
            renderer = ChunkRenderer(ctx.generation_id, created, chat.model, None, chat.legacy_prompt)
            await writer.close(renderer.error(err) + DONE)
            return None
        record = stream.record
        renderer = ChunkRenderer(ctx.generation_id, created, record.model, record.provider, chat.legacy_prompt)
        overhead = record.overhead_ms((time.monotonic() - ctx.started) * 1000)
        await writer.open([(b"x-switchpoint-attempts", str(len(record.attempts)).encode()),
                           (b"x-switchpoint-overhead-ms", f"{overhead:.3f}".encode())])
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
            err = mid_stream_error(exc, record.provider or "")
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
        await writer.close(renderer.usage(usage, record.cost_nanos, record.markup_nanos, record.completion_nanos,
                                          record.router) + DONE)
        return None
    except asyncio.CancelledError:
        engine.spawn(stream.finish(cancelled=True))
        raise


async def _watch(receive: Receive, relay: asyncio.Task[Any], writer: SSEWriter) -> bool:
    """Wait for the client to go away; True (and the relay cancelled) when it left mid-stream."""
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            if writer.closed or relay.done():
                return False
            relay.cancel()
            return True
