"""The HTTP/1.1 server protocol: ASGI over httptools, one instance per client connection.

uvicorn still runs the listening sockets, the lifespan, the workers and graceful shutdown; this is the
class it creates for each connection (its `http=` setting). uvicorn's own httptools protocol cost
~15 µs of CPU a request more than a bare protocol: a scope dict copied from a template, a dozen
attributes on a cycle object, two regular expressions per response header, an asyncio.Event and a
keep-alive timer armed and cancelled for every request. Here a request costs one small object (a
Cycle, server/cycle.py, which does the ASGI receive and send), the response head is joined once, and
one loop timer keeps every connection's deadlines (server/deadlines.py).

Responses are written through the loop's outbox (switchpoint/outbox.py): the writes of one turn of
the event loop leave together at its end.

A connection may not keep the gateway waiting for ever (server/deadlines.py): its request head, its
request body, a response it does not read and the wait between requests each have a deadline, and
past `max_connections` a new connection is answered 503 at once. A client that goes away before its
response has begun has its request cancelled (as Go's net/http cancels the request's context): a
generation stops waiting on its provider and releases its budget at once."""

from __future__ import annotations

import asyncio
import logging
import urllib.parse
from typing import Any

import httptools
import orjson

from ..outbox import outbox_for
from .cycle import STATUS_LINES, Cycle
from .deadlines import LINGER, ConnectionLimits, deadlines_for, unsent

log = logging.getLogger("switchpoint.server")

ASGI = {"version": "3.0", "spec_version": "2.3"}
BUFFERED_BODY = 65536  # request body held before the socket stops being read
HEAD_LIMIT = 65536  # request line and headers


def error_response(status: int, message: str) -> bytes:
    """A whole response in the API's error envelope, closing the connection."""
    body = orjson.dumps({"error": {"code": status, "message": message}})
    return (STATUS_LINES[status] + b"content-type: application/json\r\ncontent-length: %d\r\n"
            b"connection: close\r\n\r\n%s" % (len(body), body))


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
                 _loop: asyncio.AbstractEventLoop | None = None, limits: ConnectionLimits | None = None) -> None:
        if not config.loaded:
            config.load()
        self.app = config.loaded_app
        self.loop = _loop or asyncio.get_event_loop()
        self.server_state = server_state
        self.app_state = app_state
        self.root_path: str = config.root_path
        self.limit_concurrency: int | None = config.limit_concurrency
        # `limits` comes from the gateway's config (run.py, protocol_factory); run bare under uvicorn,
        # the keep-alive is uvicorn's and the rest are the defaults
        self.limits = limits or ConnectionLimits(idle=float(config.timeout_keep_alive))
        self.deadlines = deadlines_for(self.loop, self.limits)
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
        # what the connection waits on, for its deadline (see `deadline`)
        self.in_head = False  # a request has begun and its head is not complete
        self.in_body = False  # its head is complete and its body is not
        self.head_started: float | None = None
        self.body_started: float | None = None  # None while the body is not being read
        self.body_received = 0  # bytes of body since body_started
        self.idle_since = 0.0
        self.stalled_since = 0.0  # since when the client has read nothing (writes paused)
        self.stalled_buffer = 0  # bytes waiting for it then
        self.linger_until = 0.0  # refused or timed out: the error is out, the socket closes by then

    # -- the transport ---------------------------------------------------------------------------

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        self.transport = transport  # uvloop's transports are not asyncio.Transport subclasses
        self.server_state.connections.add(self)
        self.server = _address(transport.get_extra_info("sockname"))
        self.client = _address(transport.get_extra_info("peername"))
        if transport.get_extra_info("sslcontext") is not None:
            self.scheme = "https"
        cap = self.limits.max_connections
        if cap is not None and len(self.server_state.connections) > cap:
            self.deadlines.refused += 1  # logged once a sweep, not once a connection
            self.deadlines.watch(self, self.refuse(503, "The gateway has too many open connections; "
                                                        "retry shortly."))
            return
        self.idle_since = now = self.loop.time()  # a client that connects and never asks is closed
        self.deadlines.watch(self, now + self.limits.idle)  # like an idle one

    def connection_lost(self, exc: Exception | None) -> None:
        self.server_state.connections.discard(self)
        self.deadlines.discard(self)
        self.outbox.discard(self.transport)
        for cycle in {self.cycle, self.active, *self.pipeline}:
            if cycle is not None and not cycle.complete:
                cycle.abandon()
        self.pipeline.clear()
        self.write_paused = False
        if self.writable is not None and not self.writable.done():
            self.writable.set_result(None)

    def eof_received(self) -> bool | None:
        return None  # close our side too: a half-closed client gets no more responses

    def data_received(self, data: bytes) -> None:
        if self.linger_until:
            return  # answered with an error and closing: what the client still sends is dropped
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
            return
        if self.in_head or self.in_body:  # a request is still arriving (rare: most come in one read)
            self.watch_request()

    def pause_writing(self) -> None:
        self.write_paused = True
        self.stalled_since = now = self.loop.time()
        self.stalled_buffer = unsent(self.transport) if self.transport is not None else 0
        self.deadlines.watch(self, now + self.limits.send)

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
            if self.in_body:  # the pause was ours: the body's clock starts again
                self.body_started = None
                self.watch_request()

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

    def refuse(self, status: int, message: str) -> float:
        """Answer in the error envelope (Connection: close) and stop sending; the client gets LINGER
        seconds to read the answer and close. Closing at once, with the client's request unread,
        would reset the connection and could lose the answer. Returns when to cut the connection."""
        transport = self.transport
        assert transport is not None
        self.flush()
        self.server_state.connections.discard(self)  # on its way out: it takes no one's place
        self.linger_until = self.loop.time() + LINGER
        self.in_head = self.in_body = False
        if transport.is_closing():
            return self.linger_until
        transport.write(error_response(status, message))
        if transport.can_write_eof():
            transport.write_eof()
            self.resume_reading()  # read (and drop) what the client still sends, and see it close
        else:  # TLS: no half-close
            transport.close()
        return self.linger_until

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
        self.in_head = True
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
        self.in_head = False
        self.head_started = None
        self.in_body = True
        self.body_started = None
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
        self.body_received += len(body)
        cycle = self.cycle
        if cycle is None or cycle.complete:
            return
        cycle.body.append(body)
        cycle.buffered += len(body)
        if cycle.buffered > BUFFERED_BODY:
            self.pause_reading()
        cycle.wake()

    def on_message_complete(self) -> None:
        self.in_body = False
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
        self.idle_since = now = self.loop.time()
        self.deadlines.watch(self, now + self.limits.idle)
        if self.in_head:  # the next request began meanwhile: its clock has been running since
            self.deadlines.watch(self, (self.head_started or now) + self.limits.head)

    # -- deadlines -------------------------------------------------------------------------------

    def watch_request(self) -> None:
        """A request's head or body is still to come: start its clock, unless it runs already."""
        if self.in_head:
            if self.head_started is None:
                self.head_started = now = self.loop.time()
                self.deadlines.watch(self, now + self.limits.head)
        elif self.body_started is None and not self.read_paused:
            self.body_started = now = self.loop.time()
            self.body_received = 0
            self.deadlines.watch(self, now + self.limits.body)

    def deadline(self) -> float | None:
        """When the connection times out, as things stand; None while the gateway is the one working
        (running the app, or not reading because the app has not taken the body so far)."""
        limits = self.limits
        if self.linger_until:
            return self.linger_until
        if self.write_paused:
            return self.stalled_since + limits.send
        if self.in_head:  # while an earlier request is answered the clock runs, but a long
            if self.head_started is None or self.active is not None:  # generation is not the
                return None  # client's fault: the deadline applies once that answer is out
            return self.head_started + limits.head
        if self.in_body:
            if self.body_started is None or self.read_paused:
                return None
            return self.body_started + limits.body + self.body_received / limits.body_rate
        if self.active is not None or self.pipeline:
            return None
        return self.idle_since + limits.idle

    def check(self, now: float) -> float | None:
        """Called by the sweep: time out if the deadline has passed. The next time to check, if any."""
        deadline = self.deadline()
        if deadline is None or deadline > now:
            return deadline
        transport = self.transport
        if transport is None:
            return None
        if self.write_paused and not self.linger_until:
            waiting = unsent(transport)
            if waiting < self.stalled_buffer:  # slow, but reading: the clock starts again
                self.stalled_since, self.stalled_buffer = now, waiting
                return now + self.limits.send
            log.debug("closed the connection of %s: it read nothing of its response for %gs",
                     self.client, self.limits.send)
            transport.abort()
            return None
        if self.linger_until:
            transport.abort()
            return None
        if self.in_head:
            log.debug("408 to %s: request head incomplete after %gs", self.client, self.limits.head)
            return self.refuse(408, f"The request's headers did not arrive within {self.limits.head:g} seconds.")
        if self.in_body:
            log.debug("408 to %s: request body too slow (%d bytes in %gs)", self.client, self.body_received,
                     now - (self.body_started or now))
            cycle = self.cycle
            if cycle is not None and cycle.started:  # already answered (e.g. 413): just close
                self.close()
                return None
            if cycle is not None:
                cycle.abandon()
            return self.refuse(408, "The request body arrived too slowly.")
        self.close()  # idle
        return None


class HeadersTooLargeError(Exception):
    """Raised from a parser callback to stop parsing; answered with 431."""


def _address(info: Any) -> tuple[str, int] | None:
    if isinstance(info, (tuple, list)) and len(info) >= 2:
        return str(info[0]), int(info[1])
    return None
