"""Request bodies -> canonical requests. Every problem is a 400 that names the field."""

from __future__ import annotations

from typing import Any, cast

import orjson

from ...errors import BadRequestError
from ...types import ROUTING_KEYS, ChatRequest, EmbeddingRequest

ROLES = frozenset({"system", "developer", "user", "assistant", "tool", "function"})
PART_TYPES = frozenset({"text", "image_url", "input_audio", "file", "video_url", "input_text", "input_image"})
EFFORTS = frozenset({"max", "xhigh", "high", "medium", "low", "minimal", "none"})
ATTRIBUTION = ("http-referer", "x-title", "x-openrouter-title", "x-openrouter-categories", "x-anthropic-beta")
MAX_FALLBACK_MODELS = 3

_RANGES: dict[str, tuple[type | tuple[type, ...], float | None, float | None]] = {
    "temperature": ((int, float), 0, 2), "top_p": ((int, float), 0, 1), "top_k": (int, 0, None),
    "min_p": ((int, float), 0, 1), "top_a": ((int, float), 0, 1),
    "frequency_penalty": ((int, float), -2, 2), "presence_penalty": ((int, float), -2, 2),
    "repetition_penalty": ((int, float), 0, 2), "max_tokens": (int, 1, None),
    "max_completion_tokens": (int, 1, None), "n": (int, 1, 128), "seed": (int, None, None),
    "top_logprobs": (int, 0, 20),
}


def bad(field: str, problem: str) -> BadRequestError:
    return BadRequestError(f"{field}: {problem}", metadata={"param": field})


def load_object(body: bytes) -> dict[str, Any]:
    if not body:
        raise BadRequestError("The request body is empty; send a JSON object.")
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise BadRequestError(f"The request body is not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise BadRequestError("The request body must be a JSON object.")
    return data


def parse_chat(body: bytes, headers: dict[str, str], *, legacy: bool = False) -> ChatRequest:
    data = load_object(body)
    model, models = _models(data)
    messages: Any  # checked below
    if legacy:
        messages = [{"role": "user", "content": _prompt(data.get("prompt"))}]
    else:
        messages = data.get("messages")  # checked below
        if messages is None and "prompt" in data:
            messages = [{"role": "user", "content": _prompt(data.get("prompt"))}]
        _messages(messages)
    stream = data.get("stream", False)
    if stream is None:
        stream = False
    if not isinstance(stream, bool):
        raise bad("stream", "must be true or false")
    for name in _RANGES.keys() & data.keys():
        if data[name] is not None:
            _number(name, data[name], *_RANGES[name])
    _stop(data.get("stop"))
    _tools(data.get("tools"), data.get("tool_choice"))
    _response_format(data.get("response_format"))
    for name in ("provider", "metadata", "logit_bias", "stream_options", "usage", "prediction"):
        if data.get(name) is not None and not isinstance(data[name], dict):
            raise bad(name, "must be an object")
    for name in ("user", "session_id"):
        if data.get(name) is not None and not isinstance(data[name], str):
            raise bad(name, "must be a string")
    for name in ("logprobs", "parallel_tool_calls"):
        if data.get(name) is not None and not isinstance(data[name], bool):
            raise bad(name, "must be true or false")
    params = {k: v for k, v in data.items() if k not in ROUTING_KEYS and k != "prompt"}
    return ChatRequest(
        model=model, messages=messages, stream=stream, models=models, provider=_route(data),
        reasoning=_reasoning(data), params=params, legacy_prompt=legacy,
        headers={k: v for k, v in headers.items() if k in ATTRIBUTION},
    )


def _route(data: dict[str, Any]) -> dict[str, Any] | None:
    """The deprecated `route` is an alias for `provider.sort.partition` ("fallback" -> "model",
    "sort" -> "none"); a partition given in `provider.sort` wins."""
    provider, route = data.get("provider"), data.get("route")
    if route is None:
        return provider
    if route not in _ROUTES:
        raise bad("route", "must be 'fallback' or 'sort' (deprecated: use provider.sort.partition)")
    sort = (provider or {}).get("sort")
    if isinstance(sort, dict):
        if sort.get("partition") is not None:
            return provider
        sort = {**sort, "partition": _ROUTES[route]}
    elif isinstance(sort, str):
        sort = {"by": sort, "partition": _ROUTES[route]}
    elif sort is None:
        sort = {"partition": _ROUTES[route]}
    else:
        return provider  # a malformed sort is reported by the provider preferences
    return {**(provider or {}), "sort": sort}


_ROUTES = {"fallback": "model", "sort": "none"}


def parse_embeddings(body: bytes) -> EmbeddingRequest:
    data = load_object(body)
    model = data.get("model")
    if not isinstance(model, str) or not model:
        raise bad("model", "required: an embedding model id such as openai/text-embedding-3-small")
    raw = data.get("input")
    if isinstance(raw, str):
        inputs: list[Any] = [raw]
    elif isinstance(raw, list) and raw and all(isinstance(x, int) for x in raw):
        inputs = [raw]
    elif isinstance(raw, list) and raw and all(isinstance(x, str | list) for x in raw):
        inputs = raw
    else:
        raise bad("input", "must be a string, an array of strings, or token arrays (non-empty)")
    encoding = data.get("encoding_format") or "float"
    if encoding not in ("float", "base64"):
        raise bad("encoding_format", "must be 'float' or 'base64'")
    dimensions = data.get("dimensions")
    if dimensions is not None:
        _number("dimensions", dimensions, int, 1, None)
    provider = data.get("provider")
    if provider is not None and not isinstance(provider, dict):
        raise bad("provider", "must be an object")
    params = {k: v for k, v in data.items()
              if k not in ("model", "input", "encoding_format", "dimensions", "provider", "models")}
    return EmbeddingRequest(model=model, inputs=inputs, encoding_format=encoding, dimensions=dimensions,
                            provider=provider, params=params)


def _models(data: dict[str, Any]) -> tuple[str, list[str]]:
    models = data.get("models") or []
    if models and (not isinstance(models, list) or not all(isinstance(m, str) and m for m in models)):
        raise bad("models", "must be an array of model ids")
    if len(models) > MAX_FALLBACK_MODELS:
        raise bad("models", f"'models' array must have {MAX_FALLBACK_MODELS} items or fewer.")
    model = data.get("model")
    if model is None and models:
        model = models[0]
    if not isinstance(model, str) or not model:
        raise bad("model", "required: a model id such as openai/gpt-4o-mini")
    return model, models


def _prompt(prompt: Any) -> str:
    if isinstance(prompt, list) and len(prompt) == 1 and isinstance(prompt[0], str):
        prompt = prompt[0]
    if not isinstance(prompt, str):
        raise bad("prompt", "must be a string (one prompt per request)")
    return prompt


def _messages(messages: Any) -> None:
    if not isinstance(messages, list) or not messages:
        raise bad("messages", "required: a non-empty array of messages")
    for i, message in enumerate(messages):
        where = f"messages[{i}]"
        if not isinstance(message, dict):
            raise bad(where, "must be an object with a role and content")
        role = message.get("role")
        if role not in ROLES:
            raise bad(f"{where}.role", f"must be one of {', '.join(sorted(ROLES))}")
        content = message.get("content")
        if isinstance(content, list):
            for j, part in enumerate(content):
                _part(f"{where}.content[{j}]", part)
        elif content is not None and not isinstance(content, str):
            raise bad(f"{where}.content", "must be a string, an array of content parts, or null")
        elif content is None and role in ("user", "system", "developer"):
            raise bad(f"{where}.content", "required for this role")
        if role == "tool" and not isinstance(message.get("tool_call_id"), str):
            raise bad(f"{where}.tool_call_id", "required on tool messages (the id of the call it answers)")
        calls = message.get("tool_calls")
        if calls is not None:
            if role != "assistant" or not isinstance(calls, list):
                raise bad(f"{where}.tool_calls", "only assistant messages carry an array of tool_calls")
            for j, call in enumerate(calls):
                fn = call.get("function") if isinstance(call, dict) else None
                if not isinstance(fn, dict) or not isinstance(fn.get("name"), str):
                    raise bad(f"{where}.tool_calls[{j}].function.name", "required")
                if not isinstance(call.get("id"), str):
                    raise bad(f"{where}.tool_calls[{j}].id", "required")
                args = fn.get("arguments")
                if args is not None and not isinstance(args, str | dict):
                    raise bad(f"{where}.tool_calls[{j}].function.arguments", "must be a JSON string")


def _part(where: str, part: Any) -> None:
    if not isinstance(part, dict) or not isinstance(part.get("type"), str):
        raise bad(where, "each content part must be an object with a type")
    kind = part["type"]
    if kind == "text" and not isinstance(part.get("text"), str):
        raise bad(f"{where}.text", "required: a string")
    if kind == "image_url":
        image = part.get("image_url")
        url = image.get("url") if isinstance(image, dict) else image
        if not isinstance(url, str) or not url:
            raise bad(f"{where}.image_url.url", "required: an https URL or a data: URI")
    if kind not in PART_TYPES:
        raise bad(f"{where}.type", f"unknown content part type '{kind}'")


def _number(name: str, value: Any, kind: type | tuple[type, ...], low: float | None, high: float | None) -> None:
    if isinstance(value, bool) or not isinstance(value, kind):
        raise bad(name, "must be an integer" if kind is int else "must be a number")
    number = cast(float, value)
    if low is not None and number < low:
        raise bad(name, f"must be at least {low:g}")
    if high is not None and number > high:
        raise bad(name, f"must be at most {high:g}")


def _stop(stop: Any) -> None:
    if stop is None or isinstance(stop, str):
        return
    if not isinstance(stop, list) or not all(isinstance(s, str) for s in stop):
        raise bad("stop", "must be a string or an array of strings")


def _tools(tools: Any, tool_choice: Any) -> None:
    if tools is not None:
        if not isinstance(tools, list):
            raise bad("tools", "must be an array of tools")
        for i, tool in enumerate(tools):
            fn = tool.get("function") if isinstance(tool, dict) else None
            if not isinstance(tool, dict) or tool.get("type", "function") != "function" or not isinstance(fn, dict):
                raise bad(f"tools[{i}]", "must be {\"type\": \"function\", \"function\": {...}}")
            if not isinstance(fn.get("name"), str) or not fn["name"]:
                raise bad(f"tools[{i}].function.name", "required")
            if fn.get("parameters") is not None and not isinstance(fn["parameters"], dict):
                raise bad(f"tools[{i}].function.parameters", "must be a JSON Schema object")
    if tool_choice is None:
        return
    if isinstance(tool_choice, str):
        if tool_choice not in ("none", "auto", "required"):
            raise bad("tool_choice", "must be 'none', 'auto', 'required' or a named function")
        return
    fn = tool_choice.get("function") if isinstance(tool_choice, dict) else None
    if not isinstance(fn, dict) or not isinstance(fn.get("name"), str):
        raise bad("tool_choice", "must be 'none', 'auto', 'required' or {\"type\": \"function\", \"function\": {\"name\": ...}}")


def _response_format(fmt: Any) -> None:
    if fmt is None:
        return
    if not isinstance(fmt, dict) or fmt.get("type") not in ("text", "json_object", "json_schema", "grammar", "python"):
        raise bad("response_format.type", "must be 'text', 'json_object' or 'json_schema'")
    if fmt["type"] == "json_schema":
        schema = fmt.get("json_schema")
        if not isinstance(schema, dict) or not isinstance(schema.get("name"), str):
            raise bad("response_format.json_schema.name", "required")


def _reasoning(data: dict[str, Any]) -> dict[str, Any] | None:
    reasoning = data.get("reasoning")
    if reasoning is not None and not isinstance(reasoning, dict):
        raise bad("reasoning", "must be an object such as {\"effort\": \"high\"}")
    reasoning = dict(reasoning or {})
    effort = data.get("reasoning_effort")
    if effort is not None:
        if reasoning.get("effort") not in (None, effort):
            raise bad("reasoning_effort", "conflicts with reasoning.effort")
        reasoning["effort"] = effort
    if reasoning.get("effort") is not None and reasoning["effort"] not in EFFORTS:
        raise bad("reasoning.effort", f"must be one of {', '.join(sorted(EFFORTS))}")
    if reasoning.get("max_tokens") is not None:
        _number("reasoning.max_tokens", reasoning["max_tokens"], int, 0, None)
    if data.get("include_reasoning") is False:
        reasoning.setdefault("exclude", True)
    return reasoning or None
