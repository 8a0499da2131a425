"""A Responses request body -> canonical ChatRequest (OpenAI chat-shaped messages), keeping the body as
the native body that an endpoint serving the Responses API itself receives (model replaced).

What maps to what (the conversation items are read in items.py):
- `instructions` -> a leading system message; `input` (a string or items) -> messages;
- `tools`: function tools -> chat function tools (`strict` kept); a `custom` tool (free-form input, as
  Codex's apply_patch) -> a function tool taking one string `input`; a `namespace` (a named group of
  function tools) -> its tools. Hosted tools (web_search,
  file_search, code_interpreter, computer_use_preview, mcp, image_generation, local_shell, ...) only run
  where the endpoint is a Responses API itself: the native body keeps them, and the translated request
  keeps them as they are, at their place in `tools`, so every chat endpoint refuses them with a 400
  naming the tool;
- `tool_choice` (auto / none / required / {type: function, name}) and `parallel_tool_calls`;
- `text.format` json_schema / json_object -> response_format; `text.verbosity` -> verbosity;
- `reasoning.effort` -> reasoning effort (`summary` only changes what is rendered);
- `max_output_tokens` -> max_tokens; `temperature`, `top_p`, `top_logprobs`, `user`, `service_tier`;
  `prompt_cache_key` -> session_id (sticky routing, as the cache key intends);
- `metadata`, `store`, `previous_response_id`, `include`, `truncation`, `background: false`,
  `stream_options` are the gateway's own (state, rendering) and never sent to a chat endpoint.
Any other field (clients add their own, e.g. Codex's `client_metadata`) goes to a Responses endpoint in
the native body and is not sent to a chat endpoint: agents send fields faster than any list can follow,
and a 400 would stop them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ...plugins import parse_plugins
from ...types import OPENAI_RESPONSES, ChatRequest, NativeBody
from ..openai_chat.request import check_transforms, transforms
from ..openai_chat.request import load_object as load_body  # noqa: F401 - one depth-bounded JSON loader for every API
from .items import bad, input_items, items_to_messages

FORMAT = OPENAI_RESPONSES
CUSTOM_INPUT = {"type": "object", "properties": {"input": {"type": "string"}}, "required": ["input"],
                "additionalProperties": False}
INCLUDABLE = frozenset({"reasoning.encrypted_content", "message.output_text.logprobs",
                        "web_search_call.action.sources", "web_search_call.results", "code_interpreter_call.outputs",
                        "computer_call_output.output.image_url", "file_search_call.results",
                        "message.input_image.image_url"})



def check_body(data: dict[str, Any]) -> None:
    """The checks that need no history: field names and types."""
    model = data.get("model")
    if model is not None and (not isinstance(model, str) or not model):
        raise bad("model", "must be a model id")
    for name in ("stream", "store", "parallel_tool_calls", "background"):
        if data.get(name) is not None and not isinstance(data[name], bool):
            raise bad(name, "must be true or false")
    check_transforms(data)
    if data.get("background"):
        raise bad("background", "background responses are not supported by this gateway; send background: false")
    for name in ("instructions", "previous_response_id", "user", "safety_identifier", "prompt_cache_key", "service_tier"):
        if data.get(name) is not None and not isinstance(data[name], str):
            raise bad(name, "must be a string")
    for name in ("metadata", "text", "reasoning", "stream_options", "provider"):
        if data.get(name) is not None and not isinstance(data[name], dict):
            raise bad(name, "must be an object")
    include = data.get("include")
    if include is not None:
        if not isinstance(include, list) or not all(isinstance(x, str) for x in include):
            raise bad("include", "must be an array of strings")
        for value in include:
            if value not in INCLUDABLE:
                raise bad("include", f"'{value}' is not a value include accepts")
    limit = data.get("max_output_tokens")
    if limit is not None and (not isinstance(limit, int) or isinstance(limit, bool) or limit < 16):
        raise bad("max_output_tokens", "must be an integer of at least 16")
    for name, low, high in (("temperature", 0, 2), ("top_p", 0, 1), ("top_logprobs", 0, 20)):
        value = data.get(name)
        if value is not None and (not isinstance(value, int | float) or isinstance(value, bool)
                                  or not low <= value <= high):
            raise bad(name, f"must be a number from {low} to {high}")
    if data.get("conversation") is not None:
        raise bad("conversation", "conversations are not supported by this gateway; use previous_response_id")
    if data.get("prompt") is not None:
        raise bad("prompt", "stored prompt templates are not supported by this gateway; send the input")
    if data.get("conversation") is None and data.get("input") is None and data.get("previous_response_id") is None:
        raise bad("input", "Missing required parameter: 'input'")


def parse_responses(data: dict[str, Any], history: list[dict[str, Any]], headers: Mapping[str, str]) -> ChatRequest:
    """A Responses body -> ChatRequest. `history` is the conversation of `previous_response_id` (its input
    and output items), already looked up; the native body carries it expanded in `input`, without
    `previous_response_id`, so any endpoint can continue the conversation."""
    check_body(data)
    items = history + input_items(data.get("input"))
    messages: list[dict[str, Any]] = []
    instructions = data.get("instructions")
    if instructions:
        messages.append({"role": "system", "content": instructions})
    messages.extend(items_to_messages(items))
    params: dict[str, Any] = {}
    tool_params(data, params)
    text_params(data.get("text"), params)
    if data.get("max_output_tokens") is not None:
        params["max_tokens"] = data["max_output_tokens"]
    for name in ("temperature", "top_p", "user", "service_tier", "parallel_tool_calls"):
        if data.get(name) is not None:
            params[name] = data[name]
    if data.get("top_logprobs"):
        params["logprobs"] = True
        params["top_logprobs"] = data["top_logprobs"]
    if data.get("prompt_cache_key"):
        params["session_id"] = data["prompt_cache_key"]
    native = dict(data)
    native.pop("previous_response_id", None)
    native["input"] = items
    models = data.get("models") or []
    if not isinstance(models, list) or not all(isinstance(m, str) and m for m in models):
        raise bad("models", "must be an array of model ids")
    plugins = data.get("plugins") or []
    if not isinstance(plugins, list):
        raise bad("plugins", "must be an array of plugins such as [{\"id\": \"web\"}]")
    parse_plugins(plugins)  # OpenRouter's plugins are honoured here too, or refused naming the entry
    return ChatRequest(model=data.get("model") or "", messages=messages, stream=data.get("stream") is True, models=models,
                       provider=data.get("provider"), reasoning=reasoning(data.get("reasoning")), params=params,
                       headers=dict(headers), native=NativeBody(FORMAT, native), plugins=plugins,
                       transforms=transforms(data))


def reasoning(value: dict[str, Any] | None) -> dict[str, Any] | None:
    if not value:
        return None
    effort = value.get("effort")
    if effort is None:
        return None
    if effort not in ("none", "minimal", "low", "medium", "high", "xhigh"):
        raise bad("reasoning.effort", "must be one of none, minimal, low, medium, high, xhigh")
    return {"enabled": False} if effort == "none" else {"effort": effort}


def tool_params(data: dict[str, Any], params: dict[str, Any]) -> None:
    """Function and custom tools into chat tools; hosted tools kept as they are (chat endpoints refuse them)."""
    tools = data.get("tools")
    if tools is None:
        tools = []
    if not isinstance(tools, list):
        raise bad("tools", "must be an array of tools")
    chat_tools: list[dict[str, Any]] = []
    for i, tool in enumerate(tools):
        kind = tool.get("type") if isinstance(tool, dict) else None
        if not isinstance(kind, str):
            raise bad(f"tools[{i}]", "each tool must be an object with a type")
        if kind == "namespace":  # a named group of function tools (Codex's sub-agent tools): flattened
            inner = tool.get("tools")
            if not isinstance(inner, list):
                raise bad(f"tools[{i}].tools", "a namespace needs an array of tools")
            grouped: dict[str, Any] = {}
            tool_params({"tools": inner}, grouped)
            chat_tools.extend(grouped.get("tools") or ())
        elif kind == "function":
            name = tool.get("name")
            if not isinstance(name, str) or not name:
                raise bad(f"tools[{i}].name", "Missing required parameter: 'tools[{i}].name'")
            function: dict[str, Any] = {"name": name, "parameters": tool.get("parameters") or
                                        {"type": "object", "properties": {}}}
            if tool.get("description"):
                function["description"] = tool["description"]
            if tool.get("strict") is not None:
                function["strict"] = tool["strict"]
            chat_tools.append({"type": "function", "function": function})
        elif kind == "custom":
            function = {"name": tool.get("name"), "parameters": CUSTOM_INPUT}
            if tool.get("description"):
                function["description"] = tool["description"]
            chat_tools.append({"type": "function", "function": function})
        else:
            chat_tools.append(tool)
    if chat_tools:
        params["tools"] = chat_tools
    choice = data.get("tool_choice")
    if choice is not None:
        params["tool_choice"] = tool_choice(choice)


def tool_choice(choice: Any) -> Any:
    if choice in ("auto", "none", "required"):
        return choice
    if isinstance(choice, dict):
        kind = choice.get("type")
        if kind in ("function", "custom") and isinstance(choice.get("name"), str):
            return {"type": "function", "function": {"name": choice["name"]}}
        if kind == "allowed_tools":
            return choice.get("mode") if choice.get("mode") in ("auto", "required") else "auto"
    raise bad("tool_choice", "must be 'auto', 'none', 'required' or {type: 'function', name}")


def text_params(text: dict[str, Any] | None, params: dict[str, Any]) -> None:
    if not text:
        return
    fmt = text.get("format")
    if isinstance(fmt, dict):
        kind = fmt.get("type")
        if kind == "json_schema":
            if not isinstance(fmt.get("schema"), dict) or not isinstance(fmt.get("name"), str):
                raise bad("text.format", "a json_schema format needs a name and a schema object")
            schema: dict[str, Any] = {"name": fmt["name"], "schema": fmt["schema"]}
            for name in ("strict", "description"):
                if fmt.get(name) is not None:
                    schema[name] = fmt[name]
            params["response_format"] = {"type": "json_schema", "json_schema": schema}
        elif kind == "json_object":
            params["response_format"] = {"type": "json_object"}
        elif kind not in ("text", None):
            raise bad("text.format.type", "must be 'text', 'json_schema' or 'json_object'")
    elif fmt is not None:
        raise bad("text.format", "must be an object")
    if text.get("verbosity") is not None:
        params["verbosity"] = text["verbosity"]
