"""Circuit breakers shared by replicas through the state backend (memory stands in for one Redis here;
the same hash operations are covered on Redis by the state contract suite, and the redis case runs too)."""

from __future__ import annotations

from typing import Any

from switchpoint.engine.breakers import SharedBreakers
from switchpoint.routing.breaker import CLOSED, OPEN, BreakerSettings

SETTINGS = BreakerSettings(consecutive_failures=3, cooldown=30.0)


class Clock:
    def __init__(self) -> None:
        self.mono, self.wall = 100.0, 1_800_000_000.0

    def advance(self, seconds: float) -> None:
        self.mono += seconds
        self.wall += seconds


def replica(state: Any, clock: Clock, mono_offset: float = 0.0) -> SharedBreakers:
    # Each replica has its own monotonic clock; wall clocks agree.
    return SharedBreakers(state, SETTINGS, clock=lambda: clock.mono + mono_offset, wall=lambda: clock.wall)


async def test_an_open_breaker_reaches_every_replica_and_so_does_recovery(state: Any) -> None:
    clock = Clock()
    a, b = replica(state, clock), replica(state, clock, mono_offset=5_000.0)
    for _ in range(3):
        a.record("up:m", False, clock.mono)
    assert a.get("up:m").state == OPEN and not a.available("up:m", clock.mono)
    await b.sync()
    assert not b.tripped() and b.get("up:m") is None  # nothing published yet
    await a.sync()
    await b.sync()
    assert b.get("up:m").state == OPEN and not b.available("up:m", clock.mono + 5_000.0)

    clock.advance(31)  # the cool-down is over on both: one probe each may go
    assert a.available("up:m", clock.mono) and b.available("up:m", clock.mono + 5_000.0)
    assert a.admit("up:m", clock.mono)
    a.record("up:m", True, clock.mono)  # the probe succeeded
    assert a.get("up:m").state == CLOSED
    await a.sync()
    await b.sync()
    assert b.get("up:m").state == CLOSED and not b.tripped()


async def test_an_old_opening_is_not_adopted(state: Any) -> None:
    clock = Clock()
    a, b = replica(state, clock), replica(state, clock)
    for _ in range(3):
        a.record("up:m", False, clock.mono)
    await a.sync()
    clock.advance(60)  # past the cool-down before b ever synced
    await b.sync()
    assert b.get("up:m") is None and not b.tripped()
