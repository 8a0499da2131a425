"""One HTTP/1.1 client connection to an upstream: asyncio's protocol API and httptools' parser.

A connection carries one request at a time. Its response arrives through parser callbacks into a
list of body chunks that the reader takes; a reader waits on one future, armed with a timer, until
something arrives (the head, body bytes, the end) or the connection fails. A connection whose
response was read to its end, and that the upstream did not ask to close, goes back to the pool."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import httptools

from ..errors import CONNECT, MALFORMED, UpstreamError

HIGH_WATER = 1 << 18  # buffered body bytes at which reading from the socket pauses until the reader catches up
TICK = 0.05  # seconds between checks of the read deadlines: a timeout fires up to this much late


class Headers(dict[str, str]):
    """Response headers with lower-cased names; lookups ignore case."""

    __slots__ = ()

    def get(self, name: str, default: str | None = None) -> str | None:  # type: ignore[override]
        return dict.get(self, name.lower(), default)

    def __getitem__(self, name: str) -> str:
        return dict.__getitem__(self, name.lower())

    def __contains__(self, name: object) -> bool:
        return dict.__contains__(self, name.lower()) if isinstance(name, str) else False


class Deadlines:
    """The read deadlines of every waiting connection, checked by one loop timer every TICK seconds.
    A timer per wait would cost ~700 bytes for as long as a stream is held, and a timer's creation and
    cancellation for every read."""

    __slots__ = ("loop", "waiting", "handle")

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.waiting: dict[Connection, float] = {}
        self.handle: asyncio.TimerHandle | None = None

    def add(self, conn: Connection, timeout: float) -> None:
        self.waiting[conn] = self.loop.time() + timeout
        if self.handle is None:
            self.handle = self.loop.call_later(TICK, self.check)

    def discard(self, conn: Connection) -> None:
        self.waiting.pop(conn, None)

    def check(self) -> None:
        now = self.loop.time()
        for conn in [c for c, deadline in self.waiting.items() if deadline <= now]:
            del self.waiting[conn]
            conn.expire()
        self.handle = self.loop.call_later(TICK, self.check) if self.waiting else None


class Connection(asyncio.Protocol):
    __slots__ = ("loop", "key", "deadlines", "transport", "parser", "on_lost", "status", "headers", "chunks", "buffered",
                 "waiter", "received", "head_done", "framed", "complete", "keep_alive", "error", "closed", "paused",
                 "busy", "idle_since")

    def __init__(self, loop: asyncio.AbstractEventLoop, key: tuple, deadlines: Deadlines,
                 on_lost: Callable[[Connection], None]) -> None:
        self.loop = loop
        self.key = key
        self.deadlines = deadlines
        self.on_lost = on_lost
        self.transport: asyncio.Transport | None = None
        self.parser = httptools.HttpResponseParser(self)
        self.closed = False
        self.paused = False
        self.busy = True  # a request is in flight (False while the connection waits in the pool)
        self.idle_since = 0.0
        self.begin()

    def begin(self) -> None:
        """Forget the previous response: the next one starts."""
        self.status = 0
        self.headers = Headers()
        self.chunks: list[bytes] = []
        self.buffered = 0
        self.waiter: asyncio.Future[None] | None = None
        self.received = False  # any byte of this response arrived
        self.head_done = False
        self.framed = False  # the response says where its body ends (Content-Length or chunked)
        self.complete = False
        self.keep_alive = False
        self.error: UpstreamError | None = None

    # -- asyncio protocol -------------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        if not self.busy:  # bytes on an idle connection: nothing can be read from it reliably any more
            self.abort()
            return
        self.received = True
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError as exc:
            self.fail(UpstreamError(MALFORMED, f"the provider sent an invalid HTTP response: {exc}"))
            self.abort()

    def eof_received(self) -> bool:
        if self.head_done and not self.framed and not self.complete:
            self.on_message_complete()  # a body without a length ends when the connection does
            self.keep_alive = False
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if not self.complete:
            reason = f": {exc.__class__.__name__}: {exc}" if exc is not None else ""
            self.fail(UpstreamError(CONNECT, f"the provider closed the connection{reason}"))
        self.on_lost(self)

    # -- httptools parser callbacks ---------------------------------------------------------------

    def on_header(self, name: bytes, value: bytes) -> None:
        key = name.decode("latin-1").lower()
        text = value.decode("latin-1")
        headers = self.headers
        previous = dict.get(headers, key)
        dict.__setitem__(headers, key, text if previous is None else f"{previous}, {text}")

    def on_headers_complete(self) -> None:
        status = self.parser.get_status_code()
        if status < 200:  # an interim response (100 Continue, 103 Early Hints): the real one follows
            self.headers = Headers()
            return
        self.status = status
        headers = self.headers
        self.framed = dict.__contains__(headers, "content-length") or dict.__contains__(headers, "transfer-encoding")
        self.head_done = True
        self.wake()

    def on_body(self, body: bytes) -> None:
        self.chunks.append(body)
        self.buffered += len(body)
        if self.buffered > HIGH_WATER and not self.paused and self.transport is not None:
            self.paused = True
            self.transport.pause_reading()
        self.wake()

    def on_message_complete(self) -> None:
        if not self.head_done:  # the end of an interim response
            return
        self.complete = True
        self.keep_alive = self.parser.should_keep_alive()
        self.wake()

    # -- the reader's side ------------------------------------------------------------------------

    def wake(self) -> None:
        waiter = self.waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def fail(self, error: UpstreamError) -> None:
        if self.error is None:
            self.error = error
        self.wake()

    async def wait(self, timeout: float) -> None:
        """Until the connection has news (head, body bytes, end, failure); TimeoutError after
        `timeout` seconds of silence."""
        if self.error is not None:
            raise self.error
        self.waiter = waiter = self.loop.create_future()
        self.deadlines.add(self, timeout)
        try:
            await waiter
        finally:
            self.deadlines.discard(self)
            self.waiter = None
        if self.error is not None:
            raise self.error

    def expire(self) -> None:
        waiter = self.waiter
        if waiter is not None and not waiter.done():
            waiter.set_exception(TimeoutError())

    def take(self) -> bytes:
        """The body bytes received so far, resuming the socket if it was paused."""
        chunks = self.chunks
        data = chunks[0] if len(chunks) == 1 else b"".join(chunks)
        self.chunks = []
        self.buffered = 0
        if self.paused and self.transport is not None:
            self.paused = False
            self.transport.resume_reading()
        return data

    def reusable(self) -> bool:
        return self.complete and self.keep_alive and not self.closed and self.error is None

    def abort(self) -> None:
        """Drop the connection at once (an abandoned response: the upstream stops generating)."""
        self.closed = True
        if self.transport is not None:
            self.transport.abort()
