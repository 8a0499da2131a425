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
