"""Counters that must be shared between replicas: budget reservations, rate-limit windows, small
shared hashes (circuit-breaker state) and the response cache. `memory` (one process) is the default;
`redis` serves a cluster. Both implement `State` and pass the same contract tests (tests/state/)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from ..errors import ServiceUnavailableError


class StateUnavailableError(ServiceUnavailableError):
    """The shared state backend cannot be reached (503: limits cannot be checked exactly)."""

    error_type = "state_unavailable"


@dataclass(frozen=True, slots=True)
class Window:
    """One sliding-window limit: at most `limit` units in any `seconds`. `cost` units are added when
    every window of a hit admits; a cost of 0 only asks that the window still has room."""

    bucket: str
    limit: int
    seconds: float
    cost: int = 1


@dataclass(slots=True)
class WindowCheck:
    refused: int                  # index of the first window that refused, -1 when all admitted
    remaining: tuple[int, ...]    # units left in each window after this hit
    reset: tuple[float, ...]      # seconds until each window's oldest unit leaves

    @property
    def admitted(self) -> bool:
        return self.refused < 0


class State(Protocol):
    # -- spend counters (budgets) ------------------------------------------------------------------
    async def reserve(self, counter: str, token: str, limit: int, amount: int, *, ttl: float,
                      lease: float) -> tuple[bool, int] | None:
        """Atomically: if spent + reserved + amount <= limit, hold `amount` under `token` for at most
        `lease` seconds. Returns (admitted, remaining before this reservation), or None when the
        counter was never seeded (the caller seeds it from the ledger and asks again). Expired
        holds (a replica died mid-request) are released first. `ttl` lets a finished period expire."""

    async def settle(self, counter: str, token: str, actual: int, *, ttl: float) -> None:
        """Release the hold `token` (if still held) and add `actual` to the settled spend."""

    async def spent(self, counter: str) -> int | None:
        """Settled spend, or None when the counter was never seeded."""

    async def seed(self, counter: str, initial: int, *, ttl: float) -> int:
        """Set the settled spend to `initial` if the counter is new; return the settled spend."""

    # -- rate limits -----------------------------------------------------------------------------
    async def hit(self, windows: Sequence[Window], now: float) -> WindowCheck:
        """All or nothing: add each window's cost if every window admits it, else add nothing."""

    # -- small shared hashes (e.g. circuit-breaker state shared by replicas) ----------------------
    async def hash_get(self, name: str) -> dict[str, str]: ...

    async def hash_set(self, name: str, values: dict[str, str], *, ttl: float) -> None: ...

    async def hash_incr(self, name: str, field: str, amount: int, *, ttl: float) -> int: ...

    # -- response cache --------------------------------------------------------------------------
    async def cache_get(self, key: str) -> bytes | None: ...

    async def cache_put(self, key: str, value: bytes, *, ttl: float) -> None: ...

    async def cache_delete(self, key: str) -> None: ...

    async def ping(self) -> None: ...

    async def close(self) -> None: ...


def open_state(url: str, *, failure: str = "closed", cache_bytes: int = 64 << 20) -> State:
    """`memory` or a redis:// URL. A shared backend is wrapped so that an outage fails closed (503)
    or, with failure='open', falls back to this process's own counters seeded from the ledger."""
    from .memory import MemoryState

    if url == "memory":
        return MemoryState(cache_bytes=cache_bytes)
    from .guard import GuardedState
    from .redis import RedisState

    fallback = MemoryState(cache_bytes=0) if failure == "open" else None
    return GuardedState(RedisState(url), fallback)


__all__ = ["State", "StateUnavailableError", "Window", "WindowCheck", "open_state"]
