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

from ..config.catalogue import Model
from ..types import ChatRequest
from .candidate import Candidate, RouteTable
from .order import Live
from .preferences import Preferences

SYSTEM_ROLES = frozenset({"system", "developer"})
# Only the first and last EDGE bytes of a long prefix (and its length) are hashed. An agent's 20 KB system
# prompt took ~50 µs to hash whole (SHA-256, on a loaded 2-core machine); naming the conversation from the
# edges takes ~10 µs whatever the prompt's size (1.7 KB and 20 KB alike). Two prefixes alike in length,
# head and tail share a cache prefix anyway, so sending them to one endpoint costs nothing.
EDGE = 512
SORTING_VARIANTS = frozenset({"nitro", "floor", "exacto"})


def may_stick(prefs: Preferences, variant: str | None, model: Model, table: RouteTable) -> bool:
    """False when the client chose its own order (`provider.order`, a `sort`, a sorting variant) or no
    endpoint of the model would make a cached prompt cheaper: then no state is read or written."""
    if prefs.order or prefs.sort is not None or variant in SORTING_VARIANTS:
        return False
    return table.cacheable(model)


def conversation(request: ChatRequest, key_hash: str, model_id: str) -> str | None:
    """The conversation's id in the shared state, or None when the request has nothing to name it by."""
    session = request.session_id or request.params.get("session_id") or request.params.get("prompt_cache_key")
    if isinstance(session, str) and session:
        basis = b"s\x00" + session.encode()
    else:
        prefix = _prefix(request.messages)
        if prefix is None:
            return None
        text = orjson.dumps(prefix)
        if len(text) > 2 * EDGE:
            text = b"%d\x00%b%b" % (len(text), text[:EDGE], text[-EDGE:])
        basis = b"p\x00" + text
    return hashlib.sha256(b"\x00".join((key_hash.encode(), model_id.encode(), basis))).hexdigest()[:32]


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
