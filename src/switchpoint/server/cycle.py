"""One request and its response on a connection of server/protocol.py: the ASGI `receive` and `send`
of one app call, with HTTP/1.1 framing (Content-Length or chunked) and the error fallbacks."""

from __future__ import annotations

import asyncio
import http
import logging
from typing import TYPE_CHECKING, Any

import orjson

if TYPE_CHECKING:
    from .protocol import HttpProtocol

log = logging.getLogger("switchpoint.server")

DISCONNECT = {"type": "http.disconnect"}


def _status_line(code: int) -> bytes:
    try:
        phrase = http.HTTPStatus(code).phrase
    except ValueError:
        phrase = ""
    return f"HTTP/1.1 {code} {phrase}\r\n".encode()


STATUS_LINES = {code: _status_line(code) for code in range(100, 600)}
NO_BODY_STATUS = frozenset({204, 304, *range(100, 200)})


class Cycle:
    """One request and its response: the ASGI `receive` and `send` of one app call."""

    __slots__ = ("conn", "scope", "keep_alive", "expect_continue", "body", "buffered", "more_body", "delivered",
                 "waiter", "started", "complete", "disconnected", "chunked", "remaining", "bodiless", "task")

    def __init__(self, conn: HttpProtocol, scope: dict[str, Any], keep_alive: bool, expect_continue: bool) -> None:
        self.conn = conn
        self.scope = scope
        self.keep_alive = keep_alive
        self.expect_continue = expect_continue
        self.body: list[bytes] = []
        self.buffered = 0
        self.more_body = True
        self.delivered = False  # the last of the request body has been handed to the app
        self.waiter: asyncio.Future[None] | None = None
        self.started = False
        self.complete = False
        self.disconnected = False
        self.chunked = False
        self.remaining = 0
        self.bodiless = False  # HEAD, 204, 304: a body given by the app is not sent
        self.task: asyncio.Task[None] | None = None

    def wake(self) -> None:
        waiter = self.waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def abandon(self) -> None:
        """The client went away (or timed out) before this response was complete: `receive` answers
        http.disconnect, sends are dropped, and an app that has not begun its response is cancelled,
        so a generation stops waiting on its provider at once. Go's net/http does the same with the
        request's context; a stream already under way ends through its http.disconnect instead."""
        self.disconnected = True
        self.wake()
        task = self.task
        if task is not None and not self.started and not task.done():
            task.cancel()

    async def wait(self) -> None:
        self.waiter = self.conn.loop.create_future()
        try:
            await self.waiter
        finally:
            self.waiter = None

    async def run(self, app: Any) -> None:
        try:
            await app(self.scope, self.receive, self.send)
        except BaseException as exc:
            if self.disconnected and isinstance(exc, asyncio.CancelledError):
                log.debug("%s %s cancelled: the client went away", self.scope["method"], self.scope["path"])
                return  # cancelled by abandon(): nothing to answer, nobody to answer
            log.error("Exception in ASGI application", exc_info=exc)
            if not self.started:
                await self.send_error()
            else:
                self.conn.close()
            if not isinstance(exc, Exception):
                raise
        else:
            if not self.started and not self.disconnected:
                log.error("ASGI callable returned without starting response.")
                await self.send_error()
            elif not self.complete and not self.disconnected:
                log.error("ASGI callable returned without completing response.")
                self.conn.close()
        finally:
            self.conn.server_state.tasks.discard(self.task)

    async def send_error(self) -> None:
        self.keep_alive = False
        body = orjson.dumps({"error": {"code": 500, "message": "Internal Server Error"}})
        await self.send({"type": "http.response.start", "status": 500,
                         "headers": [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(body))]})
        await self.send({"type": "http.response.body", "body": body})

    async def receive(self) -> dict[str, Any]:
        conn = self.conn
        if self.expect_continue and not self.started:
            self.expect_continue = False
            conn.write(b"HTTP/1.1 100 Continue\r\n\r\n")
        if not self.disconnected and not self.complete and (self.delivered or (not self.body and self.more_body)):
            conn.resume_reading()  # nothing to hand over yet: more body, or after it, a disconnect
            await self.wait()
        if self.disconnected or self.complete:
            return DISCONNECT
        body, self.body = self.body, []
        self.buffered = 0
        conn.resume_reading()
        self.delivered = not self.more_body
        return {"type": "http.request", "body": body[0] if len(body) == 1 else b"".join(body),
                "more_body": self.more_body}

    async def send(self, message: dict[str, Any]) -> None:
        conn = self.conn
        if conn.write_paused and not self.disconnected:
            await conn.drain()
        if self.disconnected:
            return
        kind = message["type"]
        if not self.started:
            if kind != "http.response.start":
                raise RuntimeError(f"Expected ASGI message 'http.response.start', but got '{kind}'.")
            self.start_response(message["status"], message.get("headers", ()))
        elif not self.complete:
            if kind != "http.response.body":
                raise RuntimeError(f"Expected ASGI message 'http.response.body', but got '{kind}'.")
            self.write_body(message.get("body", b""), message.get("more_body", False))
        else:
            raise RuntimeError(f"Unexpected ASGI message '{kind}' sent, after response already completed.")

    def start_response(self, status: int, headers: Any) -> None:
        framed = chunked = closing = False
        remaining = 0
        parts = []
        for name, value in headers:
            name = name.lower()
            if name == b"content-length":
                remaining = int(value)
                framed = True
            elif name == b"transfer-encoding" and value.lower() == b"chunked":
                chunked = framed = True
            elif name == b"connection" and b"close" in value.lower():
                closing = True
            parts += (name, b": ", value, b"\r\n")
        block = b"".join(parts)
        lines = len(parts) // 4
        if block.count(b"\n") != lines or block.count(b"\r") != lines:  # no header may start another
            raise RuntimeError("Invalid HTTP header: a name or value contains a line break.")
        self.started = True
        self.expect_continue = False
        self.remaining = remaining
        self.bodiless = self.scope["method"] == "HEAD" or status in NO_BODY_STATUS
        if not framed and not self.bodiless:
            chunked = True
            block += b"transfer-encoding: chunked\r\n"
        self.chunked = chunked
        if closing:
            self.keep_alive = False
        elif not self.keep_alive:
            block += b"connection: close\r\n"
        conn = self.conn
        line = STATUS_LINES.get(status) or _status_line(status)
        conn.write(line + conn.defaults.get(conn.server_state.default_headers) + block + b"\r\n")

    def write_body(self, body: bytes, more_body: bool) -> None:
        conn = self.conn
        if self.bodiless:
            pass
        elif self.chunked:
            if body:
                conn.write(b"%x\r\n%s\r\n" % (len(body), body))
            if not more_body:
                conn.write(b"0\r\n\r\n")
        else:
            self.remaining -= len(body)
            if self.remaining < 0:
                raise RuntimeError("Response content longer than Content-Length")
            if body:
                conn.write(body)
        if more_body:
            return
        if self.remaining > 0 and not self.chunked and not self.bodiless:
            raise RuntimeError("Response content shorter than Content-Length")
        self.complete = True
        self.wake()
        conn.finished(self)
