"""OpenAI Chat Completions wire format: OpenAI itself and every OpenAI-compatible server
(Groq, Together, DeepSeek, Mistral, Moonshot, xAI, vLLM, Ollama's /v1...).

Requests are the client's own body with the gateway's routing keys removed, so parameters we do
not know are passed through untouched."""

from __future__ import annotations

import builtins
import hashlib
from collections.abc import Mapping
from typing import Any, ClassVar

import orjson
from pydantic import Field

from ..errors import AUTH, QUOTA, SERVER, BadRequestError, UpstreamError
from ..types import (
    ANTHROPIC_MESSAGES,
    OPENAI_RESPONSES,
    ROUTING_KEYS,
    ChatRequest,
    Choice,
    Completion,
    Delta,
    EmbeddingRequest,
    Embeddings,
    ToolCall,
    ToolCallDelta,
    UpstreamRequest,
    Usage,
)
from . import context_errors
from .base import (
    Connection,
    FramedStreamParser,
    Provider,
    ProviderOptions,
    StreamParser,
    Target,
    error_from_status,
    load_json,
)
from .framing import SSEDecoder
from .native import dump_arguments
from .openai_parts import Parts, error_status, parse_usage, read_content, reasoning_detail
from .openai_responses import ResponsesStreamParser, parse_response, passthrough_body

FINISH_REASONS = {"stop": "stop", "length": "length", "tool_calls": "tool_calls",
                  "content_filter": "content_filter", "function_call": "tool_calls", "error": "error"}
# Fields of an OpenRouter/DeepSeek-style message that plain OpenAI-compatible servers reject.
_FOREIGN_MESSAGE_KEYS = ("reasoning", "reasoning_details", "reasoning_content")
_QUOTA_CODES = {"insufficient_quota", "billing_hard_limit_reached", "billing_not_active"}
_AUTH_CODES = {"invalid_api_key", "account_deactivated"}


class OpenAIOptions(ProviderOptions):
    """`providers.<name>` settings of the `openai` type, beside the common ones."""

    responses_api: bool = Field(False, description="the endpoint also serves OpenAI's Responses API at "
                                                   "{base_url}/responses (OpenAI itself does), so Responses "
                                                   "requests pass through to it")


class OpenAIProvider(Provider):
    """With `responses_api` (an option of this type, azure and openrouter; on by default for the last two)
    the endpoint also serves OpenAI's Responses API at {base}/responses: Responses requests pass through."""

    type = "openai"
    Options: ClassVar[builtins.type[ProviderOptions]] = OpenAIOptions
    options: OpenAIOptions
    chat_path = "/chat/completions"
    embeddings_path = "/embeddings"
    responses_path = "/responses"

    def __init__(self, connection: Connection) -> None:
        super().__init__(connection)
        if getattr(self.options, "responses_api", False):
            self.native_format = OPENAI_RESPONSES

    def headers(self) -> dict[str, str]:
        headers = {"content-type": "application/json", **self.connection.headers}
        if self.connection.api_key:
            headers["authorization"] = f"Bearer {self.connection.api_key}"
        return headers

    def url(self, path: str, target: Target) -> str:
        return self.connection.base_url.rstrip("/") + path

    # -- requests -----------------------------------------------------------------------------

    def build_chat(self, request: ChatRequest, target: Target) -> UpstreamRequest:
        if request.native is not None and self.passes_through(request):
            body = passthrough_body(request.native, target.model, openrouter=self.type == "openrouter")
            return UpstreamRequest("POST", self.url(self.responses_path, target), self.headers(), orjson.dumps(body))
        body = self.chat_body(request, target)
        return UpstreamRequest("POST", self.url(self.chat_path, target), self.headers(), orjson.dumps(body))

    def chat_body(self, request: ChatRequest, target: Target) -> dict[str, Any]:
        body: dict[str, Any] = {"model": target.model, "messages": self.messages(request.messages)}
        body.update(request.params)
        if request.native is not None:
            refuse_native_tools(request.params, self.type, request.native.format)
        user = body.get("user")
        if isinstance(user, str):  # an end-user id is hashed, never forwarded raw
            body["user"] = hashlib.sha256(user.encode()).hexdigest()[:32]
        if request.reasoning:
            self.apply_reasoning(body, request.reasoning)
        if request.stream:
            body["stream"] = True
            body["stream_options"] = {"include_usage": True}
        return body

    def apply_reasoning(self, body: dict[str, Any], reasoning: dict[str, Any]) -> None:
        effort = reasoning.get("effort")
        if effort and not reasoning.get("exclude"):
            body["reasoning_effort"] = effort

    def messages(self, messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Strip OpenRouter-only message fields; returns the same list when there is nothing to strip."""
        if not any(_needs_cleaning(m) for m in messages):
            return messages
        return [_clean_message(m) if _needs_cleaning(m) else m for m in messages]

    def build_embeddings(self, request: EmbeddingRequest, target: Target) -> UpstreamRequest:
        body: dict[str, Any] = {"model": target.model, "input": request.inputs, **request.params}
        # Always ask for floats: the server encodes base64 itself, so every provider looks alike.
        body["encoding_format"] = "float"
        if request.dimensions is not None:
            body["dimensions"] = request.dimensions
        return UpstreamRequest("POST", self.url(self.embeddings_path, target), self.headers(),
                               orjson.dumps(body))

    # -- responses ----------------------------------------------------------------------------

    def parse_chat(self, body: bytes) -> Completion:
        data = load_json(body)
        if not isinstance(data, dict):
            raise UpstreamError(SERVER, "upstream sent a non-object body", raw=body[:2000].decode("utf-8", "replace"))
        if "error" in data:
            raise self.error_object(data["error"], body)
        choices = [parse_choice(c) for c in data.get("choices") or []]
        return Completion(
            choices=choices,
            usage=parse_usage(data.get("usage")),
            upstream_id=data.get("id"),
            upstream_model=data.get("model"),
            system_fingerprint=data.get("system_fingerprint"),
            service_tier=data.get("service_tier"),
        )

    def read_chat(self, request: ChatRequest, body: bytes) -> Completion:
        if not self.passes_through(request):
            return self.parse_chat(body)
        completion = parse_response(body)
        completion.native = body
        return completion

    def stream_parser(self, request: ChatRequest, target: Target) -> StreamParser:
        if self.passes_through(request):
            return ResponsesStreamParser(relay=True)
        return OpenAIStreamParser(self)

    def parse_embeddings(self, body: bytes) -> Embeddings:
        data = load_json(body)
        if "error" in data:
            raise self.error_object(data["error"], body)
        rows = sorted(data.get("data") or [], key=lambda row: row.get("index", 0))
        vectors = [decode_vector(row.get("embedding")) for row in rows]
        return Embeddings(vectors=vectors, usage=parse_usage(data.get("usage")) or Usage(),
                          upstream_model=data.get("model"))

    # -- errors -------------------------------------------------------------------------------

    def parse_error(self, status: int, headers: Mapping[str, str], body: bytes) -> UpstreamError:
        message, code = error_fields(body)
        err = error_from_status(status, headers, body, message, code)
        if code in _QUOTA_CODES:
            err.kind = QUOTA
        elif code in _AUTH_CODES:
            err.kind = AUTH
        return context_errors.classify(err)

    def error_object(self, error: Any, body: bytes) -> UpstreamError:
        """An error object inside an HTTP 200 body or stream: classified on the status it carries
        or its type stands for, so the provider's own status and code reach the client and ledger."""
        status = error_status(error) if isinstance(error, dict) else None
        message, code_text = error_fields(orjson.dumps({"error": error}))
        if status is not None:
            err = error_from_status(status, {}, body, message, code_text)
        else:
            err = UpstreamError(SERVER, message or "upstream reported an error",
                                raw=body[:4000].decode("utf-8", "replace"), provider_code=code_text)
        if code_text in _QUOTA_CODES:
            err.kind = QUOTA
        elif code_text in _AUTH_CODES:
            err.kind = AUTH
        return context_errors.classify(err)


class OpenAIStreamParser(FramedStreamParser):
    terminal = "[DONE]"

    def __init__(self, provider: OpenAIProvider) -> None:
        super().__init__(SSEDecoder())
        self.provider = provider

    def item(self, item: tuple[str | None, bytes], out: list[Delta]) -> None:
        data = item[1]
        if data == b"[DONE]":
            self.done = True
            return
        chunk = load_json(data)
        if "error" in chunk:
            raise self.provider.error_object(chunk["error"], data)
        if self.upstream_id is None:
            self.upstream_id = chunk.get("id")
            self.upstream_model = chunk.get("model")
        usage = chunk.get("usage")
        if usage:
            self.usage = parse_usage(usage)
        for choice in chunk.get("choices") or ():
            delta = parse_delta(choice)
            if delta is not None:
                out.append(delta)


# -- shared part parsing (non-streaming and streaming) ------------------------------------------

def parse_choice(raw: dict[str, Any]) -> Choice:
    message = raw.get("message") or {}
    tool_calls = [
        ToolCall(id=tc.get("id") or f"call_{i}", name=(tc.get("function") or {}).get("name", ""),
                 arguments=dump_arguments((tc.get("function") or {}).get("arguments")))
        for i, tc in enumerate(message.get("tool_calls") or [])
    ]
    native = raw.get("native_finish_reason", raw.get("finish_reason"))
    finish = _finish(raw.get("finish_reason"), bool(tool_calls))
    parts = read_content(message.get("content"))
    content = parts.text
    if tool_calls and content == "":
        content = None
    extra = _with_parts(_extras(message, ("annotations", "reasoning_details", "images", "audio")), parts)
    reasoning = message.get("reasoning") or message.get("reasoning_content")
    if parts.reasoning:  # thinking parts of a content array
        reasoning = (reasoning or "") + parts.reasoning
    return Choice(
        index=raw.get("index", 0),
        content=content,
        reasoning=reasoning,
        refusal=message.get("refusal") or parts.refusal or None,
        tool_calls=tool_calls,
        finish_reason=finish,
        native_finish_reason=native,
        logprobs=raw.get("logprobs"),
        extra=extra,
    )


def parse_delta(raw: dict[str, Any]) -> Delta | None:
    delta = raw.get("delta") or {}
    calls = delta.get("tool_calls")
    tool_calls = None
    if calls:
        tool_calls = []
        for position, tc in enumerate(calls):
            fn = tc.get("function") or {}
            tool_calls.append(ToolCallDelta(index=tc.get("index", position), id=tc.get("id"),
                                            name=fn.get("name"), arguments=fn.get("arguments") or ""))
    finish = raw.get("finish_reason")
    content = delta.get("content")
    reasoning = delta.get("reasoning") or delta.get("reasoning_content")
    refusal = delta.get("refusal")
    extra = _extras(delta, ("reasoning_details", "annotations", "images", "audio"))
    if isinstance(content, list):  # typed parts (Mistral's thinking models): split them by kind
        parts = read_content(content)
        content = parts.text or None
        if parts.reasoning:
            reasoning = (reasoning or "") + parts.reasoning
        extra = _with_parts(extra, parts)
        refusal = refusal or parts.refusal or None
    result = Delta(
        index=raw.get("index", 0),
        role=delta.get("role"),
        content=content,
        reasoning=reasoning,
        refusal=refusal,
        tool_calls=tool_calls,
        finish_reason=_finish(finish, False) if finish else None,
        native_finish_reason=raw.get("native_finish_reason", finish) if finish else None,
        logprobs=raw.get("logprobs"),
        extra=extra,
    )
    if (result.role is None and result.content is None and result.finish_reason is None
            and not result.has_output() and result.extra is None and result.logprobs is None):
        return None
    return result


def decode_vector(value: Any) -> list[float]:
    if isinstance(value, str):
        import base64
        import struct

        raw = base64.b64decode(value)
        return list(struct.unpack(f"<{len(raw) // 4}f", raw))
    return list(value or [])


def error_fields(body: bytes) -> tuple[str | None, str | None]:
    """(message, code) from an OpenAI-style error body, tolerant of other shapes."""
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        text = body.decode("utf-8", "replace").strip()
        return (text[:500] or None), None
    error = data.get("error") if isinstance(data, dict) else None
    if isinstance(error, str):
        return error, None
    if error is None and isinstance(data, dict) and data.get("object") == "error":
        error = data  # vLLM before 0.10: the error object is the body itself
    if not isinstance(error, dict):
        return None, None
    code = error.get("code") if isinstance(error.get("code"), str) else error.get("type")
    return error.get("message"), code if isinstance(code, str) else None


def _finish(reason: str | None, has_tool_calls: bool) -> str | None:
    if reason is None:
        return None
    mapped = FINISH_REASONS.get(reason, reason)
    if has_tool_calls and mapped == "stop":
        return "tool_calls"
    return mapped


def _extras(source: dict[str, Any], keys: tuple[str, ...]) -> dict[str, Any] | None:
    found = {k: source[k] for k in keys if source.get(k)}
    return found or None


def _with_parts(extra: dict[str, Any] | None, parts: Parts) -> dict[str, Any] | None:
    """Message extras plus what typed content parts add: a reasoning_details item, images."""
    if not parts.reasoning and not parts.images:
        return extra
    extra = dict(extra or {})
    if parts.reasoning:
        extra["reasoning_details"] = [*extra.get("reasoning_details", ()), reasoning_detail(parts.reasoning)]
    if parts.images:
        extra["images"] = [*extra.get("images", ()), *parts.images]
    return extra


def _needs_cleaning(message: dict[str, Any]) -> bool:
    if message.get("role") == "assistant" and any(k in message for k in _FOREIGN_MESSAGE_KEYS):
        return True
    content = message.get("content")
    return isinstance(content, list) and any(isinstance(p, dict) and "cache_control" in p for p in content)


def _clean_message(message: dict[str, Any]) -> dict[str, Any]:
    cleaned = {k: v for k, v in message.items() if k not in _FOREIGN_MESSAGE_KEYS}
    content = cleaned.get("content")
    if isinstance(content, list):
        cleaned["content"] = [
            {k: v for k, v in part.items() if k != "cache_control"} if isinstance(part, dict) else part
            for part in content
        ]
    return cleaned


__all__ = ["OpenAIProvider", "OpenAIStreamParser", "parse_choice", "parse_delta", "parse_usage",
           "ROUTING_KEYS"]


def refuse_native_tools(params: dict[str, Any], provider: str, fmt: str) -> None:
    """Tools another API runs itself arrive only from that API and no chat endpoint runs them: Anthropic's
    (server tools such as web_search_20250305, Anthropic-defined client tools such as bash_20250124) and
    the Responses API's hosted tools (web_search, file_search, code_interpreter, mcp, ...)."""
    for i, tool in enumerate(params.get("tools") or ()):
        kind = tool.get("type") if isinstance(tool, dict) else None
        if not isinstance(kind, str) or kind in ("function", "custom"):
            continue
        if fmt == ANTHROPIC_MESSAGES:
            raise BadRequestError(f"tools[{i}]: '{tool.get('name')}' ({kind}) is an Anthropic tool that only "
                                  f"Anthropic endpoints serve, not provider type '{provider}'",
                                  metadata={"param": f"tools[{i}]"})
        raise BadRequestError(f"tools[{i}]: the hosted tool '{kind}' runs only where the endpoint serves the "
                              f"Responses API itself, not on provider type '{provider}'",
                              metadata={"param": f"tools[{i}]"})
