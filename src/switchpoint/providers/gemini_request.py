"""OpenAI chat request -> Gemini generateContent request body."""

from __future__ import annotations

import mimetypes
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
    reject,
    response_format,
    split_system,
    stop_sequences,
    text_of,
    tool_names,
    tool_result_name,
    tool_result_text,
)

PROVIDER = "gemini"
# Gemini 3 rejects a replayed function call without its signature; Google documents this value for
# calls whose signature is unknown (e.g. history from another model). Sent base64-encoded, as bytes.
SKIP_SIGNATURE = "c2tpcF90aG91Z2h0X3NpZ25hdHVyZV92YWxpZGF0b3I="
DEFAULT_OUTPUT = 8192       # the budget basis when the request sets no max_tokens
MAX_THINKING_BUDGET = 32768
MODES = {"auto": "AUTO", "required": "ANY", "none": "NONE"}


def generate_body(request: ChatRequest, target: Target) -> dict[str, Any]:
    params = request.params
    check_common(params, PROVIDER, multiple_choices=True)
    system, rest = split_system(request.messages)
    body: dict[str, Any] = {"contents": contents(rest, is_gemini3(target.model))}
    system_parts = [{"text": p["text"]} for m in system for p in content_parts(m.get("content"))
                    if p.get("type") == "text" and p.get("text")]
    if system_parts:
        body["systemInstruction"] = {"parts": system_parts}
    config = generation_config(params)
    thinking = thinking_config(request.reasoning, params, target)
    if thinking is not None:
        config["thinkingConfig"] = thinking
    if config:
        body["generationConfig"] = config
    apply_tools(body, params)
    return body


def generation_config(params: Mapping[str, Any]) -> dict[str, Any]:
    config: dict[str, Any] = {}
    limit = max_tokens(params)
    if limit is not None:
        config["maxOutputTokens"] = limit
    for key, native in (("temperature", "temperature"), ("top_p", "topP"), ("top_k", "topK"), ("seed", "seed")):
        value = params.get(key)
        if isinstance(value, int | float) and not isinstance(value, bool):
            config[native] = value
    stop = stop_sequences(params)
    if stop:
        config["stopSequences"] = stop
    n = params.get("n")
    if isinstance(n, int) and n > 1:
        config["candidateCount"] = n
    kind, spec = response_format(params)
    if kind is not None:
        config["responseMimeType"] = "application/json"
    if kind == "json_schema" and spec is not None:
        config["responseJsonSchema"] = spec["schema"]
    return config


def thinking_config(reasoning: Mapping[str, Any] | None, params: Mapping[str, Any],
                    target: Target) -> dict[str, Any] | None:
    spec = read_reasoning(reasoning)
    if spec is None:
        return None
    if is_gemini3(target.model):  # Gemini 3 thinks by level and cannot switch thinking off
        low = not spec.enabled or (spec.effort in ("minimal", "low"))
        if spec.max_tokens is not None:
            low = spec.max_tokens < 4096
        return {"thinkingLevel": "low" if low else "high", "includeThoughts": spec.enabled and not spec.exclude}
    if not spec.enabled:
        return {"thinkingBudget": 0}
    basis = max_tokens(params) or target.max_output_tokens or DEFAULT_OUTPUT
    return {"thinkingBudget": spec.budget(basis, 0, MAX_THINKING_BUDGET), "includeThoughts": not spec.exclude}


def apply_tools(body: dict[str, Any], params: Mapping[str, Any]) -> None:
    functions, mode, name = function_tools(params)
    if not functions:
        return
    declarations = []
    for fn in functions:
        declaration: dict[str, Any] = {"name": fn.get("name")}
        if fn.get("description"):
            declaration["description"] = fn["description"]
        if fn.get("parameters"):
            declaration["parametersJsonSchema"] = fn["parameters"]  # full JSON Schema, $defs and all
        declarations.append(declaration)
    body["tools"] = [{"functionDeclarations": declarations}]
    if mode == "function":
        body["toolConfig"] = {"functionCallingConfig": {"mode": "ANY", "allowedFunctionNames": [name]}}
    elif mode is not None:
        body["toolConfig"] = {"functionCallingConfig": {"mode": MODES[mode]}}


# -- contents ----------------------------------------------------------------------------------

def contents(messages: list[dict[str, Any]], gemini3: bool) -> list[dict[str, Any]]:
    names = tool_names(messages)
    out: list[dict[str, Any]] = []
    for i, role, message in chat_turns(messages):
        if role == "user":
            append_turn(out, "user", user_parts(message.get("content"), f"messages[{i}]"), "parts")
        elif role == "assistant":
            append_turn(out, "model", model_parts(message, gemini3), "parts")
        else:
            response = {"name": tool_result_name(message, names),
                        "response": {"result": tool_result_text(message.get("content"))}}
            append_turn(out, "user", [{"functionResponse": response}], "parts")
    return out


def user_parts(content: Any, where: str) -> list[dict[str, Any]]:
    parts = []
    for j, part in enumerate(content_parts(content)):
        kind = part.get("type")
        if kind == "text":
            if part.get("text"):
                parts.append({"text": part["text"]})
        elif kind == "image_url":
            parts.append(_media(image_url(part), f"{where}.content[{j}]"))
        elif kind == "input_audio":
            audio = part.get("input_audio") or {}
            parts.append({"inlineData": {"mimeType": f"audio/{audio.get('format') or 'wav'}",
                                         "data": audio.get("data") or ""}})
        elif kind == "file":
            data = (part.get("file") or {}).get("file_data")
            if not isinstance(data, str):
                raise reject(f"{where}.content[{j}].file.file_id", PROVIDER, "send the file inline as file_data")
            parts.append(_media(data, f"{where}.content[{j}]"))
        else:
            raise reject(f"{where}.content[{j}].type={kind}", PROVIDER)
    return parts


def model_parts(message: dict[str, Any], gemini3: bool) -> list[dict[str, Any]]:
    parts: list[dict[str, Any]] = []
    text = text_of(message.get("content"))
    if text:
        parts.append({"text": text})
    for position, call in enumerate(message.get("tool_calls") or ()):
        part: dict[str, Any] = {"functionCall": {"name": (call.get("function") or {}).get("name"),
                                                 "args": load_arguments(call)}}
        signature = thought_signature(call)
        if signature is None and gemini3 and position == 0:
            signature = SKIP_SIGNATURE
        if signature is not None:
            part["thoughtSignature"] = signature
        parts.append(part)
    return parts


def thought_signature(call: Mapping[str, Any]) -> str | None:
    """The signature the client echoed on a tool call: extra_content.google.thought_signature, as
    Google's own OpenAI-compatible endpoint names it."""
    google = (call.get("extra_content") or {}).get("google") or {}
    value = google.get("thought_signature")
    return value if isinstance(value, str) and value else None


def is_gemini3(model: str) -> bool:
    return model.removeprefix("models/").startswith("gemini-3")


def _media(url: str, where: str) -> dict[str, Any]:
    data = parse_data_url(url)
    if data is not None:
        return {"inlineData": {"mimeType": data.media_type, "data": data.data}}
    if url.startswith(("http://", "https://", "gs://")):
        mime, _ = mimetypes.guess_type(url.split("?", 1)[0])
        return {"fileData": {"mimeType": mime or "application/octet-stream", "fileUri": url}}
    raise BadRequestError(f"{where}: media URL must be http(s), gs:// or a data URL")

