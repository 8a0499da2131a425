"""Counters that must be shared between replicas: budget reservations, rate limits.
`memory` (one process) is the default; `redis` serves a cluster. Both implement `State`."""

from __future__ import annotations

from typing import Protocol


class State(Protocol):
    async def reserve(self, counter: str, limit: int, amount: int, *, initial: int, ttl: float) -> tuple[bool, int]:
        """Atomically: if spent + reserved + amount <= limit, add amount to reserved.
        Returns (admitted, remaining before this reservation). `initial` seeds `spent` the first time the
        counter is seen (from the ledger); `ttl` lets a finished period's counter expire."""

    async def settle(self, counter: str, reserved: int, actual: int, *, ttl: float) -> None:
        """Release a reservation and add the actual spend."""

    async def spent(self, counter: str) -> int | None:
        """Settled spend, or None when the counter was never seeded."""

    async def seed(self, counter: str, initial: int, *, ttl: float) -> int:
        """Set spent to `initial` if the counter is new; return the settled spend."""

    async def hit(self, bucket: str, limit: int, window: float, cost: int, now: float) -> tuple[bool, int, float]:
        """Sliding-window limit: admit `cost` units if the last `window` seconds hold at most
        limit - cost. Returns (admitted, remaining after, seconds until a unit frees up)."""

    async def ping(self) -> None: ...

    async def close(self) -> None: ...


def open_state(url: str) -> State:
    if url == "memory":
        from .memory import MemoryState

        return MemoryState()
    from .redis import RedisState  # noqa: PLC0415 - optional backend, imported when configured

    return RedisState(url)
