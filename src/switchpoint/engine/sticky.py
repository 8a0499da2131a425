"""Prompt-cache stickiness at run time: read the conversation's endpoint from the shared state before
the attempts, write it back (refreshing its time to live) after one is served. The rules are pure
(routing/sticky.py); this is the I/O around them.

Cost: a request whose model has no endpoint with a cheaper cached input, or whose client set its own
order, makes no state call and hashes nothing (one dict lookup, well under a microsecond). An eligible
request names its conversation (~10 µs, routing/sticky.py), makes one read before its first attempt
and one write after it is served, which does not hold up the answer. Measured on a loaded 2-core
machine: a read takes ~1 µs in-process; on Redis ~0.6 ms of wall time and ~100 µs of the gateway's
CPU (redis-py), as any other shared-state call does."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from ..config.schema import StickyConfig
from ..generation import GenerationRecord
from ..routing import Candidate, Live, RouteTable
from ..routing import sticky as rules
from ..state import State
from ..types import ChatRequest
from .context import Route

PREFIX = "sticky:"


class Stickiness:
    def __init__(self, state: State, settings: StickyConfig, spawn: Callable[[Awaitable[Any]], None],
                 table: RouteTable) -> None:
        self.state = state
        self.table = table
        self.ttl = settings.ttl
        self.spawn = spawn

    async def pin(self, request: ChatRequest, key_hash: str, planned: Route, variant: str | None, live: Live) -> None:
        """Move the conversation's endpoint first, when it may stick and is still usable."""
        first = planned.candidates[0].model
        if not rules.may_stick(planned.prefs, variant, first, self.table):
            return
        conversation = rules.conversation(request, key_hash, first.id)
        if conversation is None:
            return
        planned.conversation = conversation
        endpoint = await self.state.sticky_get(PREFIX + conversation)
        if endpoint is None:
            return
        pinned = rules.pin(planned.candidates, endpoint, live)
        if pinned is not None:
            planned.candidates = pinned
            planned.sticky_endpoint = endpoint

    def served(self, planned: Route, cand: Candidate, record: GenerationRecord) -> None:
        """Remember (or refresh) the endpoint that served the conversation; say so when stickiness chose it."""
        if planned.conversation is None:
            return
        if planned.sticky_endpoint == cand.key:
            record.router = {**(record.router or {}), "sticky": True}
        if cand.cacheable and cand.model is planned.candidates[0].model:
            self.spawn(self.state.sticky_set(PREFIX + planned.conversation, cand.key, ttl=self.ttl))
