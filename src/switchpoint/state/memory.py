"""In-process state: exact for one process (asyncio is single-threaded and no method awaits, so
each method is atomic)."""

from __future__ import annotations

import math
import time
from array import array
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from . import Handler, Hold, HoldCheck, Window, WindowCheck

STICKY_SWEEP = 4096  # sticky entries between sweeps of the expired ones (each conversation is ~150 bytes)


@dataclass(slots=True)
class _Counter:
    spent: int = 0
    reserved: int = 0
    expires: float = 0.0
    holds: dict[str, tuple[int, float]] = field(default_factory=dict)  # token -> (amount, lease end)
    next_lease_end: float = float("inf")

    def release_expired(self, now: float) -> None:
        if now < self.next_lease_end:
            return
        for token, (amount, end) in list(self.holds.items()):
            if end <= now:
                del self.holds[token]
                self.reserved -= amount
        self.next_lease_end = min((end for _, end in self.holds.values()), default=float("inf"))


class _Window:
    """A sliding log of (time, cost). Events within the same millisecond share one entry stamped at
    the millisecond's end, so every event expires no earlier than it should. A key busy every
    millisecond keeps 60,000 entries for a one-minute window: they are kept in two flat arrays
    (16 bytes an entry; a deque of tuples took ~100), read from `head`, compacted as it advances."""

    __slots__ = ("stamps", "costs", "head", "total")

    def __init__(self) -> None:
        self.stamps = array("d")
        self.costs = array("q")
        self.head = 0
        self.total = 0

    def add(self, now: float, cost: int) -> None:
        stamp = math.ceil(now * 1000) / 1000
        stamps = self.stamps
        if len(stamps) > self.head and stamps[-1] == stamp:
            self.costs[-1] += cost
        else:
            stamps.append(stamp)
            self.costs.append(cost)
        self.total += cost

    def trim(self, now: float, seconds: float) -> None:
        horizon = now - seconds
        stamps, head, end = self.stamps, self.head, len(self.stamps)
        if head == end or stamps[head] > horizon:
            return
        costs = self.costs
        while head < end and stamps[head] <= horizon:
            self.total -= costs[head]
            head += 1
        if head == end:
            del stamps[:], costs[:]
            head = 0
        elif head >= 1024 and head * 2 >= end:  # drop the expired front, amortised over many trims
            del stamps[:head], costs[:head]
            head = 0
        self.head = head

    def reset(self, now: float, seconds: float) -> float:
        if self.head == len(self.stamps):
            return seconds
        # the stamp is rounded up to its millisecond; a client is never told to wait past the window
        return min(max(self.stamps[self.head] + seconds - now, 0.001), seconds)


class MemoryState:
    def __init__(self, *, cache_bytes: int = 64 << 20, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock  # stickiness's time (tests pass a fake one)
        self._counters: dict[str, _Counter] = {}
        self._windows: dict[str, _Window] = {}
        self._hashes: dict[str, tuple[dict[str, str], float]] = {}
        self._cache: OrderedDict[str, tuple[bytes, float]] = OrderedDict()
        self._cache_size = 0
        self.cache_bytes = cache_bytes
        self._sticky: dict[str, tuple[str, float]] = {}
        self._sticky_sweep = STICKY_SWEEP

    # -- spend counters --------------------------------------------------------------------------

    def _live(self, name: str) -> _Counter | None:
        counter = self._counters.get(name)
        if counter is not None and counter.expires < time.monotonic():
            del self._counters[name]
            return None
        return counter

    async def reserve(self, counter: str, token: str, limit: int, amount: int, *, ttl: float,
                      lease: float) -> tuple[bool, int] | None:
        c = self._live(counter)
        if c is None:
            return None
        now = time.monotonic()
        c.release_expired(time.time())
        c.expires = now + ttl
        remaining = limit - c.spent - c.reserved
        if amount > remaining:
            return False, remaining
        end = time.time() + lease
        c.reserved += amount
        c.holds[token] = (amount, end)
        c.next_lease_end = min(c.next_lease_end, end)
        return True, remaining

    async def reserve_all(self, holds: Sequence[Hold], token: str, amount: int, *, lease: float) -> HoldCheck:
        counters = [self._live(hold.counter) for hold in holds]
        unseeded = tuple(i for i, c in enumerate(counters) if c is None)
        if unseeded:
            return HoldCheck(-1, (), unseeded)
        now, wall = time.monotonic(), time.time()
        remaining: list[int] = []
        refused = -1
        for i, (hold, c) in enumerate(zip(holds, counters, strict=True)):
            assert c is not None
            c.release_expired(wall)
            c.expires = now + hold.ttl
            remaining.append(hold.limit - c.spent - c.reserved)
            if refused < 0 and amount > remaining[-1]:
                refused = i
        if refused < 0:
            end = wall + lease
            for c in counters:
                assert c is not None
                c.reserved += amount
                c.holds[token] = (amount, end)
                c.next_lease_end = min(c.next_lease_end, end)
        return HoldCheck(refused, tuple(remaining))

    async def settle(self, counter: str, token: str, actual: int, *, ttl: float) -> None:
        c = self._live(counter)
        if c is None:
            return  # the period ended (or the counter was never seeded): the ledger has the spend
        held = c.holds.pop(token, None)
        if held is not None:
            c.reserved -= held[0]
        c.spent += actual
        c.expires = time.monotonic() + ttl

    async def settle_all(self, counters: Sequence[tuple[str, float]], token: str, actual: int) -> None:
        for counter, ttl in counters:
            await self.settle(counter, token, actual, ttl=ttl)

    async def spent(self, counter: str) -> int | None:
        c = self._live(counter)
        return None if c is None else c.spent

    async def seed(self, counter: str, initial: int, *, ttl: float) -> int:
        c = self._live(counter)
        if c is None:
            c = self._counters[counter] = _Counter(spent=initial)
        c.expires = time.monotonic() + ttl
        return c.spent

    # -- rate limits -----------------------------------------------------------------------------

    async def hit(self, windows: Sequence[Window], now: float) -> WindowCheck:
        found = []
        refused = -1
        for i, spec in enumerate(windows):
            w = self._windows.get(spec.bucket)
            if w is None:
                w = self._windows[spec.bucket] = _Window()
            w.trim(now, spec.seconds)
            found.append(w)
            if refused < 0 and w.total + max(spec.cost, 1) > spec.limit:
                refused = i
        if refused < 0:
            for spec, w in zip(windows, found, strict=True):
                if spec.cost:
                    w.add(now, spec.cost)
        return WindowCheck(refused, tuple([max(0, s.limit - w.total) for s, w in zip(windows, found, strict=True)]),
                           tuple([w.reset(now, s.seconds) for s, w in zip(windows, found, strict=True)]))

    # -- shared hashes ---------------------------------------------------------------------------

    def _hash(self, name: str) -> dict[str, str] | None:
        entry = self._hashes.get(name)
        if entry is None or entry[1] < time.monotonic():
            self._hashes.pop(name, None)
            return None
        return entry[0]

    async def hash_get(self, name: str) -> dict[str, str]:
        return dict(self._hash(name) or {})

    async def hash_set(self, name: str, values: dict[str, str], *, ttl: float) -> None:
        current = self._hash(name) or {}
        current.update(values)
        self._hashes[name] = (current, time.monotonic() + ttl)

    async def hash_incr(self, name: str, field: str, amount: int, *, ttl: float) -> int:
        current = self._hash(name) or {}
        value = int(current.get(field, "0")) + amount
        current[field] = str(value)
        self._hashes[name] = (current, time.monotonic() + ttl)
        return value

    # -- response cache (LRU, bounded by bytes) --------------------------------------------------

    async def cache_get(self, key: str) -> bytes | None:
        entry = self._cache.get(key)
        if entry is None:
            return None
        if entry[1] < time.monotonic():
            await self.cache_delete(key)
            return None
        self._cache.move_to_end(key)
        return entry[0]

    async def cache_put(self, key: str, value: bytes, *, ttl: float) -> None:
        if len(value) > self.cache_bytes:
            return
        await self.cache_delete(key)
        self._cache[key] = (value, time.monotonic() + ttl)
        self._cache_size += len(value)
        while self._cache_size > self.cache_bytes:
            _, (old, _) = self._cache.popitem(last=False)
            self._cache_size -= len(old)

    async def cache_delete(self, key: str) -> None:
        entry = self._cache.pop(key, None)
        if entry is not None:
            self._cache_size -= len(entry[0])

    # -- stickiness --------------------------------------------------------------------------------

    async def sticky_get(self, key: str) -> str | None:
        entry = self._sticky.get(key)
        if entry is None:
            return None
        if entry[1] <= self.clock():
            del self._sticky[key]
            return None
        return entry[0]

    async def sticky_set(self, key: str, value: str, *, ttl: float) -> None:
        now = self.clock()
        self._sticky[key] = (value, now + ttl)
        if len(self._sticky) >= self._sticky_sweep:  # conversations that ended are never read again
            self._sticky = {k: v for k, v in self._sticky.items() if v[1] > now}
            self._sticky_sweep = max(STICKY_SWEEP, 2 * len(self._sticky))

    # -- messages: one process has no one else to tell -------------------------------------------

    async def subscribe(self, channel: str, handler: Handler) -> None:
        return None

    async def publish(self, channel: str, message: str) -> list[str]:
        return []

    async def ping(self) -> None:
        return None

    async def close(self) -> None:
        self._counters.clear()
        self._windows.clear()
        self._hashes.clear()
        self._cache.clear()
        self._cache_size = 0
        self._sticky.clear()
