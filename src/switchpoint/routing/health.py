"""Live per-endpoint statistics that feed routing and `GET /models/.../endpoints`. Pure: times are passed in.

Each endpoint keeps EWMAs (latency, time to first token, tokens/s, error rate) for the hot path, a
small ring of recent samples for percentiles, and success/failure counts in time buckets for uptime.
Memory per endpoint is fixed; nothing grows with traffic."""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field
from typing import Any

ALPHA = 0.2             # EWMA weight of the newest observation
SAMPLES = 256           # recent successful generations kept for percentiles
STATS_WINDOW = 1800.0   # latency_last_30m / throughput_last_30m
PERCENTILES = (("p50", 0.50), ("p75", 0.75), ("p90", 0.90), ("p99", 0.99))


class Buckets:
    """Success and failure counts in a ring of fixed-width time buckets."""

    __slots__ = ("width", "ok", "failed", "stamp")

    def __init__(self, width: float, count: int) -> None:
        self.width = width
        self.ok = [0] * count
        self.failed = [0] * count
        self.stamp = [-1] * count

    def add(self, now: float, ok: bool) -> None:
        index = int(now // self.width)
        slot = index % len(self.stamp)
        if self.stamp[slot] != index:
            self.stamp[slot], self.ok[slot], self.failed[slot] = index, 0, 0
        if ok:
            self.ok[slot] += 1
        else:
            self.failed[slot] += 1

    def uptime(self, now: float, span: float) -> float | None:
        """Percent of successful attempts in the last `span` seconds; None without data."""
        newest = int(now // self.width)
        oldest = newest - max(1, math.ceil(span / self.width)) + 1
        ok = failed = 0
        for slot, stamp in enumerate(self.stamp):
            if oldest <= stamp <= newest:
                ok += self.ok[slot]
                failed += self.failed[slot]
        if not ok + failed:
            return None
        return round(100.0 * ok / (ok + failed), 2)


@dataclass(slots=True)
class EndpointHealth:
    requests: int = 0
    failures: int = 0
    consecutive_failures: int = 0
    last_failure: float = -1e18
    avoid_until: float = -1e18       # a rate limit's Retry-After keeps the endpoint behind the others
    latency_ms: float | None = None
    ttft_ms: float | None = None
    tokens_per_second: float | None = None
    error_rate: float = 0.0
    # (time, latency_ms, ttft_ms or None, tokens/s or None) of recent successful generations
    samples: deque[tuple[float, float | None, float | None, float | None]] = field(
        default_factory=lambda: deque(maxlen=SAMPLES))
    minutes: Buckets = field(default_factory=lambda: Buckets(60.0, 30))
    quarters: Buckets = field(default_factory=lambda: Buckets(900.0, 96))
    _ttft_sorted: list[float] | None = None

    def observe(self, ok: bool, now: float, latency_ms: float | None = None, ttft_ms: float | None = None,
                tokens_per_second: float | None = None, *, counted: bool = True,
                retry_after: float | None = None) -> None:
        """One finished attempt. `counted=False` (a rate limit) leaves uptime and the error rate alone
        but still moves the endpoint behind healthy ones for a while."""
        if not ok:
            self.last_failure = now
            if retry_after:
                self.avoid_until = max(self.avoid_until, now + retry_after)
        if not counted:
            return
        self.requests += 1
        self.error_rate = (1 - ALPHA) * self.error_rate + ALPHA * (0.0 if ok else 1.0)
        self.minutes.add(now, ok)
        self.quarters.add(now, ok)
        if not ok:
            self.failures += 1
            self.consecutive_failures += 1
            return
        self.consecutive_failures = 0
        self.latency_ms = _ewma(self.latency_ms, latency_ms)
        self.ttft_ms = _ewma(self.ttft_ms, ttft_ms)
        self.tokens_per_second = _ewma(self.tokens_per_second, tokens_per_second)
        if latency_ms is not None or ttft_ms is not None or tokens_per_second is not None:
            self.samples.append((now, latency_ms, ttft_ms, tokens_per_second))
            if ttft_ms is not None:
                self._ttft_sorted = None

    def recently_failed(self, now: float, window: float) -> bool:
        return now - self.last_failure < window or now < self.avoid_until

    def uptime(self, now: float, span: float) -> float | None:
        buckets = self.minutes if span <= self.minutes.width * len(self.minutes.stamp) else self.quarters
        return buckets.uptime(now, span)

    def percentiles(self, now: float, column: int, window: float = STATS_WINDOW) -> dict[str, float] | None:
        """{p50, p75, p90, p99} of one sample column (1 latency, 2 ttft, 3 tokens/s) over `window` seconds."""
        values: list[float] = sorted(v for s in self.samples if (v := s[column]) is not None and now - s[0] <= window)
        if not values:
            return None
        return {name: round(rank(values, q), 2) for name, q in PERCENTILES}

    def ttft_quantile(self, q: float, min_samples: int) -> float | None:
        """A quantile of time to first token over the kept samples, or None with too few of them."""
        if self._ttft_sorted is None:
            self._ttft_sorted = sorted(s[2] for s in self.samples if s[2] is not None)
        if len(self._ttft_sorted) < min_samples:
            return None
        return rank(self._ttft_sorted, q)


class Health:
    def __init__(self) -> None:
        self.endpoints: dict[str, EndpointHealth] = {}
        # The latest failure and Retry-After of any endpoint: while both are old, every endpoint is
        # healthy and planning skips the per-endpoint check.
        self.last_failure = -1e18
        self.avoid_until = -1e18

    def get(self, key: str) -> EndpointHealth:
        health = self.endpoints.get(key)
        if health is None:
            health = self.endpoints[key] = EndpointHealth()
        return health

    def observe(self, key: str, ok: bool, now: float, **stats: Any) -> None:
        """Record one attempt (see EndpointHealth.observe); go through here, not the endpoint, so the
        shortcut above stays right."""
        health = self.get(key)
        health.observe(ok, now, **stats)
        if not ok:
            self.last_failure = now
            self.avoid_until = max(self.avoid_until, health.avoid_until)

    def all_healthy(self, now: float, window: float) -> bool:
        return now - self.last_failure >= window and now >= self.avoid_until


def rank(values: list[float], q: float) -> float:
    """Nearest-rank quantile of sorted values."""
    return values[min(len(values) - 1, max(0, math.ceil(q * len(values)) - 1))]


def _ewma(old: float | None, new: float | None) -> float | None:
    if new is None:
        return old
    return new if old is None else (1 - ALPHA) * old + ALPHA * new
