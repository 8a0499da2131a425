"""A provider's opaque reasoning carried in a reasoning item's `encrypted_content`, so that a later turn
sends it back intact (Anthropic thinking signatures and redacted thinking, OpenRouter reasoning_details,
Gemini thought signatures on function calls).

The value is `swp1.` + base64url(JSON {"details": [reasoning_details...], "calls": {call_id: extra}}). It
is not encrypted: it holds only what the provider itself returned to the client (signatures are the
provider's own, and it checks them). A value that is not ours (an OpenAI endpoint's real encrypted
reasoning, sent back when the next turn is routed elsewhere) means nothing to another provider and is
dropped, as a chat endpoint drops another vendor's signature."""

from __future__ import annotations

import base64
import binascii
from typing import Any

import orjson

PREFIX = "swp1."


def encode(details: list[dict[str, Any]], calls: dict[str, dict[str, Any]]) -> str | None:
    if not details and not calls:
        return None
    payload: dict[str, Any] = {}
    if details:
        payload["details"] = details
    if calls:
        payload["calls"] = calls
    return PREFIX + base64.urlsafe_b64encode(orjson.dumps(payload)).decode()


def decode(value: Any) -> tuple[list[dict[str, Any]], dict[str, dict[str, Any]]]:
    """(reasoning_details, extras of function calls by call_id); empty for a value that is not ours."""
    if not isinstance(value, str) or not value.startswith(PREFIX):
        return [], {}
    try:
        payload = orjson.loads(base64.urlsafe_b64decode(value[len(PREFIX):]))
    except (binascii.Error, ValueError, orjson.JSONDecodeError):
        return [], {}
    if not isinstance(payload, dict):
        return [], {}
    details = [d for d in payload.get("details") or () if isinstance(d, dict)]
    calls = payload.get("calls")
    return details, calls if isinstance(calls, dict) else {}
