"""Prompt-cache stickiness (openrouter-api.md §5.5): a conversation served by an endpoint whose cached
input is cheaper than its prompt goes back to that endpoint while its cache is warm, so the next turn
reads the cache instead of paying full price for the same prefix elsewhere.

The conversation is the calling key, the model and either the client's own id (body `session_id`, else
the `x-session-id` header, else `prompt_cache_key`) or, without one, a hash of the first system (or
developer) message and the first other message. Those two are what a provider's prefix cache is built
from, and they do not change as the conversation grows, while anything later does. Different keys
never share a conversation (a cache is never a side channel between tenants).

Pure: the engine reads and writes the remembered endpoint in the shared state; this module says
whether a request may stick, names the conversation, and moves the remembered endpoint first."""

from __future__ import annotations

import hashlib
from typing import Any

import orjson

from ..types import ChatRequest
from .candidate import Candidate
from .order import Live
from .preferences import Preferences

SYSTEM_ROLES = frozenset({"system", "developer"})
SORTING_VARIANTS = frozenset({"nitro", "floor", "exacto"})


def may_stick(prefs: Preferences, variant: str | None, candidates: list[Candidate]) -> bool:
    """False when the client chose its own order (`provider.order`, a `sort`, a sorting variant) or no
    endpoint of the model would make a cached prompt cheaper: then no state is read or written."""
    if prefs.order or prefs.sort is not None or variant in SORTING_VARIANTS:
        return False
    return any(c.cacheable for c in candidates)


def conversation(request: ChatRequest, key_hash: str, model_id: str) -> str | None:
    """The conversation's id in the shared state, or None when the request has nothing to name it by."""
    session = request.session_id or request.params.get("session_id") or request.params.get("prompt_cache_key")
    if isinstance(session, str) and session:
        basis = b"s\x00" + session.encode()
    else:
        prefix = _prefix(request.messages)
        if prefix is None:
            return None
        basis = b"p\x00" + orjson.dumps(prefix)
    return hashlib.blake2b(b"\x00".join((key_hash.encode(), model_id.encode(), basis)), digest_size=16).hexdigest()


def _prefix(messages: list[dict[str, Any]]) -> list[Any] | None:
    system = first = None
    for message in messages:
        role = message.get("role")
        if role in SYSTEM_ROLES:
            if system is None:
                system = message.get("content")
        elif first is None:
            first = message.get("content")
            break
    if first is None:
        return None
    return [system, first]


def pin(candidates: list[Candidate], endpoint_key: str, live: Live) -> list[Candidate] | None:
    """The candidates with the remembered endpoint first, or None when it is not among them (filtered
    out by this request) or is unhealthy (breaker not closed, or failed in the healthy window): then the
    normal order stands."""
    for i, c in enumerate(candidates):
        if c.key == endpoint_key:
            if not (live.available(c) and live.healthy(c)):
                return None
            return candidates if i == 0 else [c, *candidates[:i], *candidates[i + 1:]]
    return None
