"""Gemini responses: the parts the whole-response and streaming paths share (content parts, finish
reasons, usage, google.rpc.Status errors) and the parser of a whole GenerateContentResponse."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ..errors import AUTH, ENDPOINT, INVALID, OVERLOADED, RATE_LIMIT, SERVER, TIMEOUT, UpstreamError
from ..types import Choice, Completion, ToolCall, Usage
from . import context_errors
from .base import kind_for_status
from .native import dump_arguments, mint_call_id

# Every Candidate.FinishReason of the Gemini API (and Vertex AI's MODEL_ARMOR). Output withheld or cut
# by a policy is `content_filter`; a turn the model could not complete (a function call it got wrong,
# a missing thought signature, no image) is `error`; the rest ended normally.
FINISH_REASONS = {
    "STOP": "stop", "OTHER": "stop", "FINISH_REASON_UNSPECIFIED": "stop",
    "MAX_TOKENS": "length",
    "SAFETY": "content_filter", "RECITATION": "content_filter", "LANGUAGE": "content_filter",
    "BLOCKLIST": "content_filter", "PROHIBITED_CONTENT": "content_filter", "SPII": "content_filter",
    "IMAGE_SAFETY": "content_filter", "IMAGE_PROHIBITED_CONTENT": "content_filter",
    "IMAGE_RECITATION": "content_filter", "IMAGE_OTHER": "content_filter", "MODEL_ARMOR": "content_filter",
    "MALFORMED_FUNCTION_CALL": "error", "UNEXPECTED_TOOL_CALL": "error", "TOO_MANY_TOOL_CALLS": "error",
    "MISSING_THOUGHT_SIGNATURE": "error", "MALFORMED_RESPONSE": "error", "NO_IMAGE": "error",
}
# A value newer than this table is read by its words: a blocking reason names what it blocked.
_BLOCKING_WORDS = ("SAFETY", "PROHIBITED", "BLOCK", "RECITATION", "ARMOR", "JAILBREAK")
STATUS_KINDS = {
    "INVALID_ARGUMENT": INVALID, "FAILED_PRECONDITION": ENDPOINT, "OUT_OF_RANGE": INVALID,
    "UNAUTHENTICATED": AUTH, "PERMISSION_DENIED": AUTH, "NOT_FOUND": ENDPOINT, "RESOURCE_EXHAUSTED": RATE_LIMIT,
    "INTERNAL": SERVER, "UNAVAILABLE": OVERLOADED, "DEADLINE_EXCEEDED": TIMEOUT,
}
_AUTH_REASONS = {"API_KEY_INVALID", "API_KEY_SERVICE_BLOCKED", "API_KEY_HTTP_REFERRER_BLOCKED"}
_DURATION = re.compile(r"^(\d+(?:\.\d+)?)s$")


@dataclass(slots=True)
class Parts:
    """What one candidate's parts say: answer text, reasoning text and whole function calls."""

    text: str = ""
    reasoning: str = ""
    calls: list[ToolCall] = field(default_factory=list)


def read_parts(parts: Any) -> Parts:
    out = Parts()
    for part in parts or ():
        if "functionCall" in part:
            call = part["functionCall"] or {}
            signature = part.get("thoughtSignature")
            extra = {"extra_content": {"google": {"thought_signature": signature}}} if signature else None
            out.calls.append(ToolCall(call.get("id") or mint_call_id(), call.get("name") or "",
                                      dump_arguments(call.get("args")), extra))
        elif part.get("thought"):
            out.reasoning += part.get("text") or ""
        elif "text" in part:
            out.text += part.get("text") or ""
    return out


def finish_reason(native: str | None, called_tools: bool) -> str | None:
    if native is None:
        return None
    mapped = FINISH_REASONS.get(native)
    if mapped is None:
        mapped = "content_filter" if any(word in native for word in _BLOCKING_WORDS) else "stop"
    return "tool_calls" if called_tools and mapped == "stop" else mapped


def block_reason(reason: str) -> str:
    """promptFeedback.blockReason (SAFETY, OTHER, BLOCKLIST, PROHIBITED_CONTENT, IMAGE_SAFETY, Vertex's
    MODEL_ARMOR and JAILBREAK, ...): the prompt was refused, whatever the reason: content_filter."""
    return "content_filter"


def parse_usage(meta: Any) -> Usage | None:
    if not isinstance(meta, dict):
        return None
    thoughts = meta.get("thoughtsTokenCount") or 0
    return Usage(
        prompt_tokens=(meta.get("promptTokenCount") or 0) + (meta.get("toolUsePromptTokenCount") or 0),
        completion_tokens=(meta.get("candidatesTokenCount") or 0) + thoughts,
        cached_tokens=meta.get("cachedContentTokenCount") or 0,
        reasoning_tokens=thoughts,
    )


def blocked_prompt(data: Mapping[str, Any]) -> str | None:
    """The block reason when the prompt itself was refused (no candidates at all)."""
    if data.get("candidates"):
        return None
    feedback = data.get("promptFeedback") or {}
    reason = feedback.get("blockReason")
    return reason if isinstance(reason, str) and reason else None


def parse_response(data: Mapping[str, Any]) -> Completion:
    choices = []
    for position, candidate in enumerate(data.get("candidates") or ()):
        parts = read_parts((candidate.get("content") or {}).get("parts"))
        native = candidate.get("finishReason")
        choices.append(Choice(
            index=candidate.get("index", position),
            content=parts.text if parts.text or not parts.calls else None,
            reasoning=parts.reasoning or None,
            tool_calls=parts.calls,
            finish_reason=finish_reason(native, bool(parts.calls)),
            native_finish_reason=native,
        ))
    block = blocked_prompt(data)
    if block is not None:
        choices.append(Choice(index=0, finish_reason=block_reason(block), native_finish_reason=block))
    return Completion(choices=choices, usage=parse_usage(data.get("usageMetadata")),
                      upstream_id=data.get("responseId"), upstream_model=data.get("modelVersion"))


def status_error(error: Mapping[str, Any], raw: bytes, status: int | None = None) -> UpstreamError:
    """A google.rpc.Status error object -> UpstreamError (classified on status and detail reasons)."""
    code = error.get("status")
    http = status if status is not None else error.get("code") if isinstance(error.get("code"), int) else None
    kind = STATUS_KINDS.get(code or "") or (kind_for_status(http) if http else SERVER)
    details = [d for d in error.get("details") or () if isinstance(d, dict)]
    reasons = {d.get("reason") for d in details}
    if reasons & _AUTH_REASONS:
        kind = AUTH  # Gemini reports a bad key as 400 INVALID_ARGUMENT
    delay = None
    for detail in details:
        if str(detail.get("@type", "")).endswith("RetryInfo"):
            match = _DURATION.match(str(detail.get("retryDelay", "")))
            delay = float(match.group(1)) if match else None
    reason = next((r for r in reasons if r), None)
    return context_errors.classify(UpstreamError(
        kind, error.get("message") or f"Gemini returned {code or 'an error'}", status=http,
        raw=raw[:4000].decode("utf-8", "replace"), retry_after=delay, provider_code=reason or code))
