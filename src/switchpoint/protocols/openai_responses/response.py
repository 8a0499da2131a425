"""Canonical Completion -> a Response object.

A passed-through answer (`Completion.native`) is returned byte for byte. Otherwise the output items are:
a `reasoning` item when the model reasoned (the reasoning text as its summary; the provider's opaque
reasoning, signatures included, in `encrypted_content`, see opaque.py: it is always sent when there is
some, as the gateway keeps no per-item state a client could refer to instead), one `message` item with
`output_text` (url citations as annotations) or `refusal`, and one `function_call` item per tool call
(a call to a `custom` tool becomes a `custom_tool_call` with its `input`). `usage` counts as OpenAI's
does (input includes cached tokens, output includes reasoning tokens) plus `cost` in USD. The response
id is the generation id, so /api/v1/generation?id= finds it."""

from __future__ import annotations

import time
from typing import Any

import orjson

from ...accounting.pricing import from_nanos
from ...types import Choice, Completion, ToolCall, Usage
from . import opaque

INCOMPLETE = {"length": "max_output_tokens", "content_filter": "content_filter"}


def response_object(response_id: str, created: int, model: str, request: dict[str, Any], output: list[dict[str, Any]],
                    status: str, usage: dict[str, Any] | None, **extra: Any) -> dict[str, Any]:
    """The Response object around `output`: the request's settings echoed as OpenAI's API does."""
    text = request.get("text") or {"format": {"type": "text"}}
    body: dict[str, Any] = {
        "id": response_id, "object": "response", "created_at": created, "status": status, "background": False,
        "completed_at": int(time.time()) if status == "completed" else None,
        "error": None, "incomplete_details": None, "instructions": request.get("instructions"),
        "max_output_tokens": request.get("max_output_tokens"), "model": model, "output": output,
        "parallel_tool_calls": request.get("parallel_tool_calls", True),
        "previous_response_id": request.get("previous_response_id"),
        "reasoning": {"effort": (request.get("reasoning") or {}).get("effort"),
                      "summary": (request.get("reasoning") or {}).get("summary")},
        "service_tier": request.get("service_tier") or "default", "store": request.get("store", True),
        "temperature": request.get("temperature", 1.0), "text": text,
        "tool_choice": request.get("tool_choice", "auto"), "tools": request.get("tools") or [],
        "top_p": request.get("top_p", 1.0), "truncation": request.get("truncation") or "disabled",
        # OpenRouter's schema of the Response object requires these two (null when not asked for)
        "frequency_penalty": request.get("frequency_penalty"), "presence_penalty": request.get("presence_penalty"),
        "usage": usage, "user": request.get("user"), "metadata": request.get("metadata") or {},
    }
    body.update(extra)
    return body


def output_items(choice: Choice, response_id: str, custom_tools: frozenset[str]) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    reasoning = reasoning_item(f"rs_{response_id}", choice.reasoning, (choice.extra or {}).get("reasoning_details"),
                               choice.tool_calls)
    if reasoning is not None:
        items.append(reasoning)
    text = choice.content
    if text or (choice.refusal and not choice.tool_calls) or not choice.tool_calls:
        items.append(message_item(f"msg_{response_id}", text or "", choice.refusal if not text else None,
                                  url_annotations((choice.extra or {}).get("annotations"))))
    for i, call in enumerate(choice.tool_calls):
        items.append(call_item(f"fc_{response_id}_{i}", call.id, call.name, call.arguments, custom_tools))
    return items


def reasoning_item(item_id: str, text: str | None, details: Any, calls: list[ToolCall],
                   status: str | None = None) -> dict[str, Any] | None:
    kept = [d for d in details or () if isinstance(d, dict)]
    extras = {c.id: c.extra for c in calls if c.extra}
    if not text and not kept and not extras:
        return None
    item: dict[str, Any] = {"id": item_id, "type": "reasoning",
                            "summary": [{"type": "summary_text", "text": text}] if text else [],
                            "encrypted_content": opaque.encode(kept, extras)}
    if status:
        item["status"] = status
    return item


def message_item(item_id: str, text: str, refusal: str | None, notes: list[dict[str, Any]]) -> dict[str, Any]:
    part: dict[str, Any] = {"type": "refusal", "refusal": refusal} if refusal else \
        {"type": "output_text", "text": text, "annotations": notes, "logprobs": []}
    return {"id": item_id, "type": "message", "status": "completed", "role": "assistant", "content": [part]}


def call_item(item_id: str, call_id: str, name: str, arguments: str, custom_tools: frozenset[str]) -> dict[str, Any]:
    if name in custom_tools:
        try:
            value = orjson.loads(arguments or "{}")
        except orjson.JSONDecodeError:
            value = {}
        given = value.get("input") if isinstance(value, dict) else None
        return {"id": item_id, "type": "custom_tool_call", "status": "completed", "call_id": call_id, "name": name,
                "input": given if isinstance(given, str) else arguments}
    return {"id": item_id, "type": "function_call", "status": "completed", "call_id": call_id, "name": name,
            "arguments": arguments or "{}"}


def url_annotations(notes: Any) -> list[dict[str, Any]]:
    """Chat-format url_citation annotations in the Responses shape (fields at the top level)."""
    out = []
    for note in notes or ():
        if isinstance(note, dict) and note.get("type") == "url_citation":
            cite = note.get("url_citation") or {}
            out.append({"type": "url_citation", "url": cite.get("url"), "title": cite.get("title"),
                        "start_index": cite.get("start_index", 0), "end_index": cite.get("end_index", 0)})
    return out


def custom_tool_names(request: dict[str, Any]) -> frozenset[str]:
    return frozenset(str(t["name"]) for t in request.get("tools") or () if isinstance(t, dict)
                     and t.get("type") == "custom" and isinstance(t.get("name"), str))


def usage_body(usage: Usage, cost_nanos: int | None) -> dict[str, Any]:
    body: dict[str, Any] = {
        "input_tokens": usage.prompt_tokens,
        "input_tokens_details": {"cached_tokens": usage.cached_tokens},
        "output_tokens": usage.completion_tokens,
        "output_tokens_details": {"reasoning_tokens": usage.reasoning_tokens},
        "total_tokens": usage.total_tokens,
    }
    if cost_nanos is not None:
        body["cost"] = from_nanos(cost_nanos)
    return body


def status_of(choice: Choice) -> tuple[str, dict[str, Any] | None]:
    reason = INCOMPLETE.get(choice.finish_reason or "")
    return ("incomplete", {"reason": reason}) if reason else ("completed", None)


def completion_response(completion: Completion, response_id: str, created: int, model: str, request: dict[str, Any],
                        usage: Usage, cost_nanos: int | None, provider: str | None) -> dict[str, Any]:
    """The Response object of a translated, finished generation."""
    choice = completion.choices[0] if completion.choices else Choice()
    status, incomplete = status_of(choice)
    output = output_items(choice, response_id, custom_tool_names(request))
    return response_object(response_id, created, model, request, output, status, usage_body(usage, cost_nanos),
                           incomplete_details=incomplete, provider=provider)
