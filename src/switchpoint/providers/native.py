"""Helpers shared by the translators of native (non-OpenAI) wire formats: Anthropic, Gemini, Ollama.

They read the OpenAI-shaped messages of a ChatRequest: system prompts, content parts, data URLs,
tool-call arguments, the tool_call_id -> function name map, OpenRouter reasoning semantics, and the
rules for parameters a provider cannot honour. Pure functions, no I/O."""

from __future__ import annotations

import base64
import binascii
import secrets
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import orjson

from ..errors import BadRequestError
from .base import Connection

# OpenRouter's effort -> share of max_tokens spent on reasoning (openrouter-api.md §11.5).
EFFORT_RATIO = {"max": 0.95, "xhigh": 0.95, "high": 0.8, "medium": 0.5, "low": 0.2, "minimal": 0.1}
SYSTEM_ROLES = ("system", "developer")
_ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789"


def reject(parameter: str, provider: str, detail: str = "") -> BadRequestError:
    """The 400 for a parameter (or message part) this provider type cannot honour."""
    message = f"'{parameter}' is not supported by provider type '{provider}'"
    return BadRequestError(f"{message}: {detail}" if detail else message, metadata={"param": parameter})


def check_common(params: Mapping[str, Any], provider: str, *, multiple_choices: bool = False) -> None:
    """Reject what no native translator can emulate; everything else unknown is dropped, as OpenRouter
    drops parameters a provider does not support."""
    n = params.get("n")
    if isinstance(n, int) and n > 1 and not multiple_choices:
        raise reject("n", provider, "only one choice per request")
    modalities = params.get("modalities")
    if modalities and any(m != "text" for m in modalities):
        raise reject("modalities", provider, "only text output")
    if params.get("audio"):
        raise reject("audio", provider)
    for i, tool in enumerate(params.get("tools") or ()):
        if not isinstance(tool, dict) or tool.get("type", "function") != "function" or "function" not in tool:
            kind = tool.get("type") if isinstance(tool, dict) else None
            raise reject(f"tools[{i}]", provider, f"only function tools, not '{kind}'" if kind else "only function tools")


def split_system(messages: Iterable[dict[str, Any]]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(system/developer messages, the rest), order kept within each."""
    system: list[dict[str, Any]] = []
    rest: list[dict[str, Any]] = []
    for message in messages:
        (system if message.get("role") in SYSTEM_ROLES else rest).append(message)
    return system, rest


def chat_turns(messages: Iterable[dict[str, Any]]) -> Iterator[tuple[int, str, dict[str, Any]]]:
    """(position, role, message) of the user, assistant and tool messages; any other role is a 400."""
    for i, message in enumerate(messages):
        role = message.get("role")
        if role not in ("user", "assistant", "tool"):
            raise BadRequestError(f"messages[{i}].role '{role}' is not a chat role")
        yield i, role, message


def append_turn(turns: list[dict[str, Any]], role: str, items: list[dict[str, Any]], key: str) -> None:
    """Add a turn, merging it into the previous one of the same role (native APIs want alternation)."""
    if not items:
        return
    if turns and turns[-1]["role"] == role:
        turns[-1][key].extend(items)
    else:
        turns.append({"role": role, key: items})


def content_parts(content: Any) -> list[dict[str, Any]]:
    """A message `content` as a list of OpenAI parts (a string becomes one text part)."""
    if content is None:
        return []
    if isinstance(content, str):
        return [{"type": "text", "text": content}] if content else []
    if isinstance(content, list):
        return [p if isinstance(p, dict) else {"type": "text", "text": str(p)} for p in content]
    return [{"type": "text", "text": str(content)}]


def text_of(content: Any) -> str:
    """Only the text of a content value (parts joined without separator, as OpenAI concatenates)."""
    if isinstance(content, str):
        return content
    return "".join(p.get("text") or "" for p in content_parts(content) if p.get("type") == "text")


@dataclass(frozen=True, slots=True)
class DataURL:
    media_type: str
    data: str  # base64


def parse_data_url(url: str) -> DataURL | None:
    """`data:<media type>;base64,<data>` -> DataURL; None for any other URL."""
    if not url.startswith("data:"):
        return None
    header, sep, data = url[5:].partition(",")
    if not sep or not header.endswith(";base64"):
        raise BadRequestError("a data URL must be base64-encoded: data:<media type>;base64,<data>")
    media_type = header[: -len(";base64")] or "application/octet-stream"
    try:
        base64.b64decode(data[:4096] + "=" * (-len(data[:4096]) % 4), validate=False)
    except binascii.Error:
        raise BadRequestError("a data URL holds invalid base64") from None
    return DataURL(media_type, data)


def image_url(part: dict[str, Any]) -> str:
    value = part.get("image_url")
    url = value.get("url") if isinstance(value, dict) else value
    if not isinstance(url, str) or not url:
        raise BadRequestError("an image_url part needs image_url.url")
    return url


def tool_names(messages: Iterable[dict[str, Any]]) -> dict[str, str]:
    """tool_call_id -> function name, from the assistant tool calls in the history."""
    names: dict[str, str] = {}
    for message in messages:
        for call in message.get("tool_calls") or ():
            function = call.get("function") or {}
            if call.get("id") and function.get("name"):
                names[call["id"]] = function["name"]
    return names


def tool_result_name(message: dict[str, Any], names: Mapping[str, str]) -> str:
    """The function a `tool` message answers: from its tool_call_id (or a legacy `name`)."""
    name = names.get(message.get("tool_call_id") or "") or message.get("name")
    if not name:
        raise BadRequestError(f"tool message with tool_call_id '{message.get('tool_call_id')}' answers no "
                              "tool call in the conversation")
    return name


def load_arguments(call: dict[str, Any]) -> dict[str, Any]:
    """An OpenAI tool call's `arguments` JSON text as the object native formats want ("" -> {})."""
    function = call.get("function") or {}
    raw = function.get("arguments")
    if raw is None or raw == "":
        return {}
    if isinstance(raw, dict):
        return raw
    try:
        value = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise BadRequestError(f"tool call '{call.get('id')}' ({function.get('name')}) has arguments that are "
                              "not valid JSON") from None
    if not isinstance(value, dict):
        raise BadRequestError(f"tool call '{call.get('id')}' arguments must be a JSON object")
    return value


def dump_arguments(value: Any) -> str:
    if value is None or value == "":
        return "{}"
    if isinstance(value, str):
        return value
    return orjson.dumps(value).decode()


def tool_result_text(content: Any) -> str:
    return content if isinstance(content, str) else text_of(content)


def function_tools(params: Mapping[str, Any]) -> tuple[list[dict[str, Any]], str | None, str | None]:
    """(the `function` objects of the request's tools, tool_choice mode, forced name). check_common
    has vetted the tools' type; a choice that needs tools when there are none is a 400."""
    functions = [tool["function"] for tool in params.get("tools") or ()]
    mode, name = tool_choice(params)
    if not functions and mode in ("required", "function"):
        raise BadRequestError("tool_choice requires tools", metadata={"param": "tool_choice"})
    if mode == "function" and not any(fn.get("name") == name for fn in functions):
        raise BadRequestError(f"tool_choice names '{name}', which is not in tools", metadata={"param": "tool_choice"})
    return functions, mode, name


def tool_choice(params: Mapping[str, Any]) -> tuple[str | None, str | None]:
    """(mode, name): mode is auto | none | required | function (then name is set), or None if absent."""
    choice = params.get("tool_choice")
    if choice is None:
        return None, None
    if isinstance(choice, str):
        if choice not in ("auto", "none", "required"):
            raise BadRequestError(f"tool_choice '{choice}' must be auto, none, required or a function")
        return choice, None
    if isinstance(choice, dict):
        name = (choice.get("function") or {}).get("name")
        if name:
            return "function", name
    raise BadRequestError("tool_choice must be auto, none, required or {type: function, function: {name}}")


def response_format(params: Mapping[str, Any]) -> tuple[str | None, dict[str, Any] | None]:
    """(kind, json_schema object): kind is None, json_object or json_schema."""
    fmt = params.get("response_format")
    if not fmt:
        return None, None
    kind = fmt.get("type") if isinstance(fmt, dict) else None
    if kind in (None, "text"):
        return None, None
    if kind == "json_object":
        return "json_object", None
    if kind == "json_schema":
        spec = fmt.get("json_schema") or {}
        if not isinstance(spec.get("schema"), dict):
            raise BadRequestError("response_format json_schema needs json_schema.schema")
        return "json_schema", spec
    raise BadRequestError(f"response_format type '{kind}' is not supported", metadata={"param": "response_format"})


def max_tokens(params: Mapping[str, Any]) -> int | None:
    value = params.get("max_completion_tokens") or params.get("max_tokens")
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def stop_sequences(params: Mapping[str, Any]) -> list[str]:
    stop = params.get("stop")
    if not stop:
        return []
    return [stop] if isinstance(stop, str) else [s for s in stop if isinstance(s, str) and s]


@dataclass(frozen=True, slots=True)
class Reasoning:
    """A ChatRequest.reasoning object read with OpenRouter semantics."""

    enabled: bool
    effort: str | None = None      # max | xhigh | high | medium | low | minimal
    max_tokens: int | None = None  # an explicit budget
    exclude: bool = False

    def budget(self, max_output: int, floor: int = 0, ceiling: int | None = None) -> int:
        """Reasoning tokens: the explicit budget, else effort ratio x max_output, within [floor, ceiling]."""
        value = self.max_tokens if self.max_tokens is not None else int(max_output * EFFORT_RATIO[self.effort or "medium"])
        value = max(floor, value)
        return min(ceiling, value) if ceiling is not None else value


def read_reasoning(reasoning: Mapping[str, Any] | None) -> Reasoning | None:
    """None when the client said nothing about reasoning; Reasoning(enabled=False) when it turned it off."""
    if not reasoning:
        return None
    effort = reasoning.get("effort")
    budget = reasoning.get("max_tokens")
    exclude = bool(reasoning.get("exclude"))
    if effort == "none" or reasoning.get("enabled") is False:
        return Reasoning(False, exclude=exclude)
    if effort is not None and effort not in EFFORT_RATIO:
        raise BadRequestError(f"reasoning.effort '{effort}' must be one of none, {', '.join(EFFORT_RATIO)}")
    if budget is not None and (not isinstance(budget, int) or isinstance(budget, bool) or budget < 0):
        raise BadRequestError("reasoning.max_tokens must be a non-negative integer")
    if effort is None and budget is None and not reasoning.get("enabled") and exclude:
        return None  # only `exclude` was given: the model's default applies
    return Reasoning(True, effort=effort if budget is None else None, max_tokens=budget, exclude=exclude)


def mint_call_id() -> str:
    """A tool-call id for providers that send none: call_ + 24 random [a-z0-9]."""
    return "call_" + "".join(secrets.choice(_ALPHABET) for _ in range(24))


def reasoning_details(message: dict[str, Any], fmt: str) -> list[dict[str, Any]]:
    """The client's echoed reasoning_details items of one format (OpenRouter passback)."""
    return [d for d in message.get("reasoning_details") or () if isinstance(d, dict) and d.get("format") == fmt]


def json_headers(connection: Connection, auth: str, prefix: str = "") -> dict[str, str]:
    """JSON request headers with the connection's extra headers and its key in the `auth` header."""
    headers = {"content-type": "application/json", **connection.headers}
    if connection.api_key:
        headers[auth] = prefix + connection.api_key
    return headers


def error_json(body: bytes) -> dict[str, Any] | None:
    """An error body as an object (the first item of a JSON-array body), or None if it is not JSON."""
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None
    if isinstance(data, list):
        data = data[0] if data else None
    return data if isinstance(data, dict) else None
