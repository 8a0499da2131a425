"""The HTTP/1.1 server protocol: ASGI over httptools, one instance per client connection.

uvicorn still runs the listening sockets, the lifespan, the workers and graceful shutdown; this is the
class it creates for each connection (its `http=` setting). uvicorn's own httptools protocol cost
~15 µs of CPU a request more than a bare protocol: a scope dict copied from a template, a dozen
attributes on a cycle object, two regular expressions per response header, an asyncio.Event and a
keep-alive timer armed and cancelled for every request. Here a request costs one small object (a
Cycle, server/cycle.py, which does the ASGI receive and send), the response head is joined once, and
one loop timer closes every idle keep-alive connection.

Responses are written through the loop's outbox (switchpoint/net/outbox.py): the writes of one turn of
the event loop leave together at its end."""

from __future__ import annotations

import asyncio
import logging
import urllib.parse
from typing import Any

import httptools
import orjson

from .cycle import STATUS_LINES, Cycle
from .loops import PerLoop
from .outbox import outbox_for

log = logging.getLogger("switchpoint.server")

ASGI = {"version": "3.0", "spec_version": "2.3"}
BUFFERED_BODY = 65536  # request body held before the socket stops being read
HEAD_LIMIT = 65536  # request line and headers
IDLE_CHECK = 1.0  # seconds between sweeps for idle keep-alive connections


def error_response(status: int, message: str) -> bytes:
    """A whole response in the API's error envelope, closing the connection."""
    body = orjson.dumps({"error": {"code": status, "message": message}})
    return (STATUS_LINES[status] + b"content-type: application/json\r\ncontent-length: %d\r\n"
            b"connection: close\r\n\r\n%s" % (len(body), body))


class IdleConnections:
    """Keep-alive connections waiting for their next request, closed by one loop timer once they have
    waited `timeout` seconds (give or take IDLE_CHECK): no timer is armed and cancelled per request."""

    __slots__ = ("loop", "timeout", "waiting", "handle")

    def __init__(self, loop: asyncio.AbstractEventLoop, timeout: float) -> None:
        self.loop = loop
        self.timeout = timeout
        self.waiting: dict[HttpProtocol, float] = {}  # insertion order is deadline order
        self.handle: asyncio.TimerHandle | None = None

    def add(self, conn: HttpProtocol) -> None:
        self.waiting[conn] = self.loop.time() + self.timeout
        if self.handle is None:
            self.handle = self.loop.call_later(min(IDLE_CHECK, self.timeout), self.sweep)

    def discard(self, conn: HttpProtocol) -> None:
        self.waiting.pop(conn, None)

    def sweep(self) -> None:
        now = self.loop.time()
        expired = []
        for conn, deadline in self.waiting.items():
            if deadline > now:
                break
            expired.append(conn)
        for conn in expired:
            del self.waiting[conn]
            conn.close()
        self.handle = self.loop.call_later(min(IDLE_CHECK, self.timeout), self.sweep) if self.waiting else None


_idle: PerLoop[IdleConnections] = PerLoop(IdleConnections)  # type: ignore[arg-type]


class DefaultHeaders:
    """uvicorn's default response headers (the Date header), replaced by the server once a second,
    encoded once per replacement. One for the process: a second server's list is told apart by
    identity and encoded in its turn."""

    __slots__ = ("source", "encoded")

    def __init__(self) -> None:
        self.source: list[tuple[bytes, bytes]] | None = None
        self.encoded = b""

    def get(self, headers: list[tuple[bytes, bytes]]) -> bytes:
        if headers is not self.source:
            self.source = headers
            self.encoded = b"".join(b"%s: %s\r\n" % (name, value) for name, value in headers)
        return self.encoded


DEFAULT_HEADERS = DefaultHeaders()


class HttpProtocol(asyncio.Protocol):
    """One client connection. uvicorn constructs it with its config and shared server state."""

    def __init__(self, config: Any, server_state: Any, app_state: dict[str, Any],
                 _loop: asyncio.AbstractEventLoop | None = None) -> None:
        if not config.loaded:
            config.load()
        self.app = config.loaded_app
        self.loop = _loop or asyncio.get_event_loop()
        self.server_state = server_state
        self.app_state = app_state
        self.root_path: str = config.root_path
        self.limit_concurrency: int | None = config.limit_concurrency
        self.idle = _idle.get(self.loop, float(config.timeout_keep_alive))
        self.defaults = DEFAULT_HEADERS
        self.outbox = outbox_for(self.loop)
        self.parser = httptools.HttpRequestParser(self)
        # answer the first of several pipelined requests even when the client closes after sending
        self.parser.set_dangerous_leniencies(lenient_data_after_close=True)
        self.transport: asyncio.Transport | None = None
        self.server: tuple[str, int] | None = None
        self.client: tuple[str, int] | None = None
        self.scheme = "http"
        self.cycle: Cycle | None = None  # the request being parsed (or the last one)
        self.active: Cycle | None = None  # the request whose app is running
        self.pipeline: list[Cycle] = []  # parsed requests waiting for the active one to finish
        self.url = b""
        self.headers: list[tuple[bytes, bytes]] = []
        self.head_size = 0
        self.expect_continue = False
        self.read_paused = False
        self.write_paused = False
        self.writable: asyncio.Future[None] | None = None

    # -- the transport ---------------------------------------------------------------------------

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        self.transport = transport  # uvloop's transports are not asyncio.Transport subclasses
        self.server_state.connections.add(self)
        self.server = _address(transport.get_extra_info("sockname"))
        self.client = _address(transport.get_extra_info("peername"))
        if transport.get_extra_info("sslcontext") is not None:
            self.scheme = "https"
        self.idle.add(self)  # a client that connects and never asks is closed like an idle one

    def connection_lost(self, exc: Exception | None) -> None:
        self.server_state.connections.discard(self)
        self.idle.discard(self)
        self.outbox.discard(self.transport)
        for cycle in {self.cycle, self.active, *self.pipeline}:
            if cycle is not None and not cycle.complete:
                cycle.disconnected = True
                cycle.wake()
        self.pipeline.clear()
        self.write_paused = False
        if self.writable is not None and not self.writable.done():
            self.writable.set_result(None)

    def eof_received(self) -> bool | None:
        return None  # close our side too: a half-closed client gets no more responses

    def data_received(self, data: bytes) -> None:
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            if self.cycle is not None:  # no protocol switch: the request is answered, then the
                self.cycle.keep_alive = False  # connection closes
        except httptools.HttpParserError:  # also what an exception raised in a callback becomes
            if self.head_size > HEAD_LIMIT:
                self.reject(431, "The request's headers are too large.")
            else:
                self.reject(400, "Invalid HTTP request received.")

    def pause_writing(self) -> None:
        self.write_paused = True

    def resume_writing(self) -> None:
        self.write_paused = False
        if self.writable is not None and not self.writable.done():
            self.writable.set_result(None)
        self.writable = None

    async def drain(self) -> None:
        if self.writable is None:
            self.writable = self.loop.create_future()
        await self.writable

    def pause_reading(self) -> None:
        if not self.read_paused and self.transport is not None:
            self.read_paused = True
            self.transport.pause_reading()

    def resume_reading(self) -> None:
        if self.read_paused and self.transport is not None:
            self.read_paused = False
            self.transport.resume_reading()

    def write(self, data: bytes) -> None:
        self.outbox.write(self.transport, data)

    def flush(self) -> None:
        self.outbox.flush_one(self.transport)

    def close(self) -> None:
        self.flush()
        if self.transport is not None and not self.transport.is_closing():
            self.transport.close()

    def reject(self, status: int, message: str) -> None:
        """A request that cannot be parsed: answer in the error envelope and close."""
        log.warning("%s from %s: %s", status, self.client, message)
        self.flush()
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(error_response(status, message))
            self.transport.close()

    def shutdown(self) -> None:
        """The server is stopping: close now if idle, else after the response in progress."""
        active = self.active
        if active is None or active.complete:
            self.close()
        else:
            active.keep_alive = False
            for cycle in self.pipeline:
                cycle.keep_alive = False

    # -- parser callbacks ------------------------------------------------------------------------

    def on_message_begin(self) -> None:
        self.idle.discard(self)
        self.url = b""
        self.headers = []
        self.head_size = 0
        self.expect_continue = False

    def on_url(self, url: bytes) -> None:
        self.url += url
        self.head_size += len(url)
        if self.head_size > HEAD_LIMIT:
            raise HeadersTooLargeError

    def on_header(self, name: bytes, value: bytes) -> None:
        name = name.lower()
        self.headers.append((name, value))
        self.head_size += len(name) + len(value)
        if self.head_size > HEAD_LIMIT:
            raise HeadersTooLargeError
        if name == b"expect" and value.lower() == b"100-continue":
            self.expect_continue = True

    def on_headers_complete(self) -> None:
        parser = self.parser
        version = parser.get_http_version()
        url = self.url
        if url[:1] == b"/" and b"#" not in url:
            raw_path, _, query = url.partition(b"?")
        else:  # absolute form (a proxy-style request line), or a fragment to drop
            parsed = httptools.parse_url(url)
            raw_path, query = parsed.path or b"/", parsed.query or b""
        path = raw_path.decode("latin-1")
        if "%" in path:
            path = urllib.parse.unquote(path)
        scope = {
            "type": "http", "asgi": ASGI, "http_version": version, "server": self.server, "client": self.client,
            "scheme": self.scheme, "method": parser.get_method().decode("ascii"), "root_path": self.root_path,
            "path": self.root_path + path, "raw_path": self.root_path.encode("latin-1") + raw_path,
            "query_string": query, "headers": self.headers,
        }
        if self.app_state:
            scope["state"] = self.app_state.copy()
        cycle = Cycle(self, scope, version != "1.0" and parser.should_keep_alive(), self.expect_continue)
        self.cycle = cycle
        if self.active is None:
            self.start(cycle)
        else:  # pipelined: it waits its turn, and the socket is not read until then
            self.pipeline.append(cycle)
            self.pause_reading()

    def on_body(self, body: bytes) -> None:
        cycle = self.cycle
        if cycle is None or cycle.complete:
            return
        cycle.body.append(body)
        cycle.buffered += len(body)
        if cycle.buffered > BUFFERED_BODY:
            self.pause_reading()
        cycle.wake()

    def on_message_complete(self) -> None:
        cycle = self.cycle
        if cycle is None or cycle.complete:
            return
        cycle.more_body = False
        cycle.wake()

    # -- requests --------------------------------------------------------------------------------

    def start(self, cycle: Cycle) -> None:
        self.active = cycle
        state = self.server_state
        limit = self.limit_concurrency
        if limit is not None and (len(state.connections) >= limit or len(state.tasks) >= limit):
            log.warning("Exceeded concurrency limit.")
            self.write(error_response(503, "The gateway is at its concurrency limit; retry shortly."))
            cycle.started = cycle.complete = True
            cycle.keep_alive = False
            self.finished(cycle)
            return
        cycle.task = self.loop.create_task(cycle.run(self.app))
        state.tasks.add(cycle.task)

    def finished(self, cycle: Cycle) -> None:
        """The response of `cycle` has been written whole."""
        self.server_state.total_requests += 1
        self.active = None
        transport = self.transport
        if transport is None or transport.is_closing():
            return
        if not cycle.keep_alive:
            self.close()
            return
        if self.pipeline:
            self.start(self.pipeline.pop(0))
            if not self.pipeline:
                self.resume_reading()
            return
        self.resume_reading()
        self.idle.add(self)


class HeadersTooLargeError(Exception):
    """Raised from a parser callback to stop parsing; answered with 431."""


def _address(info: Any) -> tuple[str, int] | None:
    if isinstance(info, (tuple, list)) and len(info) >= 2:
        return str(info[0]), int(info[1])
    return None
