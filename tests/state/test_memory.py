"""What only the in-process backend does: bound the cache by size."""

from __future__ import annotations

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
