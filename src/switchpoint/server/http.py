"""Minimal ASGI request/response primitives: the chat hot path stays free of framework overhead."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs

import orjson

from ..errors import PayloadTooLargeError

if TYPE_CHECKING:
    from .auth.principal import Principal

Send = Callable[[dict[str, Any]], Awaitable[None]]
Receive = Callable[[], Awaitable[dict[str, Any]]]
JSON_HEADERS = [(b"content-type", b"application/json")]


class Request:
    __slots__ = ("scope", "receive", "method", "path", "params", "_query", "principal")

    def __init__(self, scope: dict[str, Any], receive: Receive, path: str, params: dict[str, str]) -> None:
        self.scope = scope
        self.receive = receive
        self.method: str = scope["method"]
        self.path = path
        self.params = params
        self._query: dict[str, str] | None = None
        self.principal: Principal | None = None  # who called a dashboard or admin route (server/auth/guard.py)

    def pick(self, names: frozenset[bytes]) -> dict[str, str]:
        """Only the named headers, decoded (a long stream keeps nothing more alive)."""
        return {k.decode("latin-1"): v.decode("latin-1") for k, v in self.scope["headers"] if k in names}

    def header(self, name: bytes) -> str | None:
        for key, value in self.scope["headers"]:
            if key == name:
                return value.decode("latin-1")
        return None

    @property
    def query(self) -> dict[str, str]:
        if self._query is None:
            raw = self.scope.get("query_string", b"").decode("latin-1")
            self._query = {k: v[-1] for k, v in parse_qs(raw, keep_blank_values=True).items()}
        return self._query

    async def body(self, limit: int) -> bytes:
        length = self.header(b"content-length")
        if length is not None and length.isdigit() and int(length) > limit:
            raise PayloadTooLargeError(f"Request body is larger than the {limit} bytes allowed.")
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await self.receive()
            if message["type"] == "http.disconnect":
                break
            chunk = message.get("body", b"")
            if chunk:
                size += len(chunk)
                if size > limit:
                    raise PayloadTooLargeError(f"Request body is larger than the {limit} bytes allowed.")
                chunks.append(chunk)
            if not message.get("more_body", False):
                break
        return chunks[0] if len(chunks) == 1 else b"".join(chunks)


class Response:
    __slots__ = ("status", "body", "headers")

    def __init__(self, body: bytes, status: int = 200, headers: list[tuple[bytes, bytes]] | None = None,
                 content_type: bytes = b"application/json") -> None:
        self.status = status
        self.body = body
        self.headers = [(b"content-type", content_type), *(headers or ())]

    async def send(self, send: Send) -> None:
        await send({"type": "http.response.start", "status": self.status,
                    "headers": [*self.headers, (b"content-length", str(len(self.body)).encode())]})
        await send({"type": "http.response.body", "body": self.body})


class Streamed:
    """Marker: the handler wrote the response itself (streams)."""

    __slots__ = ()

    async def send(self, send: Send) -> None:
        return None


STREAMED = Streamed()


def json_response(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(orjson.dumps(data), status, encode_headers(headers))


def encode_headers(headers: dict[str, str] | None) -> list[tuple[bytes, bytes]]:
    if not headers:
        return []
    return [(k.lower().encode("latin-1"), str(v).encode("latin-1")) for k, v in headers.items()]
