"""Endpoint statistics: EWMAs, uptime buckets, percentiles over a rolling window of samples."""

from __future__ import annotations

import pytest

from switchpoint.routing.health import Buckets, EndpointHealth, Health, rank

from .support import FakeClock


def test_ewma_and_error_rate() -> None:
    h = EndpointHealth()
    h.observe(True, 0, latency_ms=100, ttft_ms=50, tokens_per_second=10)
    h.observe(True, 1, latency_ms=200, ttft_ms=150, tokens_per_second=20)
    assert (h.latency_ms, h.ttft_ms, h.tokens_per_second) == pytest.approx((120, 70, 12))
    h.observe(False, 2)
    assert h.error_rate == pytest.approx(0.2)
    assert (h.requests, h.failures, h.consecutive_failures, h.last_failure) == (3, 1, 1, 2)
    assert h.latency_ms == pytest.approx(120)  # failures carry no timings


def test_uptime_over_5m_30m_and_1d() -> None:
    clock, h = FakeClock(0.0), EndpointHealth()
    assert h.uptime(clock.now, 300) is None
    for _ in range(3):
        h.observe(False, clock.now)
    clock.advance(600)
    for _ in range(9):
        h.observe(True, clock.now)
    h.observe(False, clock.now)
    assert h.uptime(clock.now, 300) == 90.0
    assert h.uptime(clock.now, 1800) == pytest.approx(100 * 9 / 13, abs=0.01)
    clock.advance(3600)
    h.observe(True, clock.now)
    assert h.uptime(clock.now, 300) == 100.0
    assert h.uptime(clock.now, 1800) == 100.0
    assert h.uptime(clock.now, 86400) == pytest.approx(100 * 10 / 14, abs=0.01)
    clock.advance(86400)
    assert h.uptime(clock.now, 86400) is None


def test_rate_limits_do_not_count_toward_uptime() -> None:
    h = EndpointHealth()
    h.observe(True, 0)
    h.observe(False, 1, counted=False, retry_after=5)
    assert h.uptime(2, 300) == 100.0
    assert h.recently_failed(2, 0.5)  # but it still steps back for the Retry-After
    assert not h.recently_failed(7, 0.5)


def test_buckets_reuse_slots_after_a_full_turn() -> None:
    b = Buckets(60.0, 3)
    b.add(0, True)
    b.add(180, False)  # same slot, three minutes later: the old count is gone
    assert b.uptime(180, 180) == 0.0


def test_percentiles_over_the_last_30_minutes() -> None:
    clock, h = FakeClock(0.0), EndpointHealth()
    h.observe(True, clock.now, latency_ms=10_000, ttft_ms=9_000, tokens_per_second=1)
    clock.advance(1000)
    for i in range(1, 101):
        h.observe(True, clock.now, latency_ms=float(i * 10), ttft_ms=float(i), tokens_per_second=float(i))
    clock.advance(1000)  # the first sample is now 2000 s old
    assert h.percentiles(clock.now, 2) == {"p50": 50, "p75": 75, "p90": 90, "p99": 99}
    assert h.percentiles(clock.now, 1) == {"p50": 500, "p75": 750, "p90": 900, "p99": 990}
    assert h.percentiles(clock.now, 3, window=10) is None


def test_samples_are_bounded() -> None:
    h = EndpointHealth()
    for i in range(1000):
        h.observe(True, i, ttft_ms=float(i))
    assert len(h.samples) == 256
    assert h.ttft_quantile(0.95, 20) == rank(sorted(float(i) for i in range(744, 1000)), 0.95)


def test_ttft_quantile_needs_enough_samples_and_tracks_new_ones() -> None:
    h = EndpointHealth()
    for i in range(19):
        h.observe(True, i, ttft_ms=100.0)
    assert h.ttft_quantile(0.95, 20) is None
    h.observe(True, 20, ttft_ms=1000.0)
    assert h.ttft_quantile(0.95, 20) == 100.0
    h.observe(True, 21, ttft_ms=1000.0)
    assert h.ttft_quantile(0.95, 20) == 1000.0


def test_health_registry() -> None:
    health = Health()
    health.observe("a", False, 5.0)
    assert health.get("a").last_failure == 5.0 and health.endpoints.keys() == {"a"}


def test_all_healthy_shortcut_tracks_the_latest_failure_and_retry_after() -> None:
    health = Health()
    assert health.all_healthy(0.0, 30)
    health.observe("a", True, 1.0)
    assert health.all_healthy(1.0, 30)
    health.observe("a", False, 2.0)
    assert not health.all_healthy(31.9, 30) and health.all_healthy(32.0, 30)
    health.observe("b", False, 40.0, counted=False, retry_after=100)
    assert not health.all_healthy(139.9, 30) and health.all_healthy(140.0, 30)
