"""Counters that must be shared between replicas: budget reservations, rate-limit windows, small
shared hashes (circuit-breaker state), the response cache, prompt-cache stickiness, and messages between the processes
that share them (a revoked key). `memory` (one process) is the default; `serve --workers N` keeps one
`memory` state in a process of its own that the workers reach over a Unix socket (`socket`); `redis`
serves a cluster. All implement `State` and pass the same contract tests (tests/state/)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from ..errors import ServiceUnavailableError

log = logging.getLogger("switchpoint.state")


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


@dataclass(frozen=True, slots=True)
class Hold:
    """One spend counter a reservation must fit under (a key's, its team's): its limit and how long
    the counter lives unused."""

    counter: str
    limit: int
    ttl: float


@dataclass(slots=True)
class HoldCheck:
    """The answer to `reserve_all`: `refused` is the index of the first counter the amount did not
    fit under (-1 when it was held under all of them); `remaining` what each had free before it;
    `unseeded` the counters never seeded (then nothing was held)."""

    refused: int
    remaining: tuple[int, ...] = ()
    unseeded: tuple[int, ...] = ()

    @property
    def admitted(self) -> bool:
        return self.refused < 0 and not self.unseeded


Handler = Callable[[str | None], str | None]  # a subscriber: message (None: some may be lost) -> reply


def notify(handler: Handler, message: str | None) -> str | None:
    """Call a subscriber. Its failure is logged and answered with None: it must not take down the
    connection that carries every other message."""
    try:
        return handler(message)
    except Exception:
        log.exception("a subscriber failed on message %r", message)
        return None


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

    async def reserve_all(self, holds: Sequence[Hold], token: str, amount: int, *, lease: float) -> HoldCheck:
        """`reserve` under several counters in one atomic step (a key's, its team's, its end user's):
        `amount` is held under `token` in every one of them, or in none. Replicas racing on a shared
        team or end user can then never overspend it, whichever of their keys they reserve for."""

    async def settle_all(self, counters: Sequence[tuple[str, float]], token: str, actual: int) -> None:
        """`settle` the hold `token` in each (counter, ttl) in one step."""

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

    # -- prompt-cache stickiness: conversation -> endpoint, forgotten `ttl` seconds after the last set
    async def sticky_get(self, key: str) -> str | None: ...

    async def sticky_set(self, key: str, value: str, *, ttl: float) -> None: ...

    # -- messages between the processes sharing this state ---------------------------------------
    async def subscribe(self, channel: str, handler: Handler) -> None:
        """Call `handler` with each message another process publishes on `channel`, and with None
        when messages may have been missed (the connection to the shared state was lost): the
        handler then drops whatever such messages keep fresh. Its return value is its reply."""

    async def publish(self, channel: str, message: str) -> list[str]:
        """Deliver `message` to the subscribers of `channel` in every other process sharing this
        state (not this one), and return once each has handled it (or a second has passed), with
        their replies (None and empty ones left out). With one process (memory) there is no one to
        tell."""

    async def ping(self) -> None: ...

    async def close(self) -> None: ...



def open_state(url: str, *, failure: str = "closed", cache_bytes: int = 64 << 20) -> State:
    """`memory`, a redis:// URL, or the workers' shared state (`switchpoint+unix://PATH`, set by
    `serve --workers N`). A shared backend is wrapped so that an outage fails closed (503) or, with
    failure='open', falls back to this process's own counters seeded from the ledger."""
    from .memory import MemoryState

    if url == "memory":
        return MemoryState(cache_bytes=cache_bytes)
    from .guard import GuardedState
    from .socket import SCHEME, SocketState

    primary: State
    if url.startswith(SCHEME):
        primary = SocketState(url.removeprefix(SCHEME))
    else:
        from .redis import RedisState

        primary = RedisState(url)
    fallback = MemoryState(cache_bytes=0) if failure == "open" else None
    return GuardedState(primary, fallback)


__all__ = ["Handler", "Hold", "HoldCheck", "notify", "State", "StateUnavailableError", "Window", "WindowCheck", "open_state"]
