"""The circuit breaker opens and recovers at the configured thresholds."""

from __future__ import annotations

from switchpoint.routing.breaker import CLOSED, HALF_OPEN, OPEN, BreakerSettings, BreakerState, MemoryBreakers

from .support import FakeClock

KEY = "p:model"


def breakers(**settings: float) -> MemoryBreakers:
    return MemoryBreakers(BreakerSettings(**settings))  # type: ignore[arg-type]


def fail(store: MemoryBreakers, clock: FakeClock, times: int = 1) -> BreakerState:
    for _ in range(times):
        state = store.record(KEY, False, clock.now)
    return state


def test_opens_after_consecutive_failures() -> None:
    clock, store = FakeClock(), breakers(consecutive_failures=3)
    assert fail(store, clock, 2).state == CLOSED
    assert store.available(KEY, clock.now)
    assert fail(store, clock).state == OPEN
    assert not store.available(KEY, clock.now)
    assert not store.admit(KEY, clock.now)


def test_a_success_resets_the_consecutive_count() -> None:
    clock, store = FakeClock(), breakers(consecutive_failures=3, min_requests=100)
    fail(store, clock, 2)
    store.record(KEY, True, clock.now)
    assert fail(store, clock, 2).state == CLOSED
    assert fail(store, clock).state == OPEN


def test_opens_on_error_rate_over_the_window() -> None:
    clock, store = FakeClock(), breakers(consecutive_failures=100, error_rate=0.5, min_requests=10, window=60)
    for i in range(10):  # alternate: 5 failures out of 10 is not *over* half
        store.record(KEY, i % 2 == 0, clock.now)
        clock.advance(1)
    assert store.get(KEY).state == CLOSED  # type: ignore[union-attr]
    assert fail(store, clock).state == OPEN  # 6 of 11


def test_old_traffic_fades_out_of_the_window() -> None:
    clock, store = FakeClock(), breakers(consecutive_failures=100, error_rate=0.5, min_requests=10, window=60)
    fail(store, clock, 4)
    for _ in range(5):
        store.record(KEY, True, clock.now)
    clock.advance(150)  # two windows later: the failures are forgotten
    for _ in range(9):
        store.record(KEY, True, clock.now)
    state = fail(store, clock)
    assert state.state == CLOSED
    assert (state.requests, state.failures, state.prev_requests) == (10, 1, 0)


def test_previous_window_is_weighted_down_as_the_current_fills() -> None:
    clock, store = FakeClock(), breakers(consecutive_failures=100, error_rate=0.5, min_requests=4, window=60)
    fail(store, clock, 1)
    store.record(KEY, True, clock.now)
    store.record(KEY, True, clock.now)
    clock.advance(90)  # into the next window, half way: previous counts weigh 0.5
    state = fail(store, clock)
    assert state.state == CLOSED
    assert (state.prev_requests, state.prev_failures) == (3, 1)


def test_half_open_probe_after_cooldown_then_close_on_success() -> None:
    clock, store = FakeClock(), breakers(consecutive_failures=2, cooldown=30)
    fail(store, clock, 2)
    clock.advance(29.9)
    assert not store.available(KEY, clock.now)
    clock.advance(0.1)
    assert store.available(KEY, clock.now)
    assert store.admit(KEY, clock.now)          # the probe
    assert store.get(KEY).state == HALF_OPEN    # type: ignore[union-attr]
    assert not store.admit(KEY, clock.now)      # one probe at a time
    assert not store.available(KEY, clock.now)
    assert store.record(KEY, True, clock.now).state == CLOSED
    assert store.admit(KEY, clock.now) and store.admit(KEY, clock.now)


def test_failed_probe_reopens_for_another_cooldown() -> None:
    clock, store = FakeClock(), breakers(consecutive_failures=2, cooldown=30)
    fail(store, clock, 2)
    clock.advance(30)
    assert store.admit(KEY, clock.now)
    state = fail(store, clock)
    assert (state.state, state.opened_at) == (OPEN, clock.now)
    clock.advance(29)
    assert not store.admit(KEY, clock.now)
    clock.advance(1)
    assert store.admit(KEY, clock.now)


def test_a_stale_probe_frees_the_slot_and_a_neutral_outcome_releases_it() -> None:
    clock, store = FakeClock(), breakers(consecutive_failures=1, cooldown=10)
    fail(store, clock)
    clock.advance(10)
    assert store.admit(KEY, clock.now)
    clock.advance(10)  # the probe never reported back
    assert store.admit(KEY, clock.now)
    store.record(KEY, None, clock.now)  # e.g. rate limited: neither healthy nor broken
    state = store.get(KEY)
    assert state is not None and (state.state, state.probe_at) == (HALF_OPEN, None)
    assert store.admit(KEY, clock.now)


def test_rate_limits_never_trip_the_breaker() -> None:
    clock, store = FakeClock(), breakers(consecutive_failures=1)
    for _ in range(50):
        store.record(KEY, None, clock.now)
    assert store.get(KEY).state == CLOSED  # type: ignore[union-attr]


def test_state_is_a_flat_record_a_shared_backend_can_store() -> None:
    clock, store = FakeClock(), breakers(consecutive_failures=1)
    state = fail(store, clock)
    assert state.as_dict() == {"state": "open", "consecutive_failures": 1, "opened_at": clock.now, "probe_at": None,
                               "window_start": clock.now, "requests": 1, "failures": 1, "prev_requests": 0,
                               "prev_failures": 0}
    assert BreakerState(**state.as_dict()) == state


def test_tripped_tells_planning_whether_any_breaker_is_not_closed() -> None:
    clock, store = FakeClock(), breakers(consecutive_failures=1, cooldown=5)
    assert not store.tripped()
    store.record("other", True, clock.now)
    assert not store.tripped()
    fail(store, clock)
    assert store.tripped()
    clock.advance(5)
    assert store.admit(KEY, clock.now) and store.tripped()  # half-open still counts
    store.record(KEY, True, clock.now)
    assert not store.tripped()
