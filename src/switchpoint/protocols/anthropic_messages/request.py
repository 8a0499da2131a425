"""A Messages request body -> canonical ChatRequest (OpenAI-shaped messages), keeping the body itself as
the native body an Anthropic endpoint receives unchanged.

What maps to what:
- `system` (string or text blocks, with cache_control) -> one system message of text parts, and a
  `system` turn inside `messages` (as Claude Code sends) -> a system message at that place;
- user blocks: text, image (base64 / url), document (base64 or url PDF, plain text, content blocks),
  search_result -> OpenAI content parts; `tool_result` blocks -> `tool` messages placed before the
  user's other blocks (content as string or blocks; `is_error` prefixes the text with "Error: ");
- assistant blocks: text -> content, `tool_use` -> tool_calls (input as JSON text), `thinking` (with its
  signature) and `redacted_thinking` -> reasoning_details in Anthropic's format, which only Anthropic
  endpoints read back (others drop them, as they would any foreign signature); server-tool blocks
  (server_tool_use, *_tool_result) only mean something to Anthropic and are dropped for others;
- `tools`: custom tools -> function tools (cache_control kept; a `defer_loading` tool only once a tool
  search has referenced it); Anthropic-defined and server tools
  (web_search_20250305, bash_20250124, ...) stay as they are: only an Anthropic endpoint serves them and
  every other provider type refuses them with a 400 naming the tool;
- `tool_choice` auto/any/tool/none (+ disable_parallel_tool_use) -> tool_choice / parallel_tool_calls;
- `thinking` enabled with budget_tokens -> reasoning.max_tokens; adaptive -> reasoning enabled (effort
  from output_config.effort when given); disabled -> reasoning off;
- `max_tokens`, `stop_sequences`, `temperature`, `top_p`, `top_k`, `metadata.user_id` (-> user),
  `output_format` / `output_config.format` json_schema (-> response_format), top-level `cache_control`;
- OpenRouter's `provider` preferences, `models` fallbacks and `transforms` steer routing as on chat
  completions and are removed from the body an Anthropic endpoint receives;
- everything else (context_management, container, mcp_servers, service_tier, inference_geo, ...) is
  honoured by Anthropic endpoints through the native body and ignored by others, never refused.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import orjson

from ...errors import BadRequestError
from ...types import ANTHROPIC_MESSAGES, ChatRequest, NativeBody
from ..openai_chat.request import check_transforms, transforms
from ..openai_chat.request import load_object as load_body  # noqa: F401 - one depth-bounded JSON loader for every API

FORMAT = ANTHROPIC_MESSAGES
REASONING_FORMAT = "anthropic-claude-v1"  # the reasoning_details format the Anthropic provider reads back
PASSED_HEADERS = frozenset({"anthropic-version", "anthropic-beta"})
SERVER_RESULT_SUFFIX = "_tool_result"
CUSTOM_TOOL_TYPES = frozenset({None, "custom"})
MAX_USER = 256  # the ledger's external_user column; Claude Code's user_id (a JSON object as text) is ~150
# OpenRouter's routing extras, accepted on this API too; they steer the gateway and never go upstream.
GATEWAY_FIELDS = frozenset({"provider", "models", "transforms"})


def bad(where: str, problem: str) -> BadRequestError:
    return BadRequestError(f"{where}: {problem}", metadata={"param": where})



def parse_messages(data: dict[str, Any], headers: Mapping[str, str], resolve: Callable[[str], str]) -> ChatRequest:
    """A Messages body (already parsed JSON) -> ChatRequest; `resolve` maps its model name to a catalogue id."""
    model = data.get("model")
    if model is not None and not isinstance(model, str):
        raise bad("model", "must be a string")
    max_tokens = data.get("max_tokens")
    if not isinstance(max_tokens, int) or isinstance(max_tokens, bool) or max_tokens < 1:
        raise bad("max_tokens", "Field required: a positive integer")
    turns = data.get("messages")
    if not isinstance(turns, list):
        raise bad("messages", "Field required: an array of messages")
    messages = system_messages(data.get("system"))
    for i, turn in enumerate(turns):
        messages.extend(turn_messages(turn, f"messages.{i}"))
    params: dict[str, Any] = {"max_tokens": max_tokens}
    sampling(data, params)
    tool_params(data, params)
    output_format(data, params)
    user = (data.get("metadata") or {}).get("user_id") if isinstance(data.get("metadata"), dict) else None
    if isinstance(user, str) and user:
        params["user"] = user[:MAX_USER]
    if isinstance(data.get("cache_control"), dict):
        params["cache_control"] = data["cache_control"]
    stream = data.get("stream") is True
    passed = {k: v for k, v in headers.items() if k in PASSED_HEADERS}
    provider = data.get("provider")
    if provider is not None and not isinstance(provider, dict):
        raise bad("provider", "must be an object of provider preferences")
    fallbacks = data.get("models")
    if fallbacks is not None and not (isinstance(fallbacks, list) and all(isinstance(m, str) for m in fallbacks)):
        raise bad("models", "must be an array of model ids")
    check_transforms(data)
    steering = provider or fallbacks or "transforms" in data
    native = {k: v for k, v in data.items() if k not in GATEWAY_FIELDS} if steering else data
    return ChatRequest(model=resolve(model) if model else "", messages=messages, stream=stream,
                       reasoning=reasoning(data), models=[resolve(m) for m in fallbacks or ()], provider=provider,
                       params=params, headers=_beta_headers(passed), native=NativeBody(FORMAT, native, passed),
                       transforms=transforms(data), session_id=headers.get("x-session-id") or None,
                       model_resolved=True)


def _beta_headers(passed: dict[str, str]) -> dict[str, str]:
    """The betas also reach an Anthropic endpoint serving a translated request."""
    beta = passed.get("anthropic-beta")
    return {"anthropic-beta": beta} if beta else {}


# -- system and turns ----------------------------------------------------------------------------

def system_messages(system: Any) -> list[dict[str, Any]]:
    if system is None or system == "":
        return []
    if isinstance(system, str):
        return [{"role": "system", "content": system}]
    if not isinstance(system, list):
        raise bad("system", "must be a string or an array of text blocks")
    parts = []
    for i, block in enumerate(system):
        if not isinstance(block, dict) or block.get("type") != "text" or not isinstance(block.get("text"), str):
            raise bad(f"system.{i}", "must be a text block")
        parts.append(_with_cache({"type": "text", "text": block["text"]}, block))
    return [{"role": "system", "content": parts}] if parts else []


def turn_messages(turn: Any, where: str) -> list[dict[str, Any]]:
    if not isinstance(turn, dict):
        raise bad(where, "must be an object with a role and content")
    role = turn.get("role")
    content = turn.get("content")
    if role not in ("user", "assistant", "system"):
        raise bad(f"{where}.role", "must be 'user', 'assistant' or 'system'")
    if isinstance(content, str):
        return [{"role": role, "content": content}]
    if role == "system":  # a system turn within the conversation (Claude Code sends them)
        return [{"role": "system", "content": system_messages(content)[0]["content"]}] if content else []
    if not isinstance(content, list):
        raise bad(f"{where}.content", "must be a string or an array of content blocks")
    blocks = []
    for j, block in enumerate(content):
        if not isinstance(block, dict) or not isinstance(block.get("type"), str):
            raise bad(f"{where}.content.{j}", "each content block must be an object with a type")
        blocks.append(block)
    if role == "user":
        return user_messages(blocks, f"{where}.content")
    message = assistant_message(blocks, f"{where}.content")
    return [message] if message is not None else []


def user_messages(blocks: list[dict[str, Any]], where: str) -> list[dict[str, Any]]:
    """Tool results become `tool` messages (first, as OpenAI wants them right after the calls); the
    other blocks one user message."""
    out: list[dict[str, Any]] = []
    parts: list[dict[str, Any]] = []
    for j, block in enumerate(blocks):
        if block["type"] == "tool_result":
            out.append(tool_message(block, f"{where}.{j}"))
        else:
            parts.extend(user_parts(block, f"{where}.{j}"))
    if parts:
        out.append({"role": "user", "content": parts})
    return out


def user_parts(block: dict[str, Any], where: str) -> list[dict[str, Any]]:
    kind = block["type"]
    if kind == "text":
        if not isinstance(block.get("text"), str):
            raise bad(f"{where}.text", "Field required")
        return [_with_cache({"type": "text", "text": block["text"]}, block)]
    if kind == "image":
        return [_with_cache({"type": "image_url", "image_url": {"url": source_url(block, where)}}, block)]
    if kind == "document":
        return document_parts(block, where)
    if kind == "search_result":
        text = "".join(b.get("text") or "" for b in block.get("content") or () if isinstance(b, dict))
        return [{"type": "text", "text": f"{block.get('title') or ''} ({block.get('source') or ''})\n{text}"}]
    if kind in ("thinking", "redacted_thinking", "tool_use"):
        raise bad(f"{where}.type", f"'{kind}' blocks belong in assistant turns")
    return []  # e.g. container_upload: meaningful only to an Anthropic endpoint, which gets the native body


def source_url(block: Mapping[str, Any], where: str) -> str:
    source = block.get("source")
    if not isinstance(source, dict):
        raise bad(f"{where}.source", "Field required")
    kind = source.get("type")
    if kind == "base64":
        media, data = source.get("media_type"), source.get("data")
        if not isinstance(media, str) or not isinstance(data, str):
            raise bad(f"{where}.source", "base64 sources need media_type and data")
        return f"data:{media};base64,{data}"
    if kind == "url" and isinstance(source.get("url"), str):
        return source["url"]
    if kind == "file":
        raise bad(f"{where}.source", "file sources (the Files API) are only served by Anthropic endpoints "
                                     "with the files beta; send the file inline as base64")
    raise bad(f"{where}.source.type", "must be base64 or url")


def document_parts(block: dict[str, Any], where: str) -> list[dict[str, Any]]:
    source = _object(block.get("source"))
    title = block.get("title")
    kind = source.get("type")
    if kind == "text":
        text = source.get("data") or ""
        return [_with_cache({"type": "text", "text": f"{title}\n{text}" if title else text}, block)]
    if kind == "content":
        inner = source.get("content")
        if isinstance(inner, str):
            return [{"type": "text", "text": inner}]
        parts: list[dict[str, Any]] = []
        for k, item in enumerate(inner or ()):
            if isinstance(item, dict) and isinstance(item.get("type"), str):
                parts.extend(user_parts(item, f"{where}.source.content.{k}"))
        return parts
    file: dict[str, Any] = {"file_data": source_url(block, where)}
    if isinstance(title, str) and title:
        file["filename"] = title
    return [_with_cache({"type": "file", "file": file}, block)]


def tool_message(block: dict[str, Any], where: str) -> dict[str, Any]:
    call_id = block.get("tool_use_id")
    if not isinstance(call_id, str) or not call_id:
        raise bad(f"{where}.tool_use_id", "Field required")
    content = block.get("content")
    error = block.get("is_error") is True
    if content is None or isinstance(content, str):
        text = content or ""
        return {"role": "tool", "tool_call_id": call_id, "content": f"Error: {text}" if error else text}
    if not isinstance(content, list):
        raise bad(f"{where}.content", "must be a string or an array of content blocks")
    parts: list[dict[str, Any]] = []
    for k, item in enumerate(content):
        if not isinstance(item, dict) or not isinstance(item.get("type"), str):
            raise bad(f"{where}.content.{k}", "each content block must be an object with a type")
        parts.extend(user_parts(item, f"{where}.content.{k}"))
    if error:
        parts.insert(0, {"type": "text", "text": "Error: "})
    if all(p["type"] == "text" and "cache_control" not in p for p in parts):
        return {"role": "tool", "tool_call_id": call_id, "content": "".join(p["text"] for p in parts)}
    return {"role": "tool", "tool_call_id": call_id, "content": parts}


def assistant_message(blocks: list[dict[str, Any]], where: str) -> dict[str, Any] | None:
    parts: list[dict[str, Any]] = []
    calls: list[dict[str, Any]] = []
    details: list[dict[str, Any]] = []
    for j, block in enumerate(blocks):
        kind = block["type"]
        if kind == "text":
            if isinstance(block.get("text"), str) and block["text"]:
                parts.append(_with_cache({"type": "text", "text": block["text"]}, block))
        elif kind == "tool_use":
            calls.append(tool_call(block, f"{where}.{j}"))
        elif kind == "thinking":
            details.append({"type": "reasoning.text", "text": block.get("thinking") or "",
                            "signature": block.get("signature"), "format": REASONING_FORMAT, "index": len(details)})
        elif kind == "redacted_thinking":
            details.append({"type": "reasoning.encrypted", "data": block.get("data") or "",
                            "format": REASONING_FORMAT, "index": len(details)})
        # server_tool_use, *_tool_result, mcp_tool_use ...: run by Anthropic, meaningful only there
    if not parts and not calls and not details:
        return None
    message: dict[str, Any] = {"role": "assistant"}
    if parts and all("cache_control" not in p for p in parts):
        message["content"] = "".join(p["text"] for p in parts)
    else:
        message["content"] = parts or None
    if calls:
        message["tool_calls"] = calls
    if details:
        message["reasoning_details"] = details
    return message


def tool_call(block: dict[str, Any], where: str) -> dict[str, Any]:
    call_id, name = block.get("id"), block.get("name")
    if not isinstance(call_id, str) or not isinstance(name, str):
        raise bad(where, "tool_use blocks need an id and a name")
    arguments = block.get("input")
    text = orjson.dumps(arguments if arguments is not None else {}).decode()
    return {"id": call_id, "type": "function", "function": {"name": name, "arguments": text}}


def _object(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _with_cache(part: dict[str, Any], block: Mapping[str, Any]) -> dict[str, Any]:
    if isinstance(block.get("cache_control"), dict):
        part["cache_control"] = block["cache_control"]
    return part


# -- parameters ----------------------------------------------------------------------------------

def sampling(data: Mapping[str, Any], params: dict[str, Any]) -> None:
    for name in ("temperature", "top_p"):
        value = data.get(name)
        if value is not None:
            if not isinstance(value, int | float) or isinstance(value, bool):
                raise bad(name, "must be a number")
            params[name] = value
    top_k = data.get("top_k")
    if top_k is not None:
        if not isinstance(top_k, int) or isinstance(top_k, bool):
            raise bad("top_k", "must be an integer")
        params["top_k"] = top_k
    stop = data.get("stop_sequences")
    if stop:
        if not isinstance(stop, list) or not all(isinstance(s, str) for s in stop):
            raise bad("stop_sequences", "must be an array of strings")
        params["stop"] = stop


def tool_params(data: Mapping[str, Any], params: dict[str, Any]) -> None:
    tools = data.get("tools")
    if tools:
        if not isinstance(tools, list):
            raise bad("tools", "must be an array")
        found = referenced_tools(data.get("messages"))
        params["tools"] = [canonical_tool(tool, f"tools.{i}") for i, tool in enumerate(tools)
                           if not (isinstance(tool, dict) and tool.get("defer_loading") is True
                                   and tool.get("name") not in found)]
    choice = data.get("tool_choice")
    if choice is None:
        return
    if not isinstance(choice, dict):
        raise bad("tool_choice", "must be an object with a type")
    kind = choice.get("type")
    if kind == "auto":
        params["tool_choice"] = "auto"
    elif kind == "any":
        params["tool_choice"] = "required"
    elif kind == "none":
        params["tool_choice"] = "none"
    elif kind == "tool" and isinstance(choice.get("name"), str):
        params["tool_choice"] = {"type": "function", "function": {"name": choice["name"]}}
    else:
        raise bad("tool_choice.type", "must be auto, any, tool (with a name) or none")
    if choice.get("disable_parallel_tool_use") is True and kind != "none":
        params["parallel_tool_calls"] = False


def referenced_tools(turns: Any) -> set[str]:
    """Names of deferred tools (`defer_loading`) a tool search has loaded: the `tool_reference` blocks in
    tool results. Until then Anthropic keeps a deferred tool out of the model's context, and so do we."""
    found: set[str] = set()
    for turn in turns if isinstance(turns, list) else ():
        for block in turn.get("content") or () if isinstance(turn, dict) and isinstance(turn.get("content"), list) else ():
            if isinstance(block, dict) and block.get("type") == "tool_result" and isinstance(block.get("content"), list):
                found.update(item["tool_name"] for item in block["content"] if isinstance(item, dict)
                             and item.get("type") == "tool_reference" and isinstance(item.get("tool_name"), str))
    return found


def canonical_tool(tool: Any, where: str) -> dict[str, Any]:
    if not isinstance(tool, dict) or not isinstance(tool.get("name"), str):
        raise bad(where, "each tool needs a name")
    kind = tool.get("type")
    if kind not in CUSTOM_TOOL_TYPES:
        return dict(tool)  # Anthropic-defined or server tool: only an Anthropic endpoint can serve it
    schema = tool.get("input_schema")
    if not isinstance(schema, dict):
        raise bad(f"{where}.input_schema", "Field required")
    function: dict[str, Any] = {"name": tool["name"], "parameters": schema}
    if isinstance(tool.get("description"), str):
        function["description"] = tool["description"]
    if tool.get("strict") is True:
        function["strict"] = True
    if isinstance(tool.get("cache_control"), dict):
        function["cache_control"] = tool["cache_control"]
    return {"type": "function", "function": function}


def output_format(data: Mapping[str, Any], params: dict[str, Any]) -> None:
    config = _object(data.get("output_config"))
    fmt = data.get("output_format") or config.get("format")
    if isinstance(fmt, dict) and fmt.get("type") == "json_schema" and isinstance(fmt.get("schema"), dict):
        params["response_format"] = {"type": "json_schema",
                                     "json_schema": {"name": "output", "schema": fmt["schema"], "strict": True}}


def reasoning(data: Mapping[str, Any]) -> dict[str, Any] | None:
    thinking = data.get("thinking")
    if thinking is None:
        return None
    if not isinstance(thinking, dict):
        raise bad("thinking", "must be an object with a type")
    kind = thinking.get("type")
    if kind == "disabled":
        return {"enabled": False}
    if kind == "enabled":
        budget = thinking.get("budget_tokens")
        if not isinstance(budget, int) or isinstance(budget, bool) or budget < 1:
            raise bad("thinking.budget_tokens", "Field required: a positive integer")
        return {"max_tokens": budget}
    if kind == "adaptive":
        config = _object(data.get("output_config"))
        effort = config.get("effort")
        return {"effort": effort} if effort in ("low", "medium", "high", "max") else {"enabled": True}
    raise bad("thinking.type", "must be enabled, adaptive or disabled")


def estimate_input_tokens(data: Mapping[str, Any]) -> int:
    """A conservative count for count_tokens when no Anthropic endpoint can count: one token per three
    bytes of the JSON of what the model reads (system, messages, tools), rounded up. Real tokenizers
    average three and a half to four bytes a token on English text and code, so this errs high."""
    counted = {k: data[k] for k in ("system", "messages", "tools") if k in data}
    size = len(orjson.dumps(counted))
    return max(1, -(-size // 3))
