"""Canonical Completion -> a Messages response body.

A passed-through answer (`Completion.native`) is returned byte for byte. Otherwise the message is built
from the canonical choice: thinking blocks (signed ones from Anthropic-format reasoning_details, else the
reasoning text with an empty signature), redacted_thinking, one text block, tool_use blocks with `input`
as an object; `stop_reason` from the finish reason; `usage` in Anthropic's terms, where `input_tokens`
excludes cache reads and writes (canonical prompt_tokens includes both), plus `cost` in USD."""

from __future__ import annotations

from typing import Any

import orjson

from ...accounting.pricing import from_nanos
from ...generation import GenerationRecord
from ...types import Choice, Completion, Usage
from .request import REASONING_FORMAT

ANTHROPIC_STOPS = frozenset({"end_turn", "max_tokens", "stop_sequence", "tool_use", "pause_turn", "refusal",
                             "model_context_window_exceeded"})
FINISH_STOPS = {"stop": "end_turn", "length": "max_tokens", "tool_calls": "tool_use", "function_call": "tool_use",
                "content_filter": "refusal"}


def message_body(completion: Completion, record: GenerationRecord, usage: Usage) -> bytes:
    if completion.native is not None:
        return completion.native
    choice = completion.choices[0] if completion.choices else Choice()
    content = thinking_blocks(choice.reasoning, (choice.extra or {}).get("reasoning_details"))
    text = choice.content or (choice.refusal if not choice.tool_calls else None)
    if text:
        content.append({"type": "text", "text": text})
    for call in choice.tool_calls:
        content.append({"type": "tool_use", "id": call.id, "name": call.name, "input": tool_input(call.arguments)})
    return orjson.dumps({
        "id": record.id, "type": "message", "role": "assistant", "model": record.model, "content": content,
        "stop_reason": stop_reason(choice.finish_reason, choice.native_finish_reason, bool(choice.tool_calls)),
        "stop_sequence": None, "usage": usage_body(usage, record.cost_nanos),
    })


def thinking_blocks(reasoning: str | None, details: Any) -> list[dict[str, Any]]:
    blocks: list[dict[str, Any]] = []
    for detail in details or ():
        if not isinstance(detail, dict) or detail.get("format") != REASONING_FORMAT:
            continue
        if detail.get("type") == "reasoning.text":
            blocks.append({"type": "thinking", "thinking": detail.get("text") or "",
                           "signature": detail.get("signature") or ""})
        elif detail.get("type") == "reasoning.encrypted":
            blocks.append({"type": "redacted_thinking", "data": detail.get("data") or ""})
    if not blocks and reasoning:
        blocks.append({"type": "thinking", "thinking": reasoning, "signature": ""})
    return blocks


def tool_input(arguments: str) -> Any:
    """A tool call's JSON text as the object Anthropic's `input` is; text that is not a JSON object is
    kept under `_raw` so nothing the model produced is lost."""
    if not arguments:
        return {}
    try:
        value = orjson.loads(arguments)
    except orjson.JSONDecodeError:
        return {"_raw": arguments}
    return value if isinstance(value, dict) else {"_raw": arguments}


def stop_reason(finish: str | None, native: str | None, called: bool) -> str:
    if native in ANTHROPIC_STOPS:
        return native  # type: ignore[return-value]
    reason = FINISH_STOPS.get(finish or "stop", "end_turn")
    return "tool_use" if called and reason == "end_turn" else reason


def usage_body(usage: Usage, cost_nanos: int | None) -> dict[str, Any]:
    body: dict[str, Any] = {
        "input_tokens": max(0, usage.prompt_tokens - usage.cached_tokens - usage.cache_write_tokens),
        "output_tokens": usage.completion_tokens,
        "cache_read_input_tokens": usage.cached_tokens,
        "cache_creation_input_tokens": usage.cache_write_tokens,
    }
    if cost_nanos is not None:
        body["cost"] = from_nanos(cost_nanos)
    return body
