"""Responses conversation items -> canonical chat messages.

- `message` items (and the short form {role, content}): user / system / developer (as system) content as
  a string or parts (input_text -> text, input_image -> image_url, input_file -> file); assistant content
  (output_text, refusal) -> the assistant's text;
- a run of consecutive assistant-side items (assistant message, `function_call`, `custom_tool_call`,
  `reasoning`) -> ONE assistant message: text, tool_calls, and the reasoning the provider returned
  (reasoning_details and function-call extras decoded from `encrypted_content`, opaque.py; the summary as
  `reasoning`), so a tool-calling turn reaches the provider as it produced it;
- `function_call_output` / `custom_tool_call_output` -> `tool` messages (output as a string or parts);
- the provider-run items of hosted tools (web_search_call, file_search_call, code_interpreter_call,
  image_generation_call, mcp_*, computer_call...) mean something only to OpenAI's own endpoint, which
  receives them in the native body; a chat endpoint gets the conversation without them.
- `item_reference` is refused: the gateway resolves whole conversations by previous_response_id.
"""

from __future__ import annotations

from typing import Any

import orjson

from ...errors import BadRequestError
from . import opaque

ASSISTANT_SIDE = frozenset({"function_call", "custom_tool_call", "reasoning"})
TOOL_OUTPUTS = frozenset({"function_call_output", "custom_tool_call_output"})
ROLES = frozenset({"user", "system", "developer", "assistant"})


def bad(where: str, problem: str) -> BadRequestError:
    return BadRequestError(f"{where}: {problem}" if not problem.startswith(("Unknown", "Missing")) else problem,
                           metadata={"param": where})


def input_items(value: Any) -> list[dict[str, Any]]:
    """`input` as a list of items (a string is one user message)."""
    if value is None:
        return []
    if isinstance(value, str):
        return [{"type": "message", "role": "user", "content": value}]
    if not isinstance(value, list):
        raise bad("input", "must be a string or an array of input items")
    for i, item in enumerate(value):
        if not isinstance(item, dict):
            raise bad(f"input[{i}]", "each input item must be an object")
        kind = item.get("type", "message")
        if kind == "item_reference":
            raise bad(f"input[{i}]", "item_reference is not supported; continue a conversation with "
                                     "previous_response_id or send the items themselves")
        if kind == "message" and item.get("role") not in ROLES:
            raise bad(f"input[{i}].role", "must be one of user, system, developer, assistant")
        if kind in ("function_call", "custom_tool_call") and not isinstance(item.get("call_id"), str):
            raise bad(f"input[{i}].call_id", "Missing required parameter: 'call_id'")
        if kind in TOOL_OUTPUTS and not isinstance(item.get("call_id"), str):
            raise bad(f"input[{i}].call_id", "Missing required parameter: 'call_id'")
    return value


def items_to_messages(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    messages: list[dict[str, Any]] = []
    turn: list[dict[str, Any]] = []  # the assistant-side items of the current run
    for i, item in enumerate(items):
        kind = item.get("type", "message")
        role = item.get("role")
        if kind in ASSISTANT_SIDE or (kind == "message" and role == "assistant"):
            turn.append(item)
            continue
        if turn:
            messages.append(assistant_message(turn))
            turn = []
        if kind == "message":  # developer -> system: what every chat endpoint knows
            messages.append({"role": "system" if role == "developer" else role,
                             "content": user_content(item.get("content"), f"input[{i}].content")})
        elif kind in TOOL_OUTPUTS:
            messages.append({"role": "tool", "tool_call_id": item["call_id"],
                             "content": tool_output(item.get("output"), f"input[{i}].output")})
    if turn:
        messages.append(assistant_message(turn))
    return messages


def assistant_message(items: list[dict[str, Any]]) -> dict[str, Any]:
    texts: list[str] = []
    calls: list[dict[str, Any]] = []
    details: list[dict[str, Any]] = []
    extras: dict[str, dict[str, Any]] = {}
    summaries: list[str] = []
    for item in items:
        kind = item.get("type", "message")
        if kind == "message":
            texts.extend(assistant_texts(item.get("content")))
        elif kind == "function_call":
            calls.append({"id": item["call_id"], "type": "function",
                          "function": {"name": item.get("name") or "", "arguments": item.get("arguments") or "{}"}})
        elif kind == "custom_tool_call":
            calls.append({"id": item["call_id"], "type": "function",
                          "function": {"name": item.get("name") or "",
                                       "arguments": orjson.dumps({"input": item.get("input") or ""}).decode()}})
        else:  # reasoning
            found, call_extras = opaque.decode(item.get("encrypted_content"))
            details.extend(found)
            extras.update(call_extras)
            summaries.extend(s["text"] for s in item.get("summary") or () if isinstance(s, dict)
                             and isinstance(s.get("text"), str))
    message: dict[str, Any] = {"role": "assistant", "content": "".join(texts) or None}
    if calls:
        for call in calls:
            extra = extras.get(call["id"])
            if extra:
                call.update(extra)
        message["tool_calls"] = calls
    if details:
        message["reasoning_details"] = details
    if summaries:
        message["reasoning"] = "\n\n".join(summaries)
    return message


def assistant_texts(content: Any) -> list[str]:
    if isinstance(content, str):
        return [content]
    texts = []
    for part in content or ():
        if isinstance(part, dict):
            text = part.get("text") if part.get("type") in ("output_text", "input_text", "text") else \
                part.get("refusal")
            if isinstance(text, str):
                texts.append(text)
    return texts


def user_content(content: Any, where: str) -> Any:
    if isinstance(content, str):
        return content
    if not isinstance(content, list):
        raise bad(where, "must be a string or an array of content parts")
    return [content_part(part, f"{where}[{j}]") for j, part in enumerate(content)]


def content_part(part: Any, where: str) -> dict[str, Any]:
    kind = part.get("type") if isinstance(part, dict) else None
    if kind in ("input_text", "output_text", "text"):
        if not isinstance(part.get("text"), str):
            raise bad(f"{where}.text", "Missing required parameter: 'text'")
        return {"type": "text", "text": part["text"]}
    if kind == "input_image":
        url = part.get("image_url")
        if isinstance(url, str):
            image: dict[str, Any] = {"url": url}
            if part.get("detail"):
                image["detail"] = part["detail"]
            return {"type": "image_url", "image_url": image}
        if isinstance(part.get("file_id"), str):
            return {"type": "file", "file": {"file_id": part["file_id"]}}
        raise bad(where, "an input_image needs image_url or file_id")
    if kind == "input_file":
        file = {k: part[k] for k in ("file_data", "filename", "file_id") if isinstance(part.get(k), str)}
        if isinstance(part.get("file_url"), str) and "file_data" not in file:
            file["file_data"] = part["file_url"]
        if "file_data" not in file and "file_id" not in file:
            raise bad(where, "an input_file needs file_data, file_url or file_id")
        return {"type": "file", "file": file}
    if kind == "input_audio":
        return {"type": "input_audio", "input_audio": part.get("input_audio") or {}}
    raise bad(f"{where}.type", f"unknown content part type '{kind}'")


def tool_output(output: Any, where: str) -> Any:
    if isinstance(output, str):
        return output
    if isinstance(output, list):
        return [content_part(part, f"{where}[{j}]") for j, part in enumerate(output)]
    raise bad(where, "must be a string or an array of content parts")
