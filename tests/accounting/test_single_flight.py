"""A burst of first requests for one key costs one key lookup and one budget seed, not one each."""

from __future__ import annotations

import asyncio
from typing import Any

from switchpoint.accounting.budget import Budget
from switchpoint.accounting.keys import KeyService, new_key_row
from switchpoint.state.memory import MemoryState
from switchpoint.storage import Store


async def test_concurrent_misses_share_one_query(tmp_path: Any) -> None:
    store = Store(f"sqlite:///{tmp_path / 'k.db'}")
    await store.create_schema()
    row = new_key_row("sk-sp-v1-" + "a" * 64, "burst", limit_usd=1.0)
    await store.insert_key(row)
    calls = {"get_key": 0, "spend": 0}
    get_key, spend = store.get_key, store.spend_nanos

    async def counted_get_key(key_hash: str) -> Any:
        calls["get_key"] += 1
        await asyncio.sleep(0.01)
        return await get_key(key_hash)

    async def counted_spend(*args: Any, **kwargs: Any) -> int:
        calls["spend"] += 1
        await asyncio.sleep(0.01)
        return await spend(*args, **kwargs)

    store.get_key, store.spend_nanos = counted_get_key, counted_spend  # type: ignore[method-assign]
    keys = KeyService(store, admin_key=None)
    budget = Budget(MemoryState(), store)
    try:
        records = await asyncio.gather(*(keys.authenticate("Bearer sk-sp-v1-" + "a" * 64) for _ in range(200)))
        assert {r.name for r in records} == {"burst"} and calls["get_key"] == 1
        holds = await asyncio.gather(*(budget.reserve(records[0], 1000) for _ in range(200)))
        assert calls["spend"] == 1 and all(h is not None for h in holds)
    finally:
        await store.close()


async def test_a_lookup_in_flight_when_the_key_changes_is_not_kept_or_shared(tmp_path: Any) -> None:
    """A read begun before a revocation may return the old record to its own caller, but neither
    caches it nor hands it to lookups that start after the revocation."""
    store = Store(f"sqlite:///{tmp_path / 'k.db'}")
    await store.create_schema()
    row = new_key_row("sk-sp-v1-" + "b" * 64, "doomed")
    await store.insert_key(row)
    get_key = store.get_key
    reading = asyncio.Event()
    release = asyncio.Event()

    async def slow_get_key(key_hash: str) -> Any:
        found = await get_key(key_hash)  # read before the delete...
        reading.set()
        await release.wait()             # ...answered after it
        return found

    store.get_key = slow_get_key  # type: ignore[method-assign]
    keys = KeyService(store, admin_key=None)
    try:
        early = asyncio.ensure_future(keys.lookup(row["hash"]))
        await reading.wait()
        await store.delete_key(row["hash"])
        await keys.changed(row["hash"])  # what the admin API does, in this process or on a message
        store.get_key = get_key  # type: ignore[method-assign]
        late = asyncio.ensure_future(keys.lookup(row["hash"]))
        await asyncio.sleep(0.01)
        release.set()
        assert (await early) is not None  # began before the change
        assert (await late) is None       # began after it: its own read, not the one in flight
        assert await keys.lookup(row["hash"]) is None  # and the old record was not cached
    finally:
        await store.close()
