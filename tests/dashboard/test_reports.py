"""Reports read the hourly/daily rollups; they must equal what the raw ledger says."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from sqlalchemy import func, select

from switchpoint.generation import GenerationRecord
from switchpoint.storage import Store, reports
from switchpoint.storage.rollup import HOUR_MS, rebuild_rollups
from switchpoint.storage.tables import endpoint_attempts_hourly, generations, usage_daily, usage_hourly

NOW = 1_790_000_000_000  # a fixed instant: 2026-09-21T14:13:20Z


def row(i: int, at: int, *, key: str = "k1", model: str = "a/m", provider: str | None = "p",
        status: str = "success", cost: int = 1000, latency: float | None = 100.0) -> dict:
    full = GenerationRecord(id=f"gen-{i}", key_hash=key, created=at / 1000, model=model).row()
    return {**full, "created_at_ms": at, "provider": provider, "status": status,
            "http_status": 200 if status == "success" else 502, "prompt_tokens": 10, "completion_tokens": 5,
            "cost_nanos": cost, "latency_ms": latency, "ttft_ms": latency / 2 if latency else None}


def ledger() -> list[dict]:
    rows = []
    for i in range(200):  # spread over 3 days, two keys, two models, one failing provider
        at = NOW - i * 1_300_000
        rows.append(row(i, at, key="k1" if i % 3 else "k2", model="a/m" if i % 2 else "b/n",
                        provider=None if i % 17 == 0 else "p", status="error" if i % 17 == 0 else "success",
                        cost=1000 + i, latency=float(50 + i)))
        rows[-1]["attempts"] = json.dumps(attempts(i, rows[-1]["model"]))
    return rows


def attempts(i: int, model: str) -> list[dict]:
    """Every 17th generation failed on q; every 5th failed over from q to p; one in 7 was first held
    back by the budget on r (not sent); the rest p served at once."""
    def one(provider: str, status: int | None, kind: str | None) -> dict:
        return {"provider": provider, "model": model, "upstream_model": "u", "status": status, "latency": 1.0,
                "error": None, "kind": kind}

    tried = [one("r", 402, "budget")] if i % 7 == 0 else []
    if i % 17 == 0:
        return [*tried, one("q", 500, "server")]
    if i % 5 == 0:
        tried.append(one("q", 503, "overloaded"))
    return [*tried, one("p", 200, None)]


async def with_store(tmp_path: Path, fn) -> object:
    store = Store(f"sqlite:///{tmp_path / 'r.db'}")
    await store.create_schema()
    try:
        for start in range(0, 200, 64):  # in batches, as the ledger writer does
            await store.insert_generations(ledger()[start:start + 64])
        return await fn(store)
    finally:
        await store.close()


def test_rollups_match_the_ledger_for_any_start(tmp_path: Path) -> None:
    raw = ledger()

    async def check(store: Store) -> None:
        for since in (0, NOW - 86_400_000, NOW - 86_400_000 - 1234, NOW - 3 * HOUR_MS + 17):
            expected = [r for r in raw if r["created_at_ms"] >= since]
            by_model = {r["group"]: r for r in await reports.usage_by(store, "model", since)}
            for model in ("a/m", "b/n"):
                mine = [r for r in expected if r["model"] == model]
                assert by_model[model]["requests"] == len(mine)
                assert by_model[model]["cost_nanos"] == sum(r["cost_nanos"] for r in mine)
                assert by_model[model]["errors"] == sum(r["status"] == "error" for r in mine)
            total = await reports.totals(store, since)
            assert total["requests"] == len(expected)
            assert abs(total["avg_latency_ms"] - sum(r["latency_ms"] for r in expected) / len(expected)) < 1e-6
            hours = await reports.series(store, since, "hour", until_ms=NOW)
            assert sum(h["requests"] for h in hours) == len(expected)
            days = await reports.series(store, since, "day", until_ms=NOW)
            assert sum(d["cost_nanos"] for d in days) == sum(r["cost_nanos"] for r in expected)
        for since, until in ((NOW - 2 * 86_400_000 + 77, NOW - 3 * HOUR_MS - 5), (NOW - 1000, NOW - 10),
                             (NOW - 50 * HOUR_MS, NOW - 26 * HOUR_MS)):
            inside = [r for r in raw if since <= r["created_at_ms"] < until]
            (got,) = await reports.activity_rows(store, [], since_ms=since, until_ms=until) or [
                {"requests": 0, "cost_nanos": 0}]
            assert (got["requests"], got["cost_nanos"]) == (len(inside), sum(r["cost_nanos"] for r in inside))
        counted = await reports.endpoint_attempts(store, NOW - 86_400_000)  # hour-aligned: the whole first hour
        first = (NOW - 86_400_000) // HOUR_MS * HOUR_MS
        recent = [(i, r) for i, r in enumerate(raw) if r["created_at_ms"] >= first]
        for model in ("a/m", "b/n"):
            mine = [i for i, r in recent if r["model"] == model]
            served = [i for i in mine if i % 17]
            assert counted[("p", model)] == (len(served), 0)
            failed_on_q = [i for i in mine if i % 17 == 0 or i % 5 == 0]
            assert counted[("q", model)] == (len(failed_on_q), len(failed_on_q))
        assert not [ident for ident in counted if ident[0] == "r"]  # never sent
        spend = await reports.spend_by_key(store)
        assert spend == {k: sum(r["cost_nanos"] for r in raw if r["key_hash"] == k) for k in ("k1", "k2")}

    asyncio.run(with_store(tmp_path, check))


def test_rebuild_gives_the_same_totals(tmp_path: Path) -> None:
    async def check(store: Store) -> None:
        async with store.engine.connect() as conn:
            before = [tuple(r) for r in (await conn.execute(select(usage_hourly).order_by(*usage_hourly.primary_key)))]
            attempts_before = [tuple(r) for r in await conn.execute(
                select(endpoint_attempts_hourly).order_by(*endpoint_attempts_hourly.primary_key))]
            days_before = (await conn.execute(select(func.sum(usage_daily.c.cost_nanos)))).scalar_one()
        async with store.engine.begin() as conn:
            await rebuild_rollups(conn)
        async with store.engine.connect() as conn:
            after = [tuple(r) for r in (await conn.execute(select(usage_hourly).order_by(*usage_hourly.primary_key)))]
            attempts_after = [tuple(r) for r in await conn.execute(
                select(endpoint_attempts_hourly).order_by(*endpoint_attempts_hourly.primary_key))]
            days_after = (await conn.execute(select(func.sum(usage_daily.c.cost_nanos)))).scalar_one()
            ledger_total = (await conn.execute(select(func.sum(generations.c.cost_nanos)))).scalar_one()
        assert before == after
        assert attempts_before == attempts_after and len(attempts_after) > 50
        assert days_before == days_after == ledger_total

    asyncio.run(with_store(tmp_path, check))


def test_percentiles_and_recent(tmp_path: Path) -> None:
    async def check(store: Store) -> None:
        stats = await reports.endpoint_latency(store, [("p", "a/m"), ("p", "b/n")], since_ms=0, sample=1000)
        latencies = sorted(float(50 + i) for i in range(200) if i % 2 and i % 17)
        assert stats[("p", "a/m")]["sample"] == len(latencies)
        assert stats[("p", "a/m")]["latency_p50"] == latencies[-(-len(latencies) // 2) - 1]
        assert stats[("p", "a/m")]["latency_p99"] == latencies[-1] or stats[("p", "a/m")]["latency_p99"] >= latencies[-3]
        assert stats[("p", "a/m")]["ttft_p50"] == latencies[-(-len(latencies) // 2) - 1] / 2
        recent = await reports.recent_generations(store, limit=3, status="error")
        assert [r["id"] for r in recent] == ["gen-0", "gen-17", "gen-34"]
        assert all(type(k) is str for k in recent[0])

    asyncio.run(with_store(tmp_path, check))
