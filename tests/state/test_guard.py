"""An unreachable shared state fails closed (503) by default, or falls back to local counters."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from switchpoint.state import StateUnavailableError, Window, open_state

from ..conftest import free_port


def unreachable() -> str:
    return f"redis://127.0.0.1:{free_port()}/0"


async def test_closed_refuses_limits_but_keeps_serving_the_cache_as_a_miss() -> None:
    state = open_state(unreachable(), failure="closed")
    started = time.monotonic()
    with pytest.raises(StateUnavailableError) as caught:
        await state.reserve("k", "t", 100, 10, ttl=60, lease=60)
    assert caught.value.status == 503
    assert time.monotonic() - started < 3
    with pytest.raises(StateUnavailableError):
        await state.hit([Window("b", 5, 60)], time.time())
    assert await state.cache_get("x") is None
    await state.cache_put("x", b"1", ttl=5)
    await state.settle("k", "t", 5, ttl=60)  # never fails a request that was served
    assert await state.hash_incr("breaker", "failures", 1, ttl=60) == 1  # local fallback
    await state.close()


async def test_stickiness_during_an_outage_routes_as_a_new_conversation() -> None:
    state = open_state(unreachable(), failure="closed")  # even failing closed: stickiness only saves money
    await state.sticky_set("conversation", "up:m", ttl=600)
    assert await state.sticky_get("conversation") is None
    await state.close()


async def test_open_falls_back_to_local_counters_that_still_enforce_limits() -> None:
    state = open_state(unreachable(), failure="open")
    assert await state.reserve("k", "t", 100, 10, ttl=60, lease=60) is None  # seeded from the ledger next
    assert await state.seed("k", 95, ttl=60) == 95
    assert await state.reserve("k", "t", 100, 10, ttl=60, lease=60) == (False, 5)
    assert await state.reserve("k", "t", 100, 5, ttl=60, lease=60) == (True, 5)
    checks = [await state.hit([Window("b", 2, 60)], time.time()) for _ in range(3)]
    assert [c.admitted for c in checks] == [True, True, False]
    await state.close()


@pytest.mark.parametrize("url", ["redis", "socket"])
async def test_an_outage_loses_messages_but_fails_nothing(url: str, tmp_path: Path) -> None:
    """Revoking a key must not fail because the other processes cannot be told (their caches expire)."""
    state = open_state(unreachable() if url == "redis" else f"switchpoint+unix://{tmp_path}/none.sock")
    heard: list[str | None] = []
    await state.subscribe("keys", heard.append)
    assert await state.publish("keys", "k") == []
    await state.close()
