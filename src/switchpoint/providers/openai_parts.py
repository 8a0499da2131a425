"""The parts of an OpenAI-compatible answer that providers shape differently, read into one convention:
typed content-part arrays, usage counters and error objects inside an HTTP 200 body or stream.

- Content: the OpenAI schema promises `content` as a string, but some compatible servers send an
  array of typed parts (Mistral's reasoning models: `thinking` parts holding text chunks, then `text`
  parts). Text parts are joined into `content`, thinking into `reasoning` and one OpenRouter
  `reasoning_details` item (`reasoning.text`, format `unknown`), refusal parts into `refusal`, image
  parts into `images`. Reference parts (source ids) carry nothing a chat client reads and are dropped.
- Usage: canonical usage follows OpenRouter (completion tokens include reasoning tokens; prompt tokens
  include cache reads and writes). xAI reports `completion_tokens` without the reasoning tokens; that
  is detected from the numbers themselves: reasoning tokens beyond the completion tokens, or a total
  that only adds up with them counted apart. The same test on the prompt side catches servers whose
  prompt count leaves out cached tokens.
- Error objects: the provider's status is kept: a numeric `code`, `status_code` or `status`, else the
  status its documented error type or code stands for (Groq's `tool_use_failed` is a 400)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..types import Usage

REASONING_FORMAT = "unknown"
TEXT_PARTS = frozenset({"text", "output_text"})
THINKING_PARTS = frozenset({"thinking", "reasoning"})
# Documented error types/codes -> the HTTP status the provider sends them with.
ERROR_STATUS = {
    "invalid_request_error": 400, "context_length_exceeded": 400, "tool_use_failed": 400,
    "json_validate_failed": 400, "invalid_api_key": 401, "authentication_error": 401,
    "permission_error": 403, "permission_denied": 403, "not_found_error": 404, "model_not_found": 404,
    "rate_limit_exceeded": 429, "rate_limit_error": 429, "insufficient_quota": 429,
    "overloaded_error": 529, "service_unavailable": 503,
}


@dataclass(slots=True)
class Parts:
    """What a `content` value says, split by kind. `text` is None when content was null."""

    text: str | None = None
    reasoning: str = ""
    refusal: str = ""
    images: list[dict[str, Any]] = field(default_factory=list)


def read_content(content: Any) -> Parts:
    if content is None or isinstance(content, str):
        return Parts(text=content)
    if not isinstance(content, list):
        return Parts(text=str(content))
    out = Parts(text="")
    texts: list[str] = []
    for part in content:
        if isinstance(part, str):
            texts.append(part)
            continue
        if not isinstance(part, dict):
            continue
        kind = part.get("type")
        if kind in TEXT_PARTS:
            texts.append(part.get("text") or "")
        elif kind in THINKING_PARTS:
            out.reasoning += thinking_text(part.get(kind) if kind in part else part.get("text"))
        elif kind == "refusal":
            out.refusal += part.get("refusal") or ""
        elif kind == "image_url":
            out.images.append(part)
    out.text = "".join(texts)
    return out


def thinking_text(value: Any) -> str:
    """A thinking part's text: a string, or (Mistral) a list of text chunks."""
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        return "".join(thinking_text(v.get("text") if isinstance(v, dict) else v) for v in value)
    return ""


def reasoning_detail(text: str) -> dict[str, Any]:
    return {"type": "reasoning.text", "text": text, "format": REASONING_FORMAT, "index": 0}


def parse_usage(raw: Any) -> Usage | None:
    if not isinstance(raw, dict):
        return None
    prompt_details = raw.get("prompt_tokens_details") or {}
    completion_details = raw.get("completion_tokens_details") or {}
    prompt = _int(raw.get("prompt_tokens"))
    completion = _int(raw.get("completion_tokens"))
    reasoning = _int(completion_details.get("reasoning_tokens"))
    # DeepSeek: prompt_cache_hit_tokens; Moonshot: a top-level cached_tokens.
    cached = _int(prompt_details.get("cached_tokens")) or _int(raw.get("prompt_cache_hit_tokens")) \
        or _int(raw.get("cached_tokens"))
    written = _int(prompt_details.get("cache_write_tokens"))
    total = raw.get("total_tokens")
    total = total if isinstance(total, int) and not isinstance(total, bool) else None
    if reasoning and (reasoning > completion or total == prompt + completion + reasoning):
        completion += reasoning  # reported apart (xAI): the answer is billed with its reasoning
    if cached + written and (cached + written > prompt or total == prompt + cached + written + completion):
        prompt += cached + written  # reported apart: the prompt is billed with its cached part
    return Usage(prompt_tokens=prompt, completion_tokens=completion, cached_tokens=cached,
                 cache_write_tokens=written, reasoning_tokens=reasoning)


def error_status(error: dict[str, Any]) -> int | None:
    """The HTTP status an error object stands for, or None when it names none."""
    for key in ("code", "status_code", "status"):
        value = error.get(key)
        if isinstance(value, int) and not isinstance(value, bool) and value >= 400:
            return value
    for key in ("code", "type"):
        value = error.get(key)
        if isinstance(value, str) and value in ERROR_STATUS:
            return ERROR_STATUS[value]
    return None


def _int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0
