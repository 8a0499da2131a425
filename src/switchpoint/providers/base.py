"""The contract every provider module fulfils: a sans-I/O translator bound to one configured connection.

The engine calls, for each attempt:
  build_chat(request, target) -> UpstreamRequest      (what to send)
  read_chat(request, body) -> Completion              (a 2xx non-streaming body; parse_chat by default)
  stream_parser(request, target) -> StreamParser      (feed raw body bytes, get canonical Deltas)
  parse_error(status, headers, body) -> UpstreamError (any non-2xx answer)
and likewise build_embeddings / parse_embeddings. Streaming and non-streaming share the part parsing.

A provider whose wire format is also an inbound API names it in `native_format`. When a request carries
a native body of that format (`passes_through`), the provider sends that body with only the model
replaced, keeps the raw answer on `Completion.native`, and its stream parser puts the raw bytes of each
run of whole events on a `Delta(raw=...)` ahead of the deltas parsed from them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

import orjson
from pydantic import BaseModel, ConfigDict

from ..errors import (
    AUTH,
    ENDPOINT,
    INVALID,
    MALFORMED,
    OVERLOADED,
    QUOTA,
    RATE_LIMIT,
    SERVER,
    TIMEOUT,
    UpstreamError,
)
from ..types import (
    ChatRequest,
    Completion,
    Delta,
    EmbeddingRequest,
    Embeddings,
    NativeBody,
    UpstreamRequest,
    Usage,
)

if TYPE_CHECKING:  # annotation only: the schema module pulls in I/O helpers providers must not import
    from ..config.schema import ProviderConfig


@dataclass(frozen=True, slots=True)
class Connection:
    """One configured provider: `providers.<name>` in switchpoint.yaml."""

    name: str
    type: str
    base_url: str
    api_key: str | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    timeout: float = 60.0
    max_retries: int = 1
    options: Mapping[str, Any] = field(default_factory=dict)  # the type's own settings: see Provider.Options


@dataclass(slots=True)  # made for every attempt: not frozen, which costs 3x to make
class Target:
    """The endpoint an attempt goes to: the provider's own model name and its output limit."""

    model: str
    max_output_tokens: int | None = None
    context_length: int | None = None


class StreamParser:
    """Turns a streamed body into canonical deltas. Keeps the latest usage and upstream ids.

    `feed` raises UpstreamError for an error event inside an HTTP 200 stream; `close` raises
    UpstreamError(MALFORMED) when the body ended before the provider's terminal event."""

    usage: Usage | None = None
    upstream_id: str | None = None
    upstream_model: str | None = None
    done: bool = False
    # An error event that arrived in the same read as output: the output is returned first and this
    # is raised by the next feed() or close(), so the client keeps what it was sent.
    pending_error: UpstreamError | None = None

    def feed(self, data: bytes) -> list[Delta]:
        raise NotImplementedError

    def close(self) -> list[Delta]:
        raise NotImplementedError


class FramedStreamParser(StreamParser):
    """A stream parser over a framing decoder (SSE or NDJSON). Subclasses turn decoded items into
    deltas and set `done` on the provider's terminal event.

    An error event raises UpstreamError; when output came before it in the same read, that output is
    returned first and the error is raised by the next feed() or close(), so the client keeps it."""

    terminal = "its terminal event"

    def __init__(self, decoder: Any) -> None:
        self.decoder = decoder
        self.usage = None
        self.upstream_id = None
        self.upstream_model = None
        self.done = False
        self.pending_error = None

    def feed(self, data: bytes) -> list[Delta]:
        return self._run(self.decoder.feed(data))

    def close(self) -> list[Delta]:
        out = self._run(self.decoder.close())
        if self.pending_error is not None:
            raise self.pending_error
        if not self.done:
            raise UpstreamError(SERVER, f"upstream stream ended before {self.terminal}", status=200)
        return out

    def _run(self, items: list[Any]) -> list[Delta]:
        if self.pending_error is not None:
            raise self.pending_error
        out: list[Delta] = []
        try:
            for item in items:
                self.item(item, out)
        except UpstreamError as err:
            if not out:
                raise
            self.pending_error = err
        return out

    def item(self, item: Any, out: list[Delta]) -> None:
        """Turn one decoded item into deltas appended to `out`; raise UpstreamError for an error event."""
        raise NotImplementedError


class ProviderOptions(BaseModel):
    """A provider type's own settings in switchpoint.yaml, written beside the common ones (type,
    base_url, api_key, ...; config/schema.py ProviderConfig). Each type subclasses it as its `Options`
    (with no fields when it has none); a setting the model does not declare is a config error."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class Provider:
    """Base class; subclasses live one per wire format and are listed in registry.py.

    A subclass declares `Options`, the model of its own config settings, and is built from a
    validated `providers.<name>` entry by `from_config`; `self.options` is that model."""

    type = ""
    streams_ndjson = False
    Options: ClassVar[type[ProviderOptions]] = ProviderOptions
    native_format: str | None = None  # the inbound wire format this provider speaks natively, if any

    def __init__(self, connection: Connection) -> None:
        self.connection = connection
        self.options = self.Options.model_validate(dict(connection.options))

    @classmethod
    def from_config(cls, name: str, config: ProviderConfig) -> Provider:
        """The provider for `providers.<name>`, validated by load_config (its options included)."""
        return cls(Connection(name=name, type=config.type, base_url=config.base_url or "", api_key=config.api_key,
                              headers=dict(config.headers), timeout=config.timeout,
                              max_retries=config.max_retries, options=config.options))

    def passes_through(self, request: ChatRequest) -> bool:
        """Whether this request goes upstream as the client's own body (only the model replaced)."""
        native = request.native
        return native is not None and native.format == self.native_format

    def build_chat(self, request: ChatRequest, target: Target) -> UpstreamRequest:
        raise NotImplementedError

    def parse_chat(self, body: bytes) -> Completion:
        raise NotImplementedError

    def read_chat(self, request: ChatRequest, body: bytes) -> Completion:
        """A 2xx non-streaming body for `request` (a passthrough keeps the raw body too)."""
        return self.parse_chat(body)

    def stream_parser(self, request: ChatRequest, target: Target) -> StreamParser:
        raise NotImplementedError

    def parse_error(self, status: int, headers: Mapping[str, str], body: bytes) -> UpstreamError:
        return error_from_status(status, headers, body)

    def build_count_tokens(self, native: NativeBody, target: Target) -> UpstreamRequest | None:
        """The provider's own token count for a native body of its format, if it has one."""
        return None

    def build_embeddings(self, request: EmbeddingRequest, target: Target) -> UpstreamRequest:
        raise UpstreamError(INVALID, f"provider type '{self.type}' does not serve embeddings", status=400)

    def parse_embeddings(self, body: bytes) -> Embeddings:
        raise NotImplementedError


def load_json(body: bytes) -> Any:
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise UpstreamError(MALFORMED, f"upstream sent invalid JSON: {exc}", raw=_text(body)) from None


def retry_after(headers: Mapping[str, str]) -> float | None:
    """Seconds from `retry-after-ms` or `retry-after` (seconds; HTTP dates are treated as 1 s)."""
    value = headers.get("retry-after-ms")
    if value:
        try:
            return float(value) / 1000
        except ValueError:
            pass
    value = headers.get("retry-after")
    if value:
        try:
            return max(0.0, float(value))
        except ValueError:
            return 1.0
    return None


def kind_for_status(status: int) -> str:
    if status in (401, 403):
        return AUTH
    if status == 402:
        return QUOTA
    if status == 404:
        return ENDPOINT
    if status == 408:
        return TIMEOUT
    if status == 429:
        return RATE_LIMIT
    if status in (503, 529):
        return OVERLOADED
    if status >= 500:
        return SERVER
    return INVALID


def error_from_status(status: int, headers: Mapping[str, str], body: bytes,
                      message: str | None = None, code: str | None = None) -> UpstreamError:
    """Generic mapping on the status alone; provider modules refine it with structured codes."""
    return UpstreamError(kind_for_status(status), message or f"upstream returned HTTP {status}",
                         status=status, raw=_text(body), retry_after=retry_after(headers), provider_code=code)


def _text(body: bytes, limit: int = 4000) -> str:
    return body[:limit].decode("utf-8", "replace")
