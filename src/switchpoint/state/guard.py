"""What happens when the shared state cannot be reached.

Budgets and rate limits fail closed by default: the check raises StateUnavailableError (503), so an
outage never means unlimited spend. With `state_failure: open`, each replica falls back to its own
in-process counters, seeded from the ledger like any new counter: limits stay enforced per replica
(spend is bounded by replicas x limit during the outage) and requests keep flowing.
Settling never fails a request that was already served: the ledger row is still written.
The response cache and shared hashes are conveniences, not controls: an outage is a miss, and
hashes fall back to this process. A message published during an outage is lost: the other
processes see a changed key when their key cache expires (5 s), and every subscriber is told to
drop what such messages keep fresh when its connection comes back."""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import TypeVar

from . import Handler, Hold, HoldCheck, State, StateUnavailableError, Window, WindowCheck
from .memory import MemoryState

log = logging.getLogger("switchpoint.state")
T = TypeVar("T")
WARN_EVERY = 10.0


class GuardedState:
    def __init__(self, primary: State, fallback: MemoryState | None) -> None:
        self.primary = primary
        self.fallback = fallback
        self.local = fallback or MemoryState(cache_bytes=0)
        self._warned = 0.0

    def _warn(self, exc: StateUnavailableError, what: str) -> None:
        now = time.monotonic()
        if now - self._warned >= WARN_EVERY:
            self._warned = now
            mode = "using this replica's own counters" if self.fallback else "refusing requests (state_failure: closed)"
            log.warning("shared state unreachable during %s: %s; %s", what, exc.__cause__ or exc, mode)

    async def _guarded(self, what: str, primary: Callable[[], Awaitable[T]],
                       fallback: Callable[[MemoryState], Awaitable[T]] | None) -> T:
        try:
            return await primary()
        except StateUnavailableError as exc:
            self._warn(exc, what)
            if fallback is None:
                raise
            return await fallback(self.local)

    def _open(self, call: Callable[[MemoryState], Awaitable[T]]) -> Callable[[MemoryState], Awaitable[T]] | None:
        return call if self.fallback is not None else None

    async def reserve(self, counter: str, token: str, limit: int, amount: int, *, ttl: float,
                      lease: float) -> tuple[bool, int] | None:
        return await self._guarded(
            "a budget reservation",
            lambda: self.primary.reserve(counter, token, limit, amount, ttl=ttl, lease=lease),
            self._open(lambda s: s.reserve(counter, token, limit, amount, ttl=ttl, lease=lease)))

    async def reserve_all(self, holds: Sequence[Hold], token: str, amount: int, *, lease: float) -> HoldCheck:
        return await self._guarded(
            "a budget reservation", lambda: self.primary.reserve_all(holds, token, amount, lease=lease),
            self._open(lambda s: s.reserve_all(holds, token, amount, lease=lease)))

    async def settle(self, counter: str, token: str, actual: int, *, ttl: float) -> None:
        try:
            await self.primary.settle(counter, token, actual, ttl=ttl)
        except StateUnavailableError as exc:
            self._warn(exc, "settling a reservation")
            if self.fallback is not None:
                await self.fallback.settle(counter, token, actual, ttl=ttl)

    async def settle_all(self, counters: Sequence[tuple[str, float]], token: str, actual: int) -> None:
        try:
            await self.primary.settle_all(counters, token, actual)
        except StateUnavailableError as exc:
            self._warn(exc, "settling a reservation")
            if self.fallback is not None:
                await self.fallback.settle_all(counters, token, actual)

    async def spent(self, counter: str) -> int | None:
        return await self._guarded("reading spend", lambda: self.primary.spent(counter),
                                   self._open(lambda s: s.spent(counter)))

    async def seed(self, counter: str, initial: int, *, ttl: float) -> int:
        return await self._guarded("seeding a spend counter", lambda: self.primary.seed(counter, initial, ttl=ttl),
                                   self._open(lambda s: s.seed(counter, initial, ttl=ttl)))

    async def hit(self, windows: Sequence[Window], now: float) -> WindowCheck:
        return await self._guarded("a rate-limit check", lambda: self.primary.hit(windows, now),
                                   self._open(lambda s: s.hit(windows, now)))

    async def hash_get(self, name: str) -> dict[str, str]:
        return await self._guarded("reading shared health", lambda: self.primary.hash_get(name),
                                   lambda s: s.hash_get(name))

    async def hash_set(self, name: str, values: dict[str, str], *, ttl: float) -> None:
        await self._guarded("writing shared health", lambda: self.primary.hash_set(name, values, ttl=ttl),
                            lambda s: s.hash_set(name, values, ttl=ttl))

    async def hash_incr(self, name: str, field: str, amount: int, *, ttl: float) -> int:
        return await self._guarded("writing shared health",
                                   lambda: self.primary.hash_incr(name, field, amount, ttl=ttl),
                                   lambda s: s.hash_incr(name, field, amount, ttl=ttl))

    async def cache_get(self, key: str) -> bytes | None:
        return await self._guarded("a cache lookup", lambda: self.primary.cache_get(key), _none)

    async def cache_put(self, key: str, value: bytes, *, ttl: float) -> None:
        await self._guarded("a cache write", lambda: self.primary.cache_put(key, value, ttl=ttl), _none)

    async def cache_delete(self, key: str) -> None:
        await self._guarded("a cache delete", lambda: self.primary.cache_delete(key), _none)

    async def sticky_get(self, key: str) -> str | None:
        """Stickiness only saves money: an outage routes as if the conversation were new."""
        return await self._guarded("a stickiness lookup", lambda: self.primary.sticky_get(key), _none)

    async def sticky_set(self, key: str, value: str, *, ttl: float) -> None:
        await self._guarded("a stickiness write", lambda: self.primary.sticky_set(key, value, ttl=ttl), _none)

    async def subscribe(self, channel: str, handler: Handler) -> None:
        try:
            await self.primary.subscribe(channel, handler)
        except StateUnavailableError as exc:  # the backend subscribes again when it reconnects
            self._warn(exc, "subscribing to messages")

    async def publish(self, channel: str, message: str) -> list[str]:
        """An outage loses the message: the other processes then see the change when their caches
        expire (a key record: within 5 s)."""
        try:
            return await self.primary.publish(channel, message)
        except StateUnavailableError as exc:
            self._warn(exc, "publishing a message")
            return []

    async def ping(self) -> None:
        await self.primary.ping()

    async def close(self) -> None:
        await self.primary.close()
        await self.local.close()


async def _none(_: MemoryState) -> None:
    return None
