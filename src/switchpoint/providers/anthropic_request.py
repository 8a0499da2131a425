"""OpenAI chat request -> Anthropic Messages request body (POST /v1/messages)."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

from ..errors import BadRequestError
from ..types import ChatRequest
from .base import Target
from .native import (
    append_turn,
    chat_turns,
    check_common,
    content_parts,
    function_tools,
    image_url,
    load_arguments,
    max_tokens,
    parse_data_url,
    read_reasoning,
    reasoning_details,
    reject,
    response_format,
    split_system,
    stop_sequences,
    text_of,
)

PROVIDER = "anthropic"
DEFAULT_MAX_TOKENS = 4096
MIN_THINKING_BUDGET = 1024  # Anthropic rejects smaller budgets
MAX_THINKING_BUDGET = 128000
REASONING_FORMAT = "anthropic-claude-v1"
STRUCTURED_OUTPUTS_BETA = "structured-outputs-2025-11-13"


def messages_body(request: ChatRequest, target: Target) -> tuple[dict[str, Any], list[str]]:
    """(body, anthropic-beta features the body needs)."""
    params = request.params
    check_common(params, PROVIDER)
    betas: list[str] = []
    system_messages, rest = split_system(request.messages)
    body: dict[str, Any] = {"model": target.model, "max_tokens": 0, "messages": conversation(rest)}
    system = system_blocks(system_messages)
    if system:
        body["system"] = system
    limit = max_tokens(params) or target.max_output_tokens or DEFAULT_MAX_TOKENS
    body["max_tokens"] = limit
    thinking = apply_thinking(body, request.reasoning, limit, target)
    apply_sampling(body, params, thinking)
    stop = stop_sequences(params)
    if stop:
        body["stop_sequences"] = stop
    apply_tools(body, params, structured=_has_beta(request, STRUCTURED_OUTPUTS_BETA))
    kind, spec = response_format(params)
    if kind == "json_object":
        raise reject("response_format", PROVIDER, "json_object has no Anthropic equivalent; use json_schema")
    if kind == "json_schema" and spec is not None:
        body["output_format"] = {"type": "json_schema", "schema": spec["schema"]}
        betas.append(STRUCTURED_OUTPUTS_BETA)
    user = params.get("user")
    if isinstance(user, str) and user:
        body["metadata"] = {"user_id": hashlib.sha256(user.encode()).hexdigest()[:32]}
    if isinstance(params.get("cache_control"), dict):
        body["cache_control"] = params["cache_control"]
    if request.stream:
        body["stream"] = True
    return body, betas


def apply_sampling(body: dict[str, Any], params: Mapping[str, Any], thinking: bool) -> None:
    temperature, top_p, top_k = params.get("temperature"), params.get("top_p"), params.get("top_k")
    # Extended thinking accepts no temperature/top_k change and top_p only from 0.95: OpenRouter
    # drops sampling parameters a provider cannot take, and so do we.
    if isinstance(temperature, int | float) and not thinking:
        body["temperature"] = min(float(temperature), 1.0)
    if isinstance(top_p, int | float) and (not thinking or top_p >= 0.95):
        body["top_p"] = top_p
    if isinstance(top_k, int) and top_k > 0 and not thinking:
        body["top_k"] = top_k


def apply_thinking(body: dict[str, Any], reasoning: Mapping[str, Any] | None, limit: int, target: Target) -> bool:
    spec = read_reasoning(reasoning)
    if spec is None or not spec.enabled:
        return False
    budget = spec.budget(limit, MIN_THINKING_BUDGET, MAX_THINKING_BUDGET)
    if budget >= limit:  # max_tokens must leave room for the answer after the thinking budget
        ceiling = target.max_output_tokens
        limit = budget + DEFAULT_MAX_TOKENS if ceiling is None else min(budget + DEFAULT_MAX_TOKENS, ceiling)
        budget = min(budget, max(MIN_THINKING_BUDGET, limit - 1))
        body["max_tokens"] = limit
    body["thinking"] = {"type": "enabled", "budget_tokens": budget}
    return True


def apply_tools(body: dict[str, Any], params: Mapping[str, Any], structured: bool) -> None:
    functions, mode, name = function_tools(params)
    if not functions:
        return
    tools = []
    for fn in functions:
        tool: dict[str, Any] = {"name": fn.get("name"), "input_schema": fn.get("parameters") or
                                {"type": "object", "properties": {}}}
        if fn.get("description"):
            tool["description"] = fn["description"]
        if fn.get("strict") and structured:
            tool["strict"] = True
        if isinstance(fn.get("cache_control"), dict):
            tool["cache_control"] = fn["cache_control"]
        tools.append(tool)
    body["tools"] = tools
    choice: dict[str, Any] | None = None
    if mode == "function":
        choice = {"type": "tool", "name": name}
    elif mode is not None:
        choice = {"type": {"auto": "auto", "required": "any", "none": "none"}[mode]}
    if params.get("parallel_tool_calls") is False:
        choice = choice or {"type": "auto"}
        if choice["type"] != "none":
            choice["disable_parallel_tool_use"] = True
    if choice is not None:
        body["tool_choice"] = choice


# -- messages ----------------------------------------------------------------------------------

def system_blocks(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    blocks = []
    for message in messages:
        for part in content_parts(message.get("content")):
            if part.get("type") == "text" and part.get("text"):
                blocks.append(_with_cache({"type": "text", "text": part["text"]}, part))
    return blocks


def conversation(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """User/assistant turns; tool results go into user turns and adjacent same-role turns merge."""
    turns: list[dict[str, Any]] = []
    for i, role, message in chat_turns(messages):
        if role == "user":
            append_turn(turns, "user", user_blocks(message.get("content"), f"messages[{i}]"), "content")
        elif role == "assistant":
            append_turn(turns, "assistant", assistant_blocks(message), "content")
        else:
            append_turn(turns, "user", [tool_result(message)], "content")
    return turns


def user_blocks(content: Any, where: str) -> list[dict[str, Any]]:
    blocks = []
    for j, part in enumerate(content_parts(content)):
        kind = part.get("type")
        if kind == "text":
            if part.get("text"):
                blocks.append(_with_cache({"type": "text", "text": part["text"]}, part))
        elif kind == "image_url":
            blocks.append(_with_cache({"type": "image", "source": _source(image_url(part))}, part))
        elif kind == "file":
            blocks.append(_with_cache(_document(part, f"{where}.content[{j}]"), part))
        else:
            raise reject(f"{where}.content[{j}].type={kind}", PROVIDER)
    return blocks


def assistant_blocks(message: dict[str, Any]) -> list[dict[str, Any]]:
    blocks: list[dict[str, Any]] = []
    for detail in reasoning_details(message, REASONING_FORMAT):
        if detail.get("type") == "reasoning.text" and detail.get("signature"):
            blocks.append({"type": "thinking", "thinking": detail.get("text") or "", "signature": detail["signature"]})
        elif detail.get("type") == "reasoning.encrypted" and detail.get("data"):
            blocks.append({"type": "redacted_thinking", "data": detail["data"]})
    content = message.get("content")
    if isinstance(content, list):
        for part in content_parts(content):
            if part.get("type") == "text" and (part.get("text") or "").strip():
                blocks.append(_with_cache({"type": "text", "text": part["text"]}, part))
    elif text_of(content).strip():  # Anthropic rejects empty and whitespace-only text blocks
        blocks.append({"type": "text", "text": text_of(content)})
    for call in message.get("tool_calls") or ():
        blocks.append({"type": "tool_use", "id": call.get("id"), "name": (call.get("function") or {}).get("name"),
                       "input": load_arguments(call)})
    return blocks


def tool_result(message: dict[str, Any]) -> dict[str, Any]:
    content = message.get("content")
    block: dict[str, Any] = {"type": "tool_result", "tool_use_id": message.get("tool_call_id")}
    if isinstance(content, list):
        block["content"] = user_blocks(content, "tool result")
    else:
        block["content"] = text_of(content)
    return block


def _source(url: str) -> dict[str, Any]:
    data = parse_data_url(url)
    if data is not None:
        return {"type": "base64", "media_type": data.media_type, "data": data.data}
    if url.startswith(("http://", "https://")):
        return {"type": "url", "url": url}
    raise BadRequestError(f"image URL must be http(s) or a data URL, got '{url[:40]}'")


def _document(part: dict[str, Any], where: str) -> dict[str, Any]:
    file = part.get("file") or {}
    data = file.get("file_data")
    if not isinstance(data, str):
        raise reject(f"{where}.file.file_id", PROVIDER, "send the file inline as file_data")
    source = _source(data)
    if source["type"] == "base64" and source["media_type"] != "application/pdf":
        raise reject(f"{where}.file", PROVIDER, f"documents must be PDF, got {source['media_type']}")
    block: dict[str, Any] = {"type": "document", "source": source}
    if file.get("filename"):
        block["title"] = file["filename"]
    return block


def _with_cache(block: dict[str, Any], part: Mapping[str, Any]) -> dict[str, Any]:
    if isinstance(part.get("cache_control"), dict):
        block["cache_control"] = part["cache_control"]
    return block


def _has_beta(request: ChatRequest, feature: str) -> bool:
    return feature in client_betas(request)


def client_betas(request: ChatRequest) -> list[str]:
    """Beta features the client asked for with an x-anthropic-beta (or anthropic-beta) header."""
    out: list[str] = []
    for name, value in request.headers.items():
        if name.lower() in ("x-anthropic-beta", "anthropic-beta"):
            out.extend(v.strip() for v in value.split(",") if v.strip())
    return out
