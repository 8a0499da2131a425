"""What only the in-process backend does: bound the cache by size."""

from __future__ import annotations

from switchpoint.state import Window
from switchpoint.state.memory import MemoryState


async def test_cache_is_bounded_and_evicts_least_recently_used() -> None:
    state = MemoryState(cache_bytes=100)
    await state.cache_put("a", b"a" * 40, ttl=60)
    await state.cache_put("b", b"b" * 40, ttl=60)
    assert await state.cache_get("a") is not None  # a is now the most recently used
    await state.cache_put("c", b"c" * 40, ttl=60)
    assert await state.cache_get("b") is None
    assert await state.cache_get("a") is not None and await state.cache_get("c") is not None
    await state.cache_put("huge", b"h" * 101, ttl=60)
    assert await state.cache_get("huge") is None


async def test_a_busy_window_counts_exactly_and_stays_small() -> None:
    """One hit a millisecond for 5 s against a 1 s window: the count is right at every step (a hit
    leaves at the end of its millisecond, never earlier, so the window holds 1,001 of them), and the
    log keeps about a window's worth of entries however long it runs."""
    state = MemoryState()
    limit = 1 << 40
    start = 1_000_000.0
    for i in range(5000):
        now = start + i / 1000 + 0.0004  # inside millisecond i, stamped at its end
        check = await state.hit([Window("busy", limit, 1.0)], now)
        assert check.remaining == (limit - min(i + 1, 1001),)
    window = state._windows["busy"]
    assert window.total == 1001 and len(window.stamps) - window.head == 1001
    assert len(window.stamps) <= 3000  # the expired front was dropped as it went
    # after a quiet second the log is empty and the next hit starts afresh
    assert (await state.hit([Window("busy", limit, 1.0)], start + 7)).remaining == (limit - 1,)
    assert len(window.stamps) == 1 and window.head == 0
