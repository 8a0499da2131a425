"""The one error hierarchy. Each error knows its HTTP status and OpenRouter `error_type`;
`render_error` in server/ turns any of them into the envelope."""

from __future__ import annotations

from typing import Any


class SwitchpointError(Exception):
    status = 500
    error_type = "server"

    def __init__(self, message: str, *, metadata: dict[str, Any] | None = None,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.metadata = metadata or {}
        self.headers = headers or {}


class BadRequestError(SwitchpointError):
    status = 400
    error_type = "invalid_request"


class AuthenticationError(SwitchpointError):
    status = 401
    error_type = "authentication"


class PaymentRequiredError(SwitchpointError):
    status = 402
    error_type = "payment_required"


class ForbiddenError(SwitchpointError):
    status = 403
    error_type = "permission_denied"


class NotFoundError(SwitchpointError):
    status = 404
    error_type = "not_found"


class RequestTimeoutError(SwitchpointError):
    status = 408
    error_type = "timeout"


class PayloadTooLargeError(SwitchpointError):
    status = 413
    error_type = "payload_too_large"


class RateLimitError(SwitchpointError):
    status = 429
    error_type = "rate_limit_exceeded"

    def __init__(self, message: str, *, retry_after: float | None = None, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.retry_after = retry_after
        if retry_after is not None:
            self.headers.setdefault("Retry-After", str(max(1, int(retry_after + 0.999))))


class ProviderError(SwitchpointError):
    """The upstream answered with an error we relay (also used for invalid upstream responses)."""

    status = 502
    error_type = "provider_unavailable"


class ServiceUnavailableError(SwitchpointError):
    status = 503
    error_type = "provider_overloaded"


class ConfigError(Exception):
    """Invalid configuration; `problems` is a list of (field path, message)."""

    def __init__(self, problems: list[tuple[str, str]], warnings: list[str] | None = None) -> None:
        super().__init__("; ".join(f"{path}: {msg}" for path, msg in problems))
        self.problems = problems
        self.warnings = warnings or []  # found on the way, for `config check` to show with the problems


# How an upstream failure is classified. The routing policy decides on this, never on message text.
INVALID = "invalid"          # 400/404/413/422: the request itself is wrong; never retried or failed over
AUTH = "auth"                # 401/403 or a provider's invalid-key code: our credentials for that provider
ENDPOINT = "endpoint"        # 404 and the like: this endpoint cannot serve the model (misconfigured)
RATE_LIMIT = "rate_limit"    # 429 with a retryable limit
QUOTA = "quota"              # 429 insufficient_quota and other billing refusals: not retryable there
OVERLOADED = "overloaded"    # 529 / 503 overloaded
SERVER = "server"            # other 5xx
TIMEOUT = "timeout"          # no answer within the attempt timeout
CONNECT = "connect"          # could not connect, or the connection was reset
MALFORMED = "malformed"      # 2xx whose body we could not read as the provider's format
CONTEXT = "context_length"   # the prompt (plus max_tokens) does not fit the endpoint's context window:
                             # fails over only to endpoints with a larger window, else a 400


class UpstreamError(Exception):
    """One failed upstream attempt, as classified by the provider module's error mapper."""

    def __init__(self, kind: str, message: str, *, status: int | None = None, raw: str | None = None,
                 retry_after: float | None = None, provider_code: str | None = None) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message
        self.status = status
        self.raw = raw
        self.retry_after = retry_after
        self.provider_code = provider_code

    def to_client_error(self, provider: str, attempts: list[dict[str, Any]] | None = None) -> SwitchpointError:
        """The error the client sees when this was the most informative failure."""
        metadata: dict[str, Any] = {"provider_name": provider, "error_type": _KIND_TYPES[self.kind]}
        if self.raw is not None:
            metadata["raw"] = self.raw
        if self.provider_code:
            metadata["provider_code"] = self.provider_code
        if self.status is not None:
            metadata["upstream_status"] = self.status
        if attempts:
            metadata["attempts"] = attempts
        if self.kind == CONTEXT:
            return BadRequestError(self.message, metadata=metadata)  # OpenRouter answers these with 400
        if self.kind == INVALID:
            err: SwitchpointError = BadRequestError(self.message, metadata=metadata)
            if self.status in (413, 422):
                err.status = self.status
            return err
        if self.kind == RATE_LIMIT:
            return RateLimitError(self.message, retry_after=self.retry_after or 1.0, metadata=metadata)
        if self.kind == TIMEOUT:
            return RequestTimeoutError(self.message, metadata=metadata)
        if self.kind == OVERLOADED:
            err = ServiceUnavailableError(self.message, metadata=metadata)
            if self.retry_after is not None:
                err.headers["Retry-After"] = str(max(1, int(self.retry_after + 0.999)))
            return err
        return ProviderError(self.message, metadata=metadata)


_KIND_TYPES = {
    INVALID: "invalid_request", AUTH: "authentication", ENDPOINT: "provider_unavailable", RATE_LIMIT: "rate_limit_exceeded",
    QUOTA: "payment_required", OVERLOADED: "provider_overloaded", SERVER: "provider_unavailable",
    TIMEOUT: "timeout", CONNECT: "provider_unavailable", MALFORMED: "provider_unavailable",
    CONTEXT: "context_length_exceeded",
}

# Kinds worth a second try on the same endpoint before moving on.
RETRY_SAME = frozenset({SERVER, CONNECT, OVERLOADED})
# Kinds that move on to the next endpoint (everything but INVALID; CONTEXT only to a larger window).
FAIL_OVER = frozenset({AUTH, ENDPOINT, RATE_LIMIT, QUOTA, OVERLOADED, SERVER, TIMEOUT, CONNECT, MALFORMED, CONTEXT})
