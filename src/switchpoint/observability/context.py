"""The request scope: a request id (the client's `x-request-id`, or a new one) and, for keys that
opted in to content logging, the prompt and the output text. Carried in a context variable so the
transport and the generation log see it without threading it through every call."""

from __future__ import annotations

from contextvars import ContextVar, Token
from dataclasses import dataclass
from typing import Any

from ..ids import random_hex

_SCOPE: ContextVar[RequestScope | None] = ContextVar("switchpoint_request_scope", default=None)
_ALLOWED = frozenset(b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.:/+=@")


@dataclass(slots=True)
class RequestScope:
    request_id: str
    traceparent: str | None = None
    prompt: Any = None                 # the request's messages, only when the key logs content
    output: list[str] | None = None    # output text pieces, only when the key logs content

    def capture_content(self, prompt: Any) -> None:
        self.prompt = prompt
        self.output = []


def request_id_for(header: bytes | None) -> str:
    """The client's request id when it is a sane token (at most 128 safe characters), else a new one."""
    if header and len(header) <= 128 and all(c in _ALLOWED for c in header):
        return header.decode("ascii")
    return "req-" + random_hex(12)


def start_scope(request_id: str, traceparent: str | None = None) -> Token[RequestScope | None]:
    return _SCOPE.set(RequestScope(request_id, traceparent))


def end_scope(token: Token[RequestScope | None]) -> None:
    _SCOPE.reset(token)


def current_scope() -> RequestScope | None:
    return _SCOPE.get()


def capture_output(text: str | None) -> None:
    """Keep output text for the generation log, when this request's key logs content."""
    scope = _SCOPE.get()
    if text and scope is not None and scope.output is not None:
        scope.output.append(text)
