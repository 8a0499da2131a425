"""Hedged streams: a second endpoint starts when the first is slow to its first token; the first to
answer is served, the other cancelled; the client sees one stream and the key pays for one attempt."""

from __future__ import annotations

import time
from typing import Any

import pytest

from ..conftest import TEST_KEY, Gateway
from ..upstream import Reply, Upstream
from .conftest import CHAT, USER, attempts_summary, call, generation, sdk, tried
from .test_stream_failover import TEXT, sse, text_of


def hedged(gateway: Gateway, hedge: Any = None, model: str = "rt/trio") -> tuple[list[Any], float]:
    provider: dict[str, Any] = {"sort": "price"}
    if hedge is not None:
        provider["hedge"] = hedge
    started = time.monotonic()
    chunks = list(sdk(gateway).chat.completions.create(model=model, messages=USER, stream=True,
                                                       extra_body={"provider": provider}))
    return chunks, time.monotonic() - started


def wait_for(predicate: Any, timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return False


def test_slow_first_endpoint_is_hedged_and_the_faster_one_served(make_routed: Any, upstream: Upstream) -> None:
    gateway = make_routed(keys=[{"name": "test", "key": TEST_KEY, "limit": 1.0}])
    upstream.queue("/v1" + CHAT, sse(pause_after=1, pause=1.5))  # headers and role chunk, then silence
    upstream.queue("/backup/v1" + CHAT, sse())
    chunks, elapsed = hedged(gateway, {"after_ms": 200})
    assert elapsed < 1.2
    assert tried(upstream) == ["up", "backup"]
    assert text_of(chunks) == TEXT  # exactly once
    assert {c.model_extra["provider"] for c in chunks} == {"backup"}
    usage = chunks[-1].usage
    assert usage.model_extra["cost"] == pytest.approx((78 + 9) * 2e-6)  # backup's price only
    record = generation(gateway, chunks[0].id)
    assert attempts_summary(record["provider_responses"]) == [("backup", 200, None), ("up", None, "hedge_lost")]
    assert record["provider_responses"][1]["error"] == "cancelled: another endpoint answered first"
    assert record["total_cost"] == pytest.approx((78 + 9) * 2e-6)
    assert wait_for(lambda: upstream.disconnects == 1)  # the slow upstream's connection was dropped
    counters = gateway.services.state._counters
    assert counters and all(c.reserved == 0 for c in counters.values())  # the loser's reservation released
    key = call(gateway, "GET", "/api/v1/key").json()["data"]
    assert key["usage"] == pytest.approx((78 + 9) * 2e-6)


def test_fast_first_endpoint_is_never_hedged(routed: Gateway, upstream: Upstream) -> None:
    upstream.queue("/v1" + CHAT, sse())
    upstream.always("/backup/v1" + CHAT, sse())
    chunks, _ = hedged(routed, {"after_ms": 500})
    assert tried(upstream) == ["up"]
    assert attempts_summary(generation(routed, chunks[0].id)["provider_responses"]) == [("up", 200, None)]


def test_first_endpoint_answering_first_cancels_the_hedge(routed: Gateway, upstream: Upstream) -> None:
    upstream.queue("/v1" + CHAT, sse(pause_after=1, pause=0.4))
    upstream.queue("/backup/v1" + CHAT, sse(pause_after=1, pause=2.0))
    chunks, elapsed = hedged(routed, {"after_ms": 100})
    assert elapsed < 1.5
    assert tried(upstream) == ["up", "backup"]
    assert {c.model_extra["provider"] for c in chunks} == {"up"}
    assert text_of(chunks) == TEXT
    assert attempts_summary(generation(routed, chunks[0].id)["provider_responses"]) == [
        ("up", 200, None), ("backup", None, "hedge_lost")]


def test_a_failure_before_the_hedge_delay_fails_over_at_once(routed: Gateway, upstream: Upstream) -> None:
    upstream.queue("/v1" + CHAT, Reply.file("openai/error_500_server_error.json", status=500))
    upstream.queue("/backup/v1" + CHAT, sse())
    chunks, elapsed = hedged(routed, {"after_ms": 3000})
    assert elapsed < 1.0
    assert tried(upstream) == ["up", "backup"]
    assert attempts_summary(generation(routed, chunks[0].id)["provider_responses"]) == [
        ("up", 500, "server"), ("backup", 200, None)]


def test_a_failed_hedge_is_replaced_by_the_next_endpoint(routed: Gateway, upstream: Upstream) -> None:
    upstream.queue("/v1" + CHAT, sse(pause_after=1, pause=2.0))
    upstream.queue("/backup/v1" + CHAT, Reply.file("openai/error_500_server_error.json", status=500))
    upstream.queue("/third/v1" + CHAT, sse())
    chunks, elapsed = hedged(routed, {"after_ms": 150})
    assert elapsed < 1.5
    assert tried(upstream) == ["up", "backup", "third"]
    assert {c.model_extra["provider"] for c in chunks} == {"third"}
    assert attempts_summary(generation(routed, chunks[0].id)["provider_responses"]) == [
        ("backup", 500, "server"), ("third", 200, None), ("up", None, "hedge_lost")]


def test_every_hedged_attempt_failing_returns_the_error(routed: Gateway, upstream: Upstream) -> None:
    for path in ("/v1", "/backup/v1", "/third/v1"):
        upstream.queue(path + CHAT, Reply.file("openai/error_500_server_error.json", status=500))
    response = call(routed, "POST", "/api/v1/chat/completions", {
        "model": "rt/trio", "messages": USER, "stream": True, "provider": {"sort": "price", "hedge": True}})
    assert response.status_code == 502
    assert tried(upstream) == ["up", "backup", "third"]
    assert len(response.json()["error"]["metadata"]["attempts"]) == 3


def test_hedging_configured_per_model_uses_the_observed_p95(make_routed: Any, upstream: Upstream) -> None:
    gateway = make_routed(routing={"hedge": {"models": {"rt/trio": None}, "min_samples": 3, "min_delay_ms": 100,
                                             "default_delay_ms": 30000}})
    upstream.always("/v1" + CHAT, sse())
    for _ in range(3):  # three fast streams: p95 time to first token is a few milliseconds
        hedged(gateway)
    upstream.reset()
    upstream.queue("/v1" + CHAT, sse(pause_after=1, pause=2.0))
    upstream.queue("/backup/v1" + CHAT, sse())
    chunks, elapsed = hedged(gateway)
    assert elapsed < 1.5  # hedged after the 100 ms floor, not the 30 s default
    assert {c.model_extra["provider"] for c in chunks} == {"backup"}
    assert tried(upstream) == ["up", "backup"]


def test_unhedged_model_waits_for_its_endpoint(make_routed: Any, upstream: Upstream) -> None:
    gateway = make_routed(routing={"hedge": {"models": {"test/fallback": {"after_ms": 50}}}})
    upstream.queue("/v1" + CHAT, sse(pause_after=1, pause=0.6))
    upstream.always("/backup/v1" + CHAT, sse())
    chunks, elapsed = hedged(gateway)
    assert elapsed >= 0.6
    assert tried(upstream) == ["up"]
    assert text_of(chunks) == TEXT
