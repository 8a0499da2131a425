"""Retry / next / stop after a failure; backoff with full jitter, Retry-After and the deadline."""

from __future__ import annotations

import random

import pytest

from switchpoint import errors
from switchpoint.errors import UpstreamError
from switchpoint.routing import Decision, backoff, breaker_outcome, decide, next_step


@pytest.mark.parametrize(("kind", "retries", "expected"), [
    (errors.SERVER, 0, Decision.RETRY), (errors.SERVER, 1, Decision.NEXT),
    (errors.CONNECT, 0, Decision.RETRY), (errors.OVERLOADED, 0, Decision.RETRY),
    (errors.RATE_LIMIT, 0, Decision.NEXT), (errors.QUOTA, 0, Decision.NEXT),
    (errors.TIMEOUT, 0, Decision.NEXT), (errors.AUTH, 0, Decision.NEXT),
    (errors.ENDPOINT, 0, Decision.NEXT), (errors.MALFORMED, 0, Decision.NEXT),
    (errors.INVALID, 0, Decision.STOP),
])
def test_decide(kind: str, retries: int, expected: Decision) -> None:
    assert decide(UpstreamError(kind, "x"), retries, 1) is expected


def test_backoff_is_full_jitter_and_capped() -> None:
    rng = random.Random(3)
    for retries, ceiling in ((0, 0.2), (1, 0.4), (2, 0.8), (10, 5.0)):
        delays = [backoff(retries, rng) for _ in range(500)]
        assert 0 <= min(delays) < ceiling * 0.1
        assert ceiling * 0.9 < max(delays) <= ceiling


def test_retry_after_is_a_floor() -> None:
    assert backoff(0, random.Random(1), retry_after=2.0) == 2.0
    assert backoff(0, random.Random(1), retry_after=60.0) == 5.0


def test_next_step_honours_retry_after_and_deadline() -> None:
    rng = random.Random(1)
    server = UpstreamError(errors.SERVER, "boom", status=500)
    decision, delay = next_step(server, 0, 2, rng, remaining=10)
    assert decision is Decision.RETRY and 0 <= delay <= 0.2
    busy = UpstreamError(errors.OVERLOADED, "busy", status=503, retry_after=1.5)
    assert next_step(busy, 0, 2, rng, remaining=10) == (Decision.RETRY, 1.5)
    assert next_step(busy, 0, 2, rng, remaining=1.0) == (Decision.NEXT, 0.0)  # would miss the deadline
    long = UpstreamError(errors.OVERLOADED, "busy", status=503, retry_after=30)
    assert next_step(long, 0, 2, rng, remaining=100) == (Decision.NEXT, 0.0)  # longer than the cap
    assert next_step(long, 0, 2, rng, remaining=100, cap=60) == (Decision.RETRY, 30)
    assert next_step(UpstreamError(errors.INVALID, "bad", status=400), 0, 2, rng, remaining=10) == (
        Decision.STOP, 0.0)


@pytest.mark.parametrize(("kind", "outcome"), [
    (errors.INVALID, True), (errors.RATE_LIMIT, None), (errors.SERVER, False), (errors.TIMEOUT, False),
    (errors.AUTH, False), (errors.QUOTA, False), (errors.CONNECT, False), (errors.MALFORMED, False),
])
def test_breaker_outcome(kind: str, outcome: bool | None) -> None:
    assert breaker_outcome(UpstreamError(kind, "x")) is outcome
