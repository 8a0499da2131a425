"""The response cache's stored form: canonical results as plain dicts, so that any inbound API's
renderer can replay an entry made through another, and the entry does not change when a renderer does.

An entry is one orjson object tagged `"v": 2`: the generation's identity (model, provider, upstream
model, finish reason, router), its usage, and either the `completion` (choices and upstream ids) or,
for a stream, the `batches` of deltas as they were relayed (one list per upstream read, so a replay
writes the same chunking). Fields left at their default are dropped: a 50-delta stream stores in about
the size of its OpenAI chunks without their envelopes."""

from __future__ import annotations

from typing import Any

from ..generation import GenerationRecord
from ..types import Choice, Completion, Delta, ToolCall, ToolCallDelta, Usage

VERSION = 2
_CHOICE = ("content", "reasoning", "refusal", "finish_reason", "native_finish_reason", "logprobs", "extra")
_USAGE = ("prompt_tokens", "completion_tokens", "cached_tokens", "cache_write_tokens", "reasoning_tokens",
          "estimated")


def _set(obj: Any, names: tuple[str, ...], out: dict[str, Any]) -> dict[str, Any]:
    for name in names:
        value = getattr(obj, name)
        if value is not None:
            out[name] = value
    return out


def _tool(tc: ToolCall | ToolCallDelta) -> dict[str, Any]:
    return {k: v for k in ("index", "id", "name", "arguments", "extra") if (v := getattr(tc, k, None)) is not None}


def usage_dict(usage: Usage) -> dict[str, Any]:
    return {name: getattr(usage, name) for name in _USAGE}


def completion_dict(completion: Completion) -> dict[str, Any]:
    choices = []
    for choice in completion.choices:
        item = _set(choice, _CHOICE, {"index": choice.index})
        if choice.tool_calls:
            item["tool_calls"] = [_tool(tc) for tc in choice.tool_calls]
        choices.append(item)
    return _set(completion, ("upstream_id", "upstream_model", "system_fingerprint", "service_tier"),
                {"choices": choices})


def delta_dict(delta: Delta) -> dict[str, Any]:
    """Unrolled: three times faster than a loop over the field names (0.14 against 0.43 us a delta),
    and a stream is encoded delta by delta while it is relayed."""
    item: dict[str, Any] = {"index": delta.index}
    if delta.role is not None:
        item["role"] = delta.role
    if delta.content is not None:
        item["content"] = delta.content
    if delta.reasoning is not None:
        item["reasoning"] = delta.reasoning
    if delta.refusal is not None:
        item["refusal"] = delta.refusal
    if delta.tool_calls:
        item["tool_calls"] = [_tool(tc) for tc in delta.tool_calls]
    if delta.finish_reason is not None:
        item["finish_reason"] = delta.finish_reason
    if delta.native_finish_reason is not None:
        item["native_finish_reason"] = delta.native_finish_reason
    if delta.logprobs is not None:
        item["logprobs"] = delta.logprobs
    if delta.extra is not None:
        item["extra"] = delta.extra
    return item


def batch_dicts(batch: list[Delta]) -> list[dict[str, Any]]:
    return [delta_dict(delta) for delta in batch]


def entry(record: GenerationRecord, usage: Usage, stored: float) -> dict[str, Any]:
    """The head every entry has; the caller adds `completion` or `batches`."""
    return {"v": VERSION, "stored": stored, "id": record.id, "model": record.model, "provider": record.provider,
            "upstream_model": record.upstream_model, "finish_reason": record.finish_reason,
            "router": record.router, "usage": usage_dict(usage)}


def load_usage(data: dict[str, Any]) -> Usage:
    return Usage(**data)


def load_completion(data: dict[str, Any]) -> Completion:
    choices = []
    for item in data["choices"]:
        calls = item.get("tool_calls")
        if calls:
            item = {**item, "tool_calls": [ToolCall(**tc) for tc in calls]}
        choices.append(Choice(**item))
    return Completion(choices, None, data.get("upstream_id"), data.get("upstream_model"),
                      data.get("system_fingerprint"), data.get("service_tier"))


def load_delta(item: dict[str, Any]) -> Delta:
    """Keyword construction from the stored names (0.30 us a delta; 0.43 reading each with .get)."""
    calls = item.get("tool_calls")
    if calls:
        item = {**item, "tool_calls": [ToolCallDelta(**tc) for tc in calls]}
    return Delta(**item)


def load_batches(data: list[list[dict[str, Any]]]) -> list[list[Delta]]:
    return [[load_delta(item) for item in batch] for batch in data]
