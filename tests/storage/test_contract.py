"""The Store contract: the same tests on SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy.exc import IntegrityError

from switchpoint.accounting.keys import new_key_row
from switchpoint.storage import Store

DAY = 86_400_000


def generation(i: int, **fields: Any) -> dict[str, Any]:
    row = {
        "id": f"gen-{i}", "created_at_ms": 1_000 + i, "key_hash": "k1", "api_type": "completions",
        "model": "test/gpt", "provider": "up", "upstream_model": "gpt", "upstream_id": None, "status": "success",
        "http_status": 200, "streamed": False, "cache_hit": False, "finish_reason": "stop",
        "native_finish_reason": "stop", "prompt_tokens": 10, "completion_tokens": 5, "cached_tokens": 0,
        "cache_write_tokens": 0, "reasoning_tokens": 0, "usage_estimated": False, "cost_nanos": 1_000,
        "markup_nanos": 0, "latency_ms": 1.5, "ttft_ms": None, "generation_ms": None, "external_user": None,
        "error": None, "attempts": None, "router": None,
    }
    row.update(fields)
    return row


async def test_keys_round_trip(store: Store) -> None:
    row = new_key_row("sk-sp-v1-" + "a" * 64, "app", limit_usd=12.5, limit_reset="weekly",
                      rate_limit=(50, 60.0), token_limit=(1000, 30.0), cache=True)
    await store.insert_key(row)
    got = await store.get_key(row["hash"])
    assert got is not None
    assert {k: got[k] for k in row} == row
    assert got["limit_nanos"] == 12_500_000_000
    assert await store.get_key("missing") is None
    with pytest.raises(IntegrityError):
        await store.insert_key(row)


async def test_key_updates_listing_and_deletion(store: Store) -> None:
    a = new_key_row("sk-sp-v1-" + "a" * 64, "a")
    b = new_key_row("sk-sp-v1-" + "b" * 64, "b")
    b["created_at_ms"] = a["created_at_ms"] + 1
    await store.insert_key(a)
    await store.insert_key(b)
    assert [k["name"] for k in await store.list_keys()] == ["b", "a"]
    assert await store.update_key(a["hash"], {"disabled": True, "limit_nanos": 5})
    assert [k["name"] for k in await store.list_keys(include_disabled=False)] == ["b"]
    updated = await store.get_key(a["hash"])
    assert updated is not None and updated["limit_nanos"] == 5 and updated["updated_at_ms"] is not None
    assert [k["name"] for k in await store.find_keys(hash_prefix=b["hash"][:10])] == ["b"]
    assert [k["hash"] for k in await store.find_keys(name="a")] == [a["hash"]]
    assert await store.delete_key(a["hash"])
    assert not await store.delete_key(a["hash"])
    assert not await store.update_key("missing", {"disabled": True})


async def test_config_keys_are_upserted(store: Store) -> None:
    row = new_key_row("sk-sp-v1-" + "c" * 64, "ci", limit_usd=1.0, source="config")
    await store.upsert_config_keys([row])
    others = [new_key_row(f"sk-sp-v1-{i:064d}", f"k{i}", source="config") for i in range(1200)]
    await store.upsert_config_keys([{**row, "limit_nanos": 7, "created_at_ms": 1}, *others])
    got = await store.get_key(row["hash"])
    assert got is not None and got["limit_nanos"] == 7 and got["created_at_ms"] == row["created_at_ms"]
    assert len(await store.list_keys(limit=5000)) == 1201


async def test_generations_and_spend(store: Store) -> None:
    await store.insert_generations([generation(i, created_at_ms=i * 1000, cost_nanos=10 ** 12 + i) for i in range(5)])
    await store.insert_generations([generation(9, key_hash="k2", cost_nanos=3)])
    await store.insert_generations([])
    assert await store.count_generations() == 6
    assert await store.spend_nanos("k1") == 5 * 10 ** 12 + 10  # sums past 32 bits stay exact
    assert await store.spend_nanos("k1", since_ms=3000) == 2 * 10 ** 12 + 7
    assert await store.spend_nanos(None) == 5 * 10 ** 12 + 13
    assert await store.spend_nanos("nobody") == 0
    assert await store.spend_nanos("k1", exclude={"gen-0", "gen-4", "gen-x"}) == 3 * 10 ** 12 + 6
    got = await store.get_generation("gen-2")
    assert got is not None and got["cost_nanos"] == 10 ** 12 + 2 and got["streamed"] is False
    assert await store.existing_generation_ids(["gen-1", "gen-9", "gen-77"]) == {"gen-1", "gen-9"}
    with pytest.raises(IntegrityError):
        await store.insert_generations([generation(1)])


async def test_activity_groups_and_filters(store: Store) -> None:
    rows = [
        generation(1, created_at_ms=DAY + 5, cost_nanos=100, prompt_tokens=1, reasoning_tokens=2),
        generation(2, created_at_ms=DAY + 6, cost_nanos=200, markup_nanos=20, provider="backup"),
        generation(3, created_at_ms=2 * DAY, cost_nanos=0, status="error", http_status=402),
        generation(4, created_at_ms=2 * DAY + 1, cost_nanos=0, cache_hit=True, key_hash="k2"),
    ]
    await store.insert_generations(rows)
    by_day = await store.activity(["day"])
    assert [(r["day"], r["requests"], r["cost_nanos"]) for r in by_day] == [(1, 2, 300), (2, 2, 0)]
    full = await store.activity(["day", "model", "provider"], since_ms=DAY, until_ms=2 * DAY)
    assert [(r["provider"], r["cost_nanos"], r["markup_nanos"]) for r in full] == [("backup", 200, 20), ("up", 100, 0)]
    day2 = (await store.activity(["model"], since_ms=2 * DAY))[0]
    assert (day2["requests"], day2["errors"], day2["cache_hits"]) == (2, 1, 1)
    mine = await store.activity(["key"], key_hash="k2")
    assert [(r["key"], r["requests"]) for r in mine] == [("k2", 1)]
    total = (await store.activity([]))[0]
    assert (total["requests"], total["prompt_tokens"], total["reasoning_tokens"]) == (4, 31, 2)


async def test_stored_responses_are_the_keys_own_and_expire(store: Store) -> None:
    now = 1_900_000_000_000  # far in the future: the rows below are live now

    def row(response_id: str, key: str, expires: int = now) -> dict[str, Any]:
        return {"id": response_id, "key_hash": key, "generation_id": "gen-1", "created_at_ms": 1_000,
                "expires_at_ms": expires, "response": f'{{"id": "{response_id}"}}', "conversation": "[]"}

    await store.put_response(row("resp_a", "k1"))
    await store.put_response(row("resp_b", "k2"))
    await store.put_response(row("resp_old", "k1", expires=2_000))
    got = await store.get_response("resp_a", "k1")
    assert got is not None and got["response"] == '{"id": "resp_a"}' and got["conversation"] == "[]"
    assert await store.get_response("resp_a", "k2") is None      # another key's
    assert await store.get_response("resp_old", "k1") is None    # expired
    assert not await store.delete_response("resp_a", "k2")
    await store.put_response({**row("resp_a", "k1"), "conversation": "[1]"})  # the same id again replaces it
    assert (await store.get_response("resp_a", "k1") or {})["conversation"] == "[1]"
    assert await store.purge_responses(now - 1) == 1                # only the expired one
    assert await store.delete_response("resp_a", "k1")
    assert await store.get_response("resp_a", "k1") is None
    assert await store.get_response("resp_b", "k2") is not None
