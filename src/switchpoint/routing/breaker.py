"""Per-endpoint circuit breakers.

The state machine is pure functions over a small, flat `BreakerState` record (numbers and one
string), so a shared backend can hold the record anywhere — in-process here, a Redis hash updated by
a script for a cluster — and run the same transitions. The clock is passed in.

    closed --(N consecutive failures, or error rate over the window)--> open
    open --(cool-down elapsed; one request admitted as a probe)--> half_open
    half_open --(probe succeeded)--> closed,  --(probe failed)--> open
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Protocol

CLOSED, OPEN, HALF_OPEN = "closed", "open", "half_open"


@dataclass(frozen=True, slots=True)
class BreakerSettings:
    consecutive_failures: int = 5
    error_rate: float = 0.5
    min_requests: int = 20
    window: float = 60.0
    cooldown: float = 30.0


@dataclass(slots=True)
class BreakerState:
    state: str = CLOSED
    consecutive_failures: int = 0
    opened_at: float = 0.0
    probe_at: float | None = None     # when the half-open probe was admitted
    window_start: float = 0.0
    requests: int = 0                 # current window
    failures: int = 0
    prev_requests: int = 0            # previous window, weighted down as the current one fills
    prev_failures: int = 0

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def available(b: BreakerState | None, now: float, s: BreakerSettings) -> bool:
    """Whether routing may plan this endpoint (read-only)."""
    if b is None or b.state == CLOSED:
        return True
    if b.state == OPEN:
        return now - b.opened_at >= s.cooldown
    return b.probe_at is None or now - b.probe_at >= s.cooldown  # half-open: the probe slot is free or stale


def admit(b: BreakerState, now: float, s: BreakerSettings) -> bool:
    """Called right before an attempt: True lets it through (taking the probe slot when half-open)."""
    if not available(b, now, s):
        return False
    if b.state != CLOSED:
        b.state, b.probe_at = HALF_OPEN, now
    return True


def record(b: BreakerState, outcome: bool | None, now: float, s: BreakerSettings) -> None:
    """An attempt finished: True healthy answer, False endpoint failure, None neither (a rate limit)."""
    if outcome is None:
        if b.state == HALF_OPEN:
            b.probe_at = None  # let another request probe
        return
    _roll(b, now, s)
    b.requests += 1
    if outcome:
        b.consecutive_failures = 0
        if b.state == HALF_OPEN:
            _close(b, now)
        return
    b.failures += 1
    b.consecutive_failures += 1
    if b.state == HALF_OPEN or (b.state == CLOSED and _tripped(b, now, s)):
        b.state, b.opened_at, b.probe_at = OPEN, now, None


def error_rate(b: BreakerState, now: float, s: BreakerSettings) -> tuple[float, float]:
    """(estimated requests, estimated failures) over the sliding window."""
    weight = max(0.0, 1.0 - (now - b.window_start) / s.window)
    return b.requests + b.prev_requests * weight, b.failures + b.prev_failures * weight


def _tripped(b: BreakerState, now: float, s: BreakerSettings) -> bool:
    if b.consecutive_failures >= s.consecutive_failures:
        return True
    requests, failures = error_rate(b, now, s)
    return requests >= s.min_requests and failures > s.error_rate * requests


def _roll(b: BreakerState, now: float, s: BreakerSettings) -> None:
    elapsed = now - b.window_start
    if elapsed < s.window:
        return
    if elapsed < 2 * s.window:
        b.prev_requests, b.prev_failures = b.requests, b.failures
    else:
        b.prev_requests = b.prev_failures = 0
    b.requests = b.failures = 0
    b.window_start = now - elapsed % s.window


def _close(b: BreakerState, now: float) -> None:
    b.state, b.probe_at, b.consecutive_failures = CLOSED, None, 0
    b.requests = b.failures = b.prev_requests = b.prev_failures = 0
    b.window_start = now


class BreakerStore(Protocol):
    """Where breaker records live. Routing reads through `available` / `get` on the hot path (no
    awaits), so a shared backend keeps a local mirror and syncs it with the shared copy."""

    settings: BreakerSettings

    def tripped(self) -> bool:
        """Whether any breaker is not closed (when none is, planning skips the per-endpoint check)."""
        ...

    def get(self, key: str) -> BreakerState | None: ...

    def available(self, key: str, now: float) -> bool: ...

    def admit(self, key: str, now: float) -> bool: ...

    def record(self, key: str, outcome: bool | None, now: float) -> BreakerState: ...


class MemoryBreakers:
    """In-process breakers (one gateway process)."""

    def __init__(self, settings: BreakerSettings | None = None) -> None:
        self.settings = settings or BreakerSettings()
        self._states: dict[str, BreakerState] = {}
        self._not_closed: set[str] = set()

    def tripped(self) -> bool:
        return bool(self._not_closed)

    def get(self, key: str) -> BreakerState | None:
        return self._states.get(key)

    def available(self, key: str, now: float) -> bool:
        return available(self._states.get(key), now, self.settings)

    def admit(self, key: str, now: float) -> bool:
        state = self._states.get(key)
        if state is None:
            return True
        admitted = admit(state, now, self.settings)
        self._track(key, state)
        return admitted

    def record(self, key: str, outcome: bool | None, now: float) -> BreakerState:
        state = self._states.get(key)
        if state is None:
            state = self._states[key] = BreakerState(window_start=now)
        record(state, outcome, now, self.settings)
        self._track(key, state)
        return state

    def _track(self, key: str, state: BreakerState) -> None:
        if state.state == CLOSED:
            self._not_closed.discard(key)
        else:
            self._not_closed.add(key)
