"""Errors in Anthropic's envelope: `{"type": "error", "error": {"type", "message"}}` with Anthropic's
statuses. Every Switchpoint error maps to one (status, type) here:

| Switchpoint | status | Anthropic type |
|---|---|---|
| 400 bad request, unknown model | 400 | invalid_request_error |
| 401 bad key | 401 | authentication_error |
| 402 budget cannot cover the request | 402 | billing_error (the message says what the key can afford) |
| 403 key limit spent / forbidden | 403 | permission_error |
| 404 no route / no endpoint | 404 | not_found_error |
| 408 timeout | 504 | timeout_error |
| 413 body too large | 413 | request_too_large |
| 429 rate limited | 429 | rate_limit_error (with retry-after) |
| 502 provider error | 500 | api_error |
| 503 no healthy provider / overloaded | 529 | overloaded_error |
| anything else | 500 | api_error |

Statuses 5xx other than 529 are sent as 500 `api_error` so the anthropic SDKs retry them as they would
Anthropic's own; 529 makes them back off as for an overloaded Anthropic."""

from __future__ import annotations

from typing import Any

import orjson

from ...errors import SwitchpointError

_BY_STATUS: dict[int, tuple[int, str]] = {
    400: (400, "invalid_request_error"), 401: (401, "authentication_error"), 402: (402, "billing_error"),
    403: (403, "permission_error"), 404: (404, "not_found_error"), 408: (504, "timeout_error"),
    413: (413, "request_too_large"), 422: (400, "invalid_request_error"), 429: (429, "rate_limit_error"),
    502: (500, "api_error"), 503: (529, "overloaded_error"), 529: (529, "overloaded_error"),
}


def error_status(err: SwitchpointError) -> int:
    return _BY_STATUS.get(err.status, (500, "api_error"))[0]


def error_type(err: SwitchpointError) -> str:
    return _BY_STATUS.get(err.status, (500, "api_error"))[1]


def error_object(err: SwitchpointError) -> dict[str, Any]:
    return {"type": "error", "error": {"type": error_type(err), "message": err.message}}


def error_body(err: SwitchpointError) -> bytes:
    return orjson.dumps(error_object(err))


def error_event(err: SwitchpointError) -> bytes:
    """The `event: error` frame for a failure after the stream started."""
    return b"event: error\ndata: " + error_body(err) + b"\n\n"
