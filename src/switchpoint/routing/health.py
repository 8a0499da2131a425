"""Live per-endpoint statistics that feed routing. Pure: times are passed in."""

from __future__ import annotations

from dataclasses import dataclass

ALPHA = 0.2  # EWMA weight of the newest observation


@dataclass(slots=True)
class EndpointHealth:
    requests: int = 0
    failures: int = 0
    consecutive_failures: int = 0
    last_failure: float = -1e18
    latency_ms: float | None = None
    ttft_ms: float | None = None
    tokens_per_second: float | None = None
    error_rate: float = 0.0

    def observe(self, ok: bool, now: float, latency_ms: float | None = None, ttft_ms: float | None = None,
                tokens_per_second: float | None = None) -> None:
        self.requests += 1
        self.error_rate = (1 - ALPHA) * self.error_rate + ALPHA * (0.0 if ok else 1.0)
        if ok:
            self.consecutive_failures = 0
            self.latency_ms = _ewma(self.latency_ms, latency_ms)
            self.ttft_ms = _ewma(self.ttft_ms, ttft_ms)
            self.tokens_per_second = _ewma(self.tokens_per_second, tokens_per_second)
        else:
            self.failures += 1
            self.consecutive_failures += 1
            self.last_failure = now


class Health:
    def __init__(self) -> None:
        self.endpoints: dict[str, EndpointHealth] = {}

    def get(self, key: str) -> EndpointHealth:
        health = self.endpoints.get(key)
        if health is None:
            health = self.endpoints[key] = EndpointHealth()
        return health

    def observe(self, key: str, ok: bool, now: float, **stats: float | None) -> None:
        self.get(key).observe(ok, now, **stats)


def _ewma(old: float | None, new: float | None) -> float | None:
    if new is None:
        return old
    return new if old is None else (1 - ALPHA) * old + ALPHA * new
