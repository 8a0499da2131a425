"""Errors in OpenAI's envelope, `{"error": {"message", "type", "param", "code"}}`, with the gateway's own
statuses (the openai SDKs pick their exception class from the status: 400 BadRequestError, 401
AuthenticationError, 403 PermissionDeniedError, 404 NotFoundError, 429 RateLimitError, 5xx
InternalServerError). After the first byte of a stream a failure is an `error` event followed by
`response.failed` (stream.py)."""

from __future__ import annotations

from typing import Any

import orjson

from ...errors import SwitchpointError

_TYPES = {400: "invalid_request_error", 401: "authentication_error", 402: "insufficient_quota",
          403: "permission_error", 404: "not_found_error", 408: "timeout", 413: "invalid_request_error",
          422: "invalid_request_error", 429: "rate_limit_error", 502: "server_error", 503: "server_error"}


def error_type(err: SwitchpointError) -> str:
    return _TYPES.get(err.status, "server_error")


def error_object(err: SwitchpointError) -> dict[str, Any]:
    metadata = err.metadata or {}
    param = metadata.get("param") if isinstance(metadata, dict) else None
    body: dict[str, Any] = {"message": err.message, "type": error_type(err), "param": param,
                            "code": metadata.get("code") if isinstance(metadata, dict) and
                            isinstance(metadata.get("code"), str) else None}
    if metadata:
        body["metadata"] = metadata
    return {"error": body}


def error_body(err: SwitchpointError) -> bytes:
    return orjson.dumps(error_object(err))
