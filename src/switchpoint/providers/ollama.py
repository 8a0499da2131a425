"""Ollama's native API (type `ollama`): POST {base_url}/api/chat (NDJSON when streaming) and
/api/embed. Ollama streams by default, so `stream` is always sent explicitly."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson

from ..errors import SERVER, BadRequestError, UpstreamError
from ..types import (
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
    FramedStreamParser,
    Provider,
    ProviderOptions,
    StreamParser,
    Target,
    error_from_status,
    load_json,
)
from .framing import NDJSONDecoder
from .native import (
    check_common,
    content_parts,
    dump_arguments,
    error_json,
    function_tools,
    image_url,
    json_headers,
    load_arguments,
    max_tokens,
    mint_call_id,
    parse_data_url,
    read_reasoning,
    reject,
    response_format,
    stop_sequences,
    text_of,
    tool_names,
    tool_result_name,
    tool_result_text,
)

PROVIDER = "ollama"
OPTIONS = {"temperature": "temperature", "top_p": "top_p", "top_k": "top_k", "seed": "seed", "min_p": "min_p",
           "frequency_penalty": "frequency_penalty", "presence_penalty": "presence_penalty",
           "repetition_penalty": "repeat_penalty"}
DONE_REASONS = {"stop": "stop", "length": "length"}
_LEVELS = {"minimal": "low", "low": "low", "medium": "medium", "high": "high", "xhigh": "high", "max": "high"}


class OllamaOptions(ProviderOptions):
    """`providers.<name>` settings of the `ollama` type, beside the common ones: none yet."""


class OllamaProvider(Provider):
    type = "ollama"
    Options = OllamaOptions
    streams_ndjson = True

    def url(self, path: str) -> str:
        base = self.connection.base_url.rstrip("/").removesuffix("/v1").removesuffix("/api")
        return base + path

    def headers(self) -> dict[str, str]:
        # A key is only needed for Ollama behind an authenticating proxy, or ollama.com.
        return json_headers(self.connection, "authorization", "Bearer ")

    def build_chat(self, request: ChatRequest, target: Target) -> UpstreamRequest:
        body = chat_body(request, target)
        return UpstreamRequest("POST", self.url("/api/chat"), self.headers(), orjson.dumps(body))

    def parse_chat(self, body: bytes) -> Completion:
        data = load_json(body)
        if "error" in data:
            raise line_error(data, body)
        content, thinking, calls = read_message(data.get("message") or {})
        reason = data.get("done_reason")
        choice = Choice(index=0, content=content if content or not calls else None, reasoning=thinking or None,
                        tool_calls=calls, finish_reason=finish_reason(reason, bool(calls)),
                        native_finish_reason=reason)
        return Completion(choices=[choice], usage=parse_usage(data), upstream_model=data.get("model"))

    def stream_parser(self, request: ChatRequest, target: Target) -> StreamParser:
        return OllamaStreamParser()

    def parse_error(self, status: int, headers: Mapping[str, str], body: bytes) -> UpstreamError:
        data = error_json(body) or {}
        message = data.get("error")
        if isinstance(message, dict):  # the /v1-style error object
            message = message.get("message")
        return context_errors.classify(
            error_from_status(status, headers, body, message if isinstance(message, str) else None))

    def build_embeddings(self, request: EmbeddingRequest, target: Target) -> UpstreamRequest:
        if not all(isinstance(text, str) for text in request.inputs):
            raise BadRequestError("Ollama embeds text only, not token arrays", metadata={"param": "input"})
        body: dict[str, Any] = {"model": target.model, "input": request.inputs}
        if request.dimensions is not None:
            body["dimensions"] = request.dimensions
        return UpstreamRequest("POST", self.url("/api/embed"), self.headers(), orjson.dumps(body))

    def parse_embeddings(self, body: bytes) -> Embeddings:
        data = load_json(body)
        if "error" in data:
            raise line_error(data, body)
        return Embeddings(vectors=[list(v) for v in data.get("embeddings") or ()],
                          usage=Usage(prompt_tokens=data.get("prompt_eval_count") or 0),
                          upstream_model=data.get("model"))


class OllamaStreamParser(FramedStreamParser):
    """NDJSON lines -> deltas. A tool call arrives whole in one line; the line with done:true ends it."""

    terminal = "done:true"

    def __init__(self) -> None:
        super().__init__(NDJSONDecoder())
        self._started = False
        self._tools = 0

    def item(self, item: bytes, out: list[Delta]) -> None:
        data = load_json(item)
        if "error" in data:
            raise line_error(data, item)
        if not self._started:
            self._started = True
            self.upstream_model = data.get("model")
            out.append(Delta(role="assistant", content=""))
        content, thinking, calls = read_message(data.get("message") or {})
        if thinking:
            out.append(Delta(reasoning=thinking))
        if content:
            out.append(Delta(content=content))
        if calls:
            deltas = [ToolCallDelta(self._tools + i, id=c.id, name=c.name, arguments=c.arguments)
                      for i, c in enumerate(calls)]
            self._tools += len(calls)
            out.append(Delta(tool_calls=deltas))
        if data.get("done"):
            self.done = True
            self.usage = parse_usage(data)
            reason = data.get("done_reason")
            out.append(Delta(finish_reason=finish_reason(reason, self._tools > 0), native_finish_reason=reason))


# -- request -----------------------------------------------------------------------------------

def chat_body(request: ChatRequest, target: Target) -> dict[str, Any]:
    params = request.params
    check_common(params, PROVIDER)
    body: dict[str, Any] = {"model": target.model, "messages": messages(request.messages),
                            "stream": bool(request.stream)}
    options: dict[str, Any] = {}
    for key, native in OPTIONS.items():
        value = params.get(key)
        if isinstance(value, int | float) and not isinstance(value, bool):
            options[native] = value
    limit = max_tokens(params)
    if limit is not None:
        options["num_predict"] = limit
    stop = stop_sequences(params)
    if stop:
        options["stop"] = stop
    if options:
        body["options"] = options
    kind, spec = response_format(params)
    if kind == "json_object":
        body["format"] = "json"
    elif kind == "json_schema" and spec is not None:
        body["format"] = spec["schema"]
    think = think_value(request.reasoning, target.model)
    if think is not None:
        body["think"] = think
    tools = chat_tools(params)
    if tools:
        body["tools"] = tools
    return body


def chat_tools(params: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Ollama cannot force a call: `none` sends no tools, a named function sends only that tool, and
    `required` is dropped like OpenRouter drops what a provider does not support."""
    functions, mode, name = function_tools(params)
    if mode == "none":
        return []
    if mode == "function":
        functions = [fn for fn in functions if fn.get("name") == name]
    return [{"type": "function", "function": fn} for fn in functions]


def think_value(reasoning: Mapping[str, Any] | None, model: str) -> bool | str | None:
    spec = read_reasoning(reasoning)
    if spec is None:
        return None
    if not spec.enabled:
        return False
    if "gpt-oss" in model:  # gpt-oss takes a level instead of on/off
        return _LEVELS[spec.effort or "medium"]
    return True


def messages(source: list[dict[str, Any]]) -> list[dict[str, Any]]:
    names = tool_names(source)
    out: list[dict[str, Any]] = []
    for i, message in enumerate(source):
        role = message.get("role")
        if role in ("system", "developer"):
            out.append({"role": "system", "content": text_of(message.get("content"))})
        elif role == "user":
            out.append(user_message(message.get("content"), f"messages[{i}]"))
        elif role == "assistant":
            item: dict[str, Any] = {"role": "assistant", "content": text_of(message.get("content"))}
            calls = [{"function": {"name": (c.get("function") or {}).get("name"), "arguments": load_arguments(c)}}
                     for c in message.get("tool_calls") or ()]
            if calls:
                item["tool_calls"] = calls
            out.append(item)
        elif role == "tool":
            out.append({"role": "tool", "content": tool_result_text(message.get("content")),
                        "tool_name": tool_result_name(message, names)})
        else:
            raise BadRequestError(f"messages[{i}].role '{role}' is not a chat role")
    return out


def user_message(content: Any, where: str) -> dict[str, Any]:
    texts: list[str] = []
    images: list[str] = []
    for j, part in enumerate(content_parts(content)):
        kind = part.get("type")
        if kind == "text":
            texts.append(part.get("text") or "")
        elif kind == "image_url":
            data = parse_data_url(image_url(part))
            if data is None:
                raise reject(f"{where}.content[{j}].image_url", PROVIDER,
                             "Ollama needs the image bytes: send a data: URL, not a link")
            images.append(data.data)
        else:
            raise reject(f"{where}.content[{j}].type={kind}", PROVIDER)
    message: dict[str, Any] = {"role": "user", "content": "".join(texts)}
    if images:
        message["images"] = images
    return message


# -- response parts shared by parse_chat and the stream parser ----------------------------------

def read_message(message: Mapping[str, Any]) -> tuple[str, str, list[ToolCall]]:
    calls = []
    for call in message.get("tool_calls") or ():
        function = call.get("function") or {}
        calls.append(ToolCall(call.get("id") or mint_call_id(), function.get("name") or "",
                              dump_arguments(function.get("arguments"))))
    return message.get("content") or "", message.get("thinking") or "", calls


def finish_reason(reason: str | None, called_tools: bool) -> str:
    """The finish reason of a final (done) message. Servers before done_reason existed send none:
    the turn simply ended, which is `stop` (or `tool_calls` when it called tools)."""
    mapped = DONE_REASONS.get(reason, "stop") if reason else "stop"
    return "tool_calls" if called_tools and mapped == "stop" else mapped


def parse_usage(data: Mapping[str, Any]) -> Usage:
    return Usage(prompt_tokens=data.get("prompt_eval_count") or 0, completion_tokens=data.get("eval_count") or 0)


def line_error(data: Mapping[str, Any], raw: bytes) -> UpstreamError:
    """An {"error": "..."} body or NDJSON line after HTTP 200: the model failed while running."""
    error = data.get("error")
    message = error if isinstance(error, str) else (error or {}).get("message") if isinstance(error, dict) else None
    return UpstreamError(SERVER, message or "Ollama reported an error", status=200,
                         raw=raw[:4000].decode("utf-8", "replace"))
