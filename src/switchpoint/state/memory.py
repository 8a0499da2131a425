"""In-process state: exact for one process (asyncio is single-threaded, so each method is atomic)."""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass, field


@dataclass(slots=True)
class _Counter:
    spent: int = 0
    reserved: int = 0
    expires: float = 0.0


@dataclass(slots=True)
class _Window:
    events: deque[tuple[float, int]] = field(default_factory=deque)
    total: int = 0


class MemoryState:
    def __init__(self) -> None:
        self._counters: dict[str, _Counter] = {}
        self._windows: dict[str, _Window] = {}

    def _counter(self, name: str, initial: int, ttl: float) -> _Counter:
        now = time.monotonic()
        counter = self._counters.get(name)
        if counter is None or counter.expires < now:
            counter = self._counters[name] = _Counter(spent=initial)
        counter.expires = now + ttl
        return counter

    async def reserve(self, counter: str, limit: int, amount: int, *, initial: int, ttl: float) -> tuple[bool, int]:
        c = self._counter(counter, initial, ttl)
        remaining = limit - c.spent - c.reserved
        if amount > remaining:
            return False, remaining
        c.reserved += amount
        return True, remaining

    async def settle(self, counter: str, reserved: int, actual: int, *, ttl: float) -> None:
        c = self._counter(counter, 0, ttl)
        c.reserved = max(0, c.reserved - reserved)
        c.spent += actual

    async def spent(self, counter: str) -> int | None:
        c = self._counters.get(counter)
        if c is None or c.expires < time.monotonic():
            return None
        return c.spent

    async def seed(self, counter: str, initial: int, *, ttl: float) -> int:
        return self._counter(counter, initial, ttl).spent

    async def hit(self, bucket: str, limit: int, window: float, cost: int, now: float) -> tuple[bool, int, float]:
        w = self._windows.get(bucket)
        if w is None:
            w = self._windows[bucket] = _Window()
        events = w.events
        horizon = now - window
        while events and events[0][0] <= horizon:
            w.total -= events.popleft()[1]
        if w.total + cost > limit:
            wait = (events[0][0] + window - now) if events else window
            return False, max(0, limit - w.total), max(wait, 0.001)
        events.append((now, cost))
        w.total += cost
        reset = events[0][0] + window - now
        return True, limit - w.total, reset

    async def ping(self) -> None:
        return None

    async def close(self) -> None:
        self._counters.clear()
        self._windows.clear()
