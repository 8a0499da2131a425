"""CORS for the API, so browser apps can call it as they call OpenRouter: `server.cors_origins`
lists the allowed origins (default `*`). Keys are bearer tokens, never cookies, so `*` exposes
nothing a page could not already send; the dashboard (cookie sessions) gets no CORS headers."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from .http import Request, Response, Send

API_PREFIXES = ("/api/v1/", "/v1/")
METHODS = b"GET, POST, PATCH, DELETE, OPTIONS"
# Response headers a browser app may read.
EXPOSED = (b"x-generation-id, x-request-id, x-ratelimit-limit, x-ratelimit-remaining, x-ratelimit-reset, "
           b"retry-after")


class Cors:
    def __init__(self, origins: Iterable[str]) -> None:
        allowed = {o.strip().rstrip("/").encode() for o in origins}
        self.any = b"*" in allowed
        self.allowed = allowed

    def headers(self, origin: bytes) -> list[tuple[bytes, bytes]]:
        """The headers for a request from `origin`; none when it is not allowed."""
        if self.any:
            return [(b"access-control-allow-origin", b"*"), (b"access-control-expose-headers", EXPOSED)]
        if origin in self.allowed:
            return [(b"access-control-allow-origin", origin), (b"vary", b"origin"),
                    (b"access-control-expose-headers", EXPOSED)]
        return []

    async def preflight(self, services: Any, request: Request, send: Send) -> Response:
        """The answer to a preflight `OPTIONS`: the methods, and the headers the browser asked for
        (Authorization among them: `*` would not cover it)."""
        asked = (request.header(b"access-control-request-headers") or "authorization, content-type").encode("latin-1")
        return Response(b"", 204, [(b"access-control-allow-methods", METHODS),
                                   (b"access-control-allow-headers", asked),
                                   (b"access-control-max-age", b"86400")])
