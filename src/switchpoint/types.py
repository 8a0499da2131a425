"""Canonical types shared by every layer.

Requests arrive in the OpenAI/OpenRouter chat format; the server validates them into a `ChatRequest`
whose messages keep the OpenAI message shape (it is the lingua franca every translator reads).
Responses and stream events are canonical dataclasses that each provider module produces and the
server renders back into the OpenAI format. Vendor-only data rides in `extra` dicts, never as
ad-hoc attributes.

Native passthrough: a request that came in on another API (Anthropic Messages, ...) is translated into a
ChatRequest like any other, and also keeps the client's body as `native`. A provider whose own wire
format is that API sends the body as it came (only the model replaced), and keeps the upstream's raw
answer on the Completion (`native`) or on the stream's deltas (`raw`), so the inbound renderer relays it
byte for byte; accounting still reads usage from the parsed answer.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

# Keys of the chat body that steer the gateway itself and are never sent upstream as-is.
ROUTING_KEYS = frozenset(
    {"model", "models", "provider", "route", "transforms", "usage", "plugins", "stream", "messages",
     "stream_options", "session_id", "debug", "preset", "include_reasoning", "reasoning_effort"}
)

# Wire formats a request may carry natively (NativeBody.format).
ANTHROPIC_MESSAGES = "anthropic-messages"
OPENAI_RESPONSES = "openai-responses"


@dataclass(frozen=True, slots=True)
class NativeBody:
    """The client's request in its own wire format, for an endpoint that speaks that format natively.

    `format` names the wire format (e.g. "anthropic-messages"); `body` is the parsed JSON as the client
    sent it; `headers` are the client headers that format passes upstream (e.g. anthropic-beta)."""

    format: str
    body: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(slots=True)
class ChatRequest:
    """A validated chat request. `params` holds every other body field exactly as the client sent it."""

    model: str
    messages: list[dict[str, Any]]
    stream: bool = False
    models: list[str] = field(default_factory=list)
    provider: dict[str, Any] | None = None
    reasoning: dict[str, Any] | None = None
    params: dict[str, Any] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)  # client headers some upstreams want (attribution)
    legacy_prompt: bool = False  # arrived on /completions: render as text_completion
    native: NativeBody | None = None  # the body in the client's own wire format, for passthrough
    session_id: str | None = None  # the client's conversation id (body `session_id` or `x-session-id`)
    model_resolved: bool = False  # the API's own naming already resolved the model names: no aliases again
    # Reasoning settings per model id, from a `:thinking` variant; they replace `reasoning` on its endpoints.
    reasoning_by_model: dict[str, dict[str, Any]] | None = None
    transforms: list[str] | None = None  # OpenRouter's prompt transforms; None = the default (routing/context.py)
    plugins: list[dict[str, Any]] = field(default_factory=list)  # OpenRouter `plugins`, checked (plugins/spec.py)

    @property
    def max_tokens(self) -> int | None:
        value = self.params.get("max_completion_tokens") or self.params.get("max_tokens")
        return value if isinstance(value, int) else None

    @property
    def tools(self) -> list[dict[str, Any]]:
        return self.params.get("tools") or []

    @property
    def hides_reasoning(self) -> bool:
        """`reasoning: {exclude: true}`: the model may reason, but the client does not see it."""
        return bool(self.reasoning and self.reasoning.get("exclude"))

    def stop_list(self) -> list[str]:
        stop = self.params.get("stop")
        if stop is None:
            return []
        return [stop] if isinstance(stop, str) else list(stop)


@dataclass(slots=True)
class EmbeddingRequest:
    model: str
    inputs: list[Any]  # strings or token arrays
    encoding_format: str = "float"
    dimensions: int | None = None
    provider: dict[str, Any] | None = None
    params: dict[str, Any] = field(default_factory=dict)


@dataclass(slots=True)
class Usage:
    """Token counts. `prompt_tokens` includes cached reads and cache writes; `completion_tokens`
    includes reasoning tokens (both as OpenAI and OpenRouter report them)."""

    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached_tokens: int = 0
    cache_write_tokens: int = 0
    reasoning_tokens: int = 0
    estimated: bool = False  # counted by the gateway because the upstream never said

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


@dataclass(slots=True)
class ToolCall:
    id: str
    name: str
    arguments: str  # always a JSON text, as in the OpenAI format
    extra: dict[str, Any] | None = None  # e.g. a Gemini thought signature


@dataclass(slots=True)
class Choice:
    index: int = 0
    content: str | None = None
    reasoning: str | None = None
    refusal: str | None = None
    tool_calls: list[ToolCall] = field(default_factory=list)
    finish_reason: str | None = None
    native_finish_reason: str | None = None
    logprobs: Any = None
    extra: dict[str, Any] | None = None  # message-level vendor fields: annotations, reasoning_details...


def hide_reasoning(choice: Choice) -> None:
    choice.reasoning = None
    if choice.extra and "reasoning_details" in choice.extra:
        choice.extra = {k: v for k, v in choice.extra.items() if k != "reasoning_details"} or None


@dataclass(slots=True)
class Completion:
    choices: list[Choice]
    usage: Usage | None = None
    upstream_id: str | None = None
    upstream_model: str | None = None
    system_fingerprint: str | None = None
    service_tier: str | None = None
    native: bytes | None = None  # the upstream's body as received, when the request was passed through


@dataclass(slots=True)
class ToolCallDelta:
    index: int
    id: str | None = None
    name: str | None = None
    arguments: str = ""
    extra: dict[str, Any] | None = None


@dataclass(slots=True)
class Delta:
    """One streamed event for one choice."""

    index: int = 0
    role: str | None = None
    content: str | None = None
    reasoning: str | None = None
    refusal: str | None = None
    tool_calls: list[ToolCallDelta] | None = None
    finish_reason: str | None = None
    native_finish_reason: str | None = None
    logprobs: Any = None
    extra: dict[str, Any] | None = None
    # Passthrough: the upstream's bytes (whole events) that the deltas after this one were parsed from.
    raw: bytes | None = None

    def has_output(self) -> bool:
        return bool(self.content or self.reasoning or self.refusal or self.tool_calls)

    def without_reasoning(self) -> Delta | None:
        """The delta with reasoning removed, or None when nothing else is left in it."""
        extra = {k: v for k, v in self.extra.items() if k != "reasoning_details"} if self.extra else None
        if self.reasoning is None and extra == self.extra:
            return self
        stripped = Delta(self.index, self.role, self.content, None, self.refusal, self.tool_calls, self.finish_reason,
                         self.native_finish_reason, self.logprobs, extra or None)
        if stripped.role is None and stripped.finish_reason is None and not stripped.has_output() \
                and stripped.content is None and not stripped.extra:
            return None
        return stripped


@dataclass(slots=True)
class Embeddings:
    vectors: list[list[float]]
    usage: Usage
    upstream_model: str | None = None


@dataclass(slots=True)
class UpstreamRequest:
    """What a provider module asks the transport to send."""

    method: str
    url: str
    headers: dict[str, str]
    body: bytes | None = None
