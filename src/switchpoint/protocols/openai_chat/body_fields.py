"""The typed fields of the generation bodies: chat completions, legacy completions, embeddings.

Types and ranges are those documented by OpenRouter and OpenAI (openrouter-api.md §3, §10, §15):
a field of the wrong type or out of range is a 400 naming it, before anything reads it. Fields not
listed here (vendor extras that clients send) pass through untouched, as before."""

from __future__ import annotations

from typing import Any

from ...routing.context import TRANSFORMS
from ..fields import Check, Invalid, array, boolean, custom, enum, integer, number, obj, one_of, string

ROLES = ("system", "developer", "user", "assistant", "tool", "function")
PART_TYPES = ("text", "image_url", "input_audio", "file", "video_url", "input_text", "input_image")
EFFORTS = ("max", "xhigh", "high", "medium", "low", "minimal", "none")
MAX_FALLBACK_MODELS = 3

MODEL_ID = string(min_length=1, description="A model id such as openai/gpt-4o-mini")
CACHE_CONTROL = obj({"type": enum("ephemeral"), "ttl": enum("5m", "1h")})


# -- messages -----------------------------------------------------------------------------------


def _part_rules(part: dict[str, Any]) -> None:
    kind = part["type"]
    if kind in ("text", "input_text") and part.get("text") is None:
        raise Invalid("required: a string", "text")
    if kind in ("image_url", "input_audio", "file", "video_url") and part.get(kind) is None:
        raise Invalid("required for this part type", kind)


_URL = string(min_length=1, description="An https URL or a data: URI")
PART = obj({
    "type": enum(*PART_TYPES),
    "text": string(),
    "image_url": one_of({dict: obj({"url": _URL, "detail": enum("auto", "low", "high", "original")},
                                   required=("url",)), str: _URL},
                        "must be {\"url\": ...} or a URL"),
    "input_audio": obj({"data": string(), "format": string()}, required=("data", "format")),
    "file": obj({"filename": string(), "file_data": string(), "file_id": string()}),
    "video_url": obj({"url": _URL}, required=("url",)),
    "cache_control": CACHE_CONTROL,
}, required=("type",), after=_part_rules)

CONTENT = one_of({str: string(), list: array(PART)}, "must be a string, an array of content parts, or null")
_ARGUMENTS = one_of({str: string(), dict: obj()}, "must be a JSON string")
TOOL_CALL = obj({
    "id": string(),
    "type": enum("function"),
    "function": obj({"name": string(), "arguments": _ARGUMENTS}, required=("name",)),
}, required=("function", "id"))


def _message_rules(message: dict[str, Any]) -> None:
    role = message["role"]
    if message.get("content") is None and role in ("user", "system", "developer"):
        raise Invalid("required for this role", "content")
    if role == "tool" and message.get("tool_call_id") is None:
        raise Invalid("required on tool messages (the id of the call it answers)", "tool_call_id")
    if role != "assistant" and message.get("tool_calls") is not None:
        raise Invalid("only assistant messages carry an array of tool_calls", "tool_calls")


MESSAGE = obj({
    "role": enum(*ROLES),
    "content": CONTENT,
    "name": string(),
    "tool_call_id": string(),
    "tool_calls": array(TOOL_CALL),
    "function_call": obj({"name": string(), "arguments": string()}),
    "refusal": string(),
    "reasoning": string(),
    "reasoning_content": string(),
    "reasoning_details": array(obj()),
    "cache_control": CACHE_CONTROL,
}, required=("role",), after=_message_rules)
MESSAGES = array(MESSAGE, min_items=1)


# -- tools, formats, reasoning, routing -----------------------------------------------------------

TOOL = obj({
    "type": enum("function"),
    "function": obj({"name": string(min_length=1), "description": string(),
                     "parameters": obj(description="A JSON Schema object"), "strict": boolean()},
                    required=("name",)),
    "cache_control": CACHE_CONTROL,
}, required=("function",))
TOOL_CHOICE = one_of({
    str: enum("none", "auto", "required"),
    dict: obj({"type": enum("function"), "function": obj({"name": string(min_length=1)}, required=("name",))},
              required=("function",)),
}, "must be 'none', 'auto', 'required' or {\"type\": \"function\", \"function\": {\"name\": ...}}")


def _format_rules(fmt: dict[str, Any]) -> None:
    if fmt["type"] == "json_schema" and fmt.get("json_schema") is None:
        raise Invalid("required for type json_schema", "json_schema")
    if fmt["type"] == "grammar" and fmt.get("grammar") is None:
        raise Invalid("required for type grammar", "grammar")


RESPONSE_FORMAT = obj({
    "type": enum("text", "json_object", "json_schema", "grammar", "python"),
    "json_schema": obj({"name": string(min_length=1, max_length=64), "description": string(),
                        "schema": obj(description="A JSON Schema object"), "strict": boolean()},
                       required=("name",)),
    "grammar": string(),
}, required=("type",), after=_format_rules)

REASONING = obj({"effort": enum(*EFFORTS), "max_tokens": integer(0), "exclude": boolean(), "enabled": boolean(),
                 "summary": string()})

_AMOUNT = one_of({int: number(0), float: number(0), str: string()}, "must be a non-negative number")
_PERCENTILES = one_of({int: number(0), float: number(0), str: string(),
                       dict: obj({p: _AMOUNT for p in ("p50", "p75", "p90", "p99")}, closed=True)},
                      "must be a number or an object of percentiles (p50, p75, p90, p99)")
_PROVIDER_NAMES = array(string(min_length=1))
SORTS = ("price", "throughput", "latency", "exacto")
PROVIDER = obj({
    "order": _PROVIDER_NAMES, "only": _PROVIDER_NAMES, "ignore": _PROVIDER_NAMES,
    "allow_fallbacks": boolean(), "require_parameters": boolean(), "data_collection": enum("allow", "deny"),
    "zdr": boolean(), "enforce_distillable_text": boolean(), "quantizations": array(string()),
    "sort": one_of({str: enum(*SORTS),
                    dict: obj({"by": enum(*SORTS), "partition": enum("model", "none")}, closed=True)},
                   "must be 'price', 'throughput', 'latency' or {\"by\": ..., \"partition\": ...}"),
    "max_price": obj({k: _AMOUNT for k in ("prompt", "completion", "request", "image", "audio")}, closed=True),
    "preferred_min_throughput": _PERCENTILES, "preferred_max_latency": _PERCENTILES,
    "hedge": one_of({bool: boolean(), dict: obj({"after_ms": _AMOUNT}, closed=True)},
                    "must be true, false or {\"after_ms\": milliseconds}"),
}, closed=True, description="Provider routing preferences (OpenRouter's provider object)")
MODELS = array(MODEL_ID)  # at most MAX_FALLBACK_MODELS, said in OpenRouter's words by validate._models
MODELS.schema["maxItems"] = MAX_FALLBACK_MODELS
STOP = one_of({str: string(), list: array(string())}, "must be a string or an array of strings")
PROMPT = one_of({str: string(), list: array(string(), min_items=1, max_items=1)},
                "must be a string (one prompt per request)")


# -- the bodies -----------------------------------------------------------------------------------

SAMPLING: dict[str, Check] = {
    "temperature": number(0, 2), "top_p": number(0, 1), "top_k": integer(0), "min_p": number(0, 1),
    "top_a": number(0, 1), "frequency_penalty": number(-2, 2), "presence_penalty": number(-2, 2),
    "repetition_penalty": number(0, 2), "max_tokens": integer(1), "max_completion_tokens": integer(1),
    "n": integer(1, 128), "seed": integer(), "logit_bias": obj(values=number(-100, 100)), "stop": STOP,
}
ROUTING: dict[str, Check] = {
    "model": MODEL_ID, "models": MODELS, "provider": PROVIDER, "route": enum("fallback", "sort"),
    "transforms": array(enum(*TRANSFORMS)), "plugins": array(obj({"id": string(min_length=1), "enabled": boolean()},
                                                        required=("id",))),
    "usage": obj({"include": boolean()}), "user": string(), "session_id": string(max_length=256),
    "stream": boolean(), "stream_options": obj({"include_usage": boolean()}),
    "metadata": obj(values=string()), "preset": string(), "debug": obj({"echo_upstream_body": boolean()}),
    "trace": obj(), "service_tier": enum("auto", "default", "flex", "priority", "scale", "fast"),
}
CHAT: dict[str, Check] = {
    **SAMPLING, **ROUTING,
    "messages": MESSAGES, "prompt": PROMPT,
    "tools": array(TOOL), "tool_choice": TOOL_CHOICE, "parallel_tool_calls": boolean(),
    "functions": array(obj({"name": string(min_length=1)}, required=("name",))),
    "function_call": one_of({str: string(), dict: obj({"name": string()})}, "must be a string or {\"name\": ...}"),
    "response_format": RESPONSE_FORMAT, "logprobs": boolean(), "top_logprobs": integer(0, 20),
    "prediction": obj({"type": enum("content"), "content": CONTENT}),
    "modalities": array(enum("text", "image", "audio")), "audio": obj(),
    "verbosity": enum("low", "medium", "high", "xhigh", "max"), "store": boolean(),
    "web_search_options": obj(), "prompt_cache_key": string(), "prompt_cache_options": obj(),
    "reasoning": REASONING, "reasoning_effort": enum(*EFFORTS), "include_reasoning": boolean(),
    "cache_control": CACHE_CONTROL, "image_config": obj(), "stop_server_tools_when": obj(),
}
COMPLETIONS: dict[str, Check] = {
    **SAMPLING, **ROUTING,
    "prompt": PROMPT, "best_of": integer(1, 20), "echo": boolean(), "suffix": string(),
    "logprobs": integer(0, 5), "response_format": RESPONSE_FORMAT,
    "reasoning": REASONING, "reasoning_effort": enum(*EFFORTS), "include_reasoning": boolean(),
}


def _token_array(value: Any) -> None:
    if type(value) is not list or not value:
        raise Invalid("must be a non-empty array of token ids")
    for i, token in enumerate(value):
        if type(token) is not int or not 0 <= token <= 0xFFFFFFFF:
            raise Invalid("must be a token id (a non-negative integer)", i)


def _input(value: Any) -> None:
    if type(value) is str:
        return
    if type(value) is not list or not value:
        raise Invalid("must be a string, an array of strings, or token arrays (non-empty)")
    if type(value[0]) is int:
        _token_array(value)
        return
    for i, item in enumerate(value):
        if type(item) is list:
            try:
                _token_array(item)
            except Invalid as err:
                err.path.append(i)
                raise
        elif type(item) is not str:
            raise Invalid("must be a string or an array of token ids", i)


_TOKENS = {"type": "array", "minItems": 1, "items": {"type": "integer", "minimum": 0, "maximum": 0xFFFFFFFF}}
INPUT = custom(_input, {"anyOf": [
    {"type": "string"},
    {"type": "array", "minItems": 1, "items": {"anyOf": [{"type": "string"}, _TOKENS]}},
    _TOKENS,
]})

EMBEDDINGS: dict[str, Check] = {
    "model": MODEL_ID, "models": MODELS, "input": INPUT,
    "encoding_format": enum("float", "base64"), "dimensions": integer(1, 65536), "input_type": string(),
    "user": string(), "provider": PROVIDER,
}

# What the OpenAPI document lists as required for each body (validate.py enforces them).
REQUIRED = {"chat": ("messages",), "completions": ("prompt",), "embeddings": ("model", "input")}
