"""Server-sent events for streamed generations: keep-alive frames while the upstream is silent, an
error frame for failures after the first byte, and upstream cancellation on client disconnect.

The relay is shared by every inbound API: each supplies a `StreamSurface` (its keep-alive frame and a
renderer per stream, made once the serving endpoint is known); the OpenAI chat one is `ChatSurface`."""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any, Protocol

from ..engine import Engine, RequestContext
from ..engine.cache import StreamTape
from ..engine.stream import mid_stream_error
from ..errors import SwitchpointError, UpstreamError
from ..generation import GenerationRecord
from ..net.loops import PerLoop
from ..protocols.openai_chat.render import DONE, KEEPALIVE, ChunkRenderer
from ..types import ChatRequest, Delta, Usage
from .http import STREAMED, Receive, Send, Streamed

log = logging.getLogger("switchpoint.server")
SSE_HEADERS = [(b"content-type", b"text/event-stream"), (b"cache-control", b"no-cache"),
               (b"x-accel-buffering", b"no")]


class StreamRenderer(Protocol):
    """One stream's bytes in an inbound API's framing."""

    def batch(self, deltas: list[Delta]) -> bytes: ...

    def error(self, err: SwitchpointError) -> bytes: ...  # the closing bytes of a failed stream

    def finish(self, usage: Usage, record: GenerationRecord) -> bytes: ...  # the closing bytes


class StreamSurface(Protocol):
    keepalive: bytes  # written while the upstream is silent

    def renderer(self, record: GenerationRecord | None) -> StreamRenderer:
        """The renderer once the stream started (`record` of the serving endpoint), or with None for a
        failure before the first output after keep-alives already committed the response."""
        ...


class ChatRenderer:
    """OpenAI chat (and legacy completion) chunks: `data:` lines, then usage and `[DONE]`."""

    __slots__ = ("chunks", "hide")

    def __init__(self, chunks: ChunkRenderer, hide: bool) -> None:
        self.chunks = chunks
        self.hide = hide

    def batch(self, deltas: list[Delta]) -> bytes:
        if self.hide:
            deltas = [d for d in (delta.without_reasoning() for delta in deltas) if d is not None]
        delta = self.chunks.delta
        return b"".join([delta(d) for d in deltas])

    def error(self, err: SwitchpointError) -> bytes:
        return self.chunks.error(err) + DONE

    def finish(self, usage: Usage, record: GenerationRecord) -> bytes:
        return self.chunks.usage(usage, record.cost_nanos, record.markup_nanos, record.completion_nanos,
                                 record.router, cache_hit=record.cache_hit) + DONE


class ChatSurface:
    __slots__ = ("chat", "generation_id", "created")
    keepalive = KEEPALIVE

    def __init__(self, chat: ChatRequest, generation_id: str, created: int) -> None:
        self.chat = chat
        self.generation_id = generation_id
        self.created = created

    def renderer(self, record: GenerationRecord | None) -> ChatRenderer:
        chat = self.chat
        model, provider = (record.model, record.provider) if record is not None else (chat.model, None)
        return ChatRenderer(ChunkRenderer(self.generation_id, self.created, model, provider, chat.legacy_prompt),
                            chat.hides_reasoning)


class SSEWriter:
    __slots__ = ("send", "headers", "opened", "busy", "last", "closed", "keepalive_frame")

    def __init__(self, send: Send, headers: list[tuple[bytes, bytes]], keepalive: bytes = KEEPALIVE) -> None:
        self.send = send
        self.headers = headers
        self.keepalive_frame = keepalive
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
            await self.write(self.keepalive_frame)

    async def close(self, data: bytes = b"") -> None:
        if not self.opened:
            await self.open()
        self.closed = True
        await self.send({"type": "http.response.body", "body": data, "more_body": False})


async def stream_chat(engine: Engine, chat: ChatRequest, ctx: RequestContext, receive: Receive, send: Send,
                      *, created: int, interval: float, headers: list[tuple[bytes, bytes]] | None = None,
                      tape: StreamTape | None = None) -> SwitchpointError | None:
    """Relay a streamed chat generation as OpenAI chunks (see `stream_generation`)."""
    return await stream_generation(engine, chat, ctx, receive, send, ChatSurface(chat, ctx.generation_id, created),
                                   interval=interval, headers=headers, tape=tape)


async def stream_generation(engine: Engine, chat: ChatRequest, ctx: RequestContext, receive: Receive, send: Send,
                            surface: StreamSurface, *, interval: float,
                            headers: list[tuple[bytes, bytes]] | None = None,
                            tape: StreamTape | None = None) -> SwitchpointError | None:
    """Relay a streamed generation. Returns an error to render as a normal response when the
    generation failed before anything was sent; otherwise writes the whole response itself.
    A `tape` keeps the delta batches relayed and, once the generation completed, its record and usage.

    The relay runs in the request's own task; one more task waits for the client to go away (and then
    cancels the relay), and the loop's keep-alive timer sends comments while the upstream is silent. A held
    stream costs two tasks, not a timer or a task per keep-alive interval."""
    writer = SSEWriter(send, [(b"x-generation-id", ctx.generation_id.encode()), *(headers or ())],
                       surface.keepalive)
    relay = asyncio.current_task()
    assert relay is not None
    watcher = asyncio.ensure_future(_watch(receive, relay, writer))
    keepalive = keepalive_for(interval)
    keepalive.add(writer)
    try:
        return await _relay(engine, chat, ctx, writer, surface, tape)
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


async def _relay(engine: Engine, chat: ChatRequest, ctx: RequestContext, writer: SSEWriter,
                 surface: StreamSurface, tape: StreamTape | None) -> SwitchpointError | None:
    stream = engine.stream(chat, ctx)
    try:
        try:
            await stream.start()  # meanwhile keep-alives commit the response to 200: later failures are chunks
        except SwitchpointError as err:
            if not writer.opened:
                writer.closed = True  # the error goes out as a normal response; no keep-alive may follow
                return err
            await writer.close(surface.renderer(None).error(err))
            return None
        record = stream.record
        renderer = surface.renderer(record)
        overhead = record.overhead_ms((time.monotonic() - ctx.started) * 1000)
        await writer.open([(b"x-switchpoint-attempts", str(len(record.attempts)).encode()),
                           (b"x-switchpoint-overhead-ms", f"{overhead:.3f}".encode())])
        try:
            async for batch in stream.batches():
                if tape is not None:
                    tape.add(batch)  # as the engine made it: a replay renders (and hides) it again
                data = renderer.batch(batch)
                if not data:
                    continue
                await writer.write(data)
        except UpstreamError as exc:
            failure = mid_stream_error(exc, record.provider or "")
            await stream.finish(error=failure)
            await writer.close(renderer.error(failure))
            return None
        except Exception:  # a bug must still end the stream properly and be recorded
            log.exception("stream relay failed for %s", ctx.generation_id)
            failure = SwitchpointError("Internal Server Error")
            await stream.finish(error=failure)
            await writer.close(renderer.error(failure))
            return None
        usage = await stream.finish()
        closing = renderer.finish(usage, record)
        if tape is not None:
            tape.finished(record, usage)
        on_finish = getattr(surface, "on_finish", None)
        if on_finish is not None:  # a surface that keeps state stores it before the client sees the end
            await on_finish()
        await writer.close(closing)
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


async def send_replay(send: Send, headers: list[tuple[bytes, bytes]], renderer: StreamRenderer,
                      batches: list[list[Delta]], usage: Usage, record: GenerationRecord) -> Streamed:
    """A cached stream in the inbound API's framing, by the renderer a live stream uses (under the hit's
    record: its new id, billed 0, `cache_hit`): one chunk per stored batch, then the closing bytes."""
    await send({"type": "http.response.start", "status": 200, "headers": [*SSE_HEADERS, *headers]})
    for batch in batches:
        data = renderer.batch(batch)
        if data:
            await send({"type": "http.response.body", "body": data, "more_body": True})
    await send({"type": "http.response.body", "body": renderer.finish(usage, record), "more_body": True})
    await send({"type": "http.response.body", "body": b"", "more_body": False})
    return STREAMED
