"""A real HTTP server on loopback standing in for providers: replays recorded payloads, injects
faults (status codes with real error bodies, delays, stalls, cut streams, resets, malformed JSON)
and records every request it received."""

from __future__ import annotations

import asyncio
import json
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import web

FIXTURES = Path(__file__).parent / "fixtures"


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


@dataclass
class Reply:
    status: int = 200
    body: bytes = b""
    chunks: list[bytes | float] | None = None   # streamed body: bytes are written, floats are pauses
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0                           # before the status line
    hold: float = 0.0                            # before the status line, watching for the client to leave
    cut: bool = False                            # drop the connection after the chunks
    reset: bool = False                          # drop the connection without answering
    content_type: str = "application/json"
    echo: bool = False                           # body (or each chunk) formatted with the request's headers

    @classmethod
    def json(cls, data: Any, status: int = 200, **kw: Any) -> Reply:
        return cls(status=status, body=json.dumps(data).encode(), **kw)

    @classmethod
    def file(cls, name: str, status: int = 200, **kw: Any) -> Reply:
        return cls(status=status, body=fixture(name), **kw)

    @classmethod
    def sse(cls, name_or_bytes: str | bytes, *, split: int = 0, pause: float = 0.0, **kw: Any) -> Reply:
        """Stream an SSE body event by event (or in `split`-byte pieces), `pause` seconds apart."""
        raw = fixture(name_or_bytes) if isinstance(name_or_bytes, str) else name_or_bytes
        if split:
            pieces = [raw[i:i + split] for i in range(0, len(raw), split)]
        else:
            pieces = [p + b"\n\n" for p in raw.replace(b"\r\n", b"\n").split(b"\n\n") if p]
        chunks: list[bytes | float] = []
        for piece in pieces:
            chunks.append(piece)
            if pause:
                chunks.append(pause)
        return cls(chunks=chunks, content_type="text/event-stream", **kw)


    @classmethod
    def events(cls, name_or_bytes: str | bytes, *, content_type: str = "text/event-stream", **kw: Any) -> Reply:
        """Stream an SSE body event by event with its bytes untouched (Gemini's CRLF separators kept)."""
        raw = fixture(name_or_bytes) if isinstance(name_or_bytes, str) else name_or_bytes
        pieces = [p for p in re.split(rb"(?<=\r\n\r\n)|(?<=\n\n)(?!\r)", raw) if p]
        return cls(chunks=list(pieces), content_type=content_type, **kw)

    @classmethod
    def ndjson(cls, name_or_bytes: str | bytes, **kw: Any) -> Reply:
        """Stream an NDJSON body (Ollama) one line at a time."""
        raw = fixture(name_or_bytes) if isinstance(name_or_bytes, str) else name_or_bytes
        return cls(chunks=list(raw.splitlines(keepends=True)), content_type="application/x-ndjson", **kw)


@dataclass
class Received:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes

    @property
    def json(self) -> Any:
        return json.loads(self.body) if self.body else None


class Upstream:
    """Replies are queued per path (first in, first out); `always` sets the reply used when the
    queue is empty. Unknown paths answer 404 in the OpenAI error shape."""

    def __init__(self) -> None:
        self._queues: dict[str, list[Reply]] = {}
        self._always: dict[str, Reply] = {}
        self._auth: dict[str, tuple[str, str, Reply]] = {}
        self._scripts: dict[str, Callable[[Received], Reply]] = {}
        self._lock = threading.Lock()
        self.received: list[Received] = []
        self.disconnects = 0       # streams whose client went away mid-body
        self.completed = 0         # replies fully written
        self._runner: web.AppRunner | None = None
        self.port = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def queue(self, path: str, *replies: Reply) -> None:
        with self._lock:
            self._queues.setdefault(path, []).extend(replies)

    def always(self, path: str, reply: Reply) -> None:
        with self._lock:
            self._always[path] = reply

    def script(self, path: str, answer: Callable[[Received], Reply]) -> None:
        """Answer every request to `path` (when its queue is empty) with `answer(request)`: a scripted
        upstream for clients whose sequence of requests is their own (agents)."""
        with self._lock:
            self._scripts[path] = answer

    def require(self, prefix: str, header: str, value: str, rejection: Reply) -> None:
        """Answer `rejection` to any request under `prefix` whose `header` is not `value`, as a
        provider refuses a bad credential (Anthropic x-api-key, Gemini x-goog-api-key, Azure api-key)."""
        with self._lock:
            self._auth[prefix] = (header.lower(), value, rejection)

    def reset(self) -> None:
        with self._lock:
            self._queues.clear()
            self._always.clear()
            self._auth.clear()
            self._scripts.clear()
            self.received.clear()
            self.disconnects = 0
            self.completed = 0

    def hits(self, path: str) -> list[Received]:
        return [r for r in self.received if r.path == path]

    async def start(self) -> None:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    def _next(self, path: str) -> Reply | None:
        with self._lock:
            queue = self._queues.get(path)
            if queue:
                return queue.pop(0)
            return self._always.get(path)

    def _scripted(self, received: Received) -> Reply | None:
        with self._lock:
            answer = self._scripts.get(received.path)
        return answer(received) if answer is not None else None

    def _refusal(self, request: web.Request) -> Reply | None:
        with self._lock:
            rules = list(self._auth.items())
        for prefix, (header, value, rejection) in rules:
            if request.path.startswith(prefix) and request.headers.get(header) != value:
                return rejection
        return None

    @staticmethod
    async def _hold(request: web.Request, seconds: float) -> bool:
        """Wait `seconds` before answering; False as soon as the client closes the connection."""
        deadline = asyncio.get_running_loop().time() + seconds
        while asyncio.get_running_loop().time() < deadline:
            if request.transport is None or request.transport.is_closing():
                return False
            await asyncio.sleep(0.02)
        return True

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()
        received = Received(request.method, request.path, dict(request.query),
                            {k.lower(): v for k, v in request.headers.items()}, body)
        self.received.append(received)
        reply = self._refusal(request) or self._next(request.path) or self._scripted(received)
        if reply is None:
            return web.json_response({"error": {"message": f"no reply queued for {request.path}",
                                                "type": "invalid_request_error", "code": "not_found"}}, status=404)
        if reply.delay:
            await asyncio.sleep(reply.delay)
        if reply.hold and not await self._hold(request, reply.hold):
            self.disconnects += 1
            return web.Response()
        if reply.reset:
            assert request.transport is not None
            request.transport.abort()
            return web.Response()
        if reply.echo:  # an upstream that quotes the request's headers (credentials included) back
            reply = _echoed(reply, {k.lower(): v for k, v in request.headers.items()})
        if reply.chunks is None:
            self.completed += 1
            return web.Response(status=reply.status, body=reply.body, headers=reply.headers,
                                content_type=reply.content_type.split(";")[0])
        response = web.StreamResponse(status=reply.status, headers={"content-type": reply.content_type,
                                                                    **reply.headers})
        await response.prepare(request)
        try:
            for chunk in reply.chunks:
                if isinstance(chunk, float | int):
                    await asyncio.sleep(chunk)
                    continue
                await response.write(chunk)
                if request.transport is None or request.transport.is_closing():
                    raise ConnectionResetError
            if reply.cut:
                assert request.transport is not None
                request.transport.abort()
                return response
            await response.write_eof()
            self.completed += 1
        except (ConnectionResetError, asyncio.CancelledError):
            self.disconnects += 1
            raise
        return response


def _echoed(reply: Reply, headers: dict[str, str]) -> Reply:
    """`{authorization}`, `{x-api-key}`, ... in the body or chunks replaced by the request's header values."""
    def fill(raw: bytes) -> bytes:
        text = raw.decode()
        for name, value in headers.items():
            text = text.replace("{" + name + "}", value)
        return text.encode()

    chunks = None if reply.chunks is None else [c if isinstance(c, float | int) else fill(c) for c in reply.chunks]
    return Reply(reply.status, fill(reply.body), chunks, reply.headers, 0.0, reply.cut, reply.reset,
                 reply.content_type)
