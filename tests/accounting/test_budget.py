"""Reservations against a key's limit: periods, refusals, seeding from the ledger, concurrency."""

from __future__ import annotations

import asyncio
import datetime as dt
import random

import pytest

from switchpoint.accounting.budget import Budget, InsufficientBudgetError, period_end, period_start
from switchpoint.accounting.keys import KeyRecord
from switchpoint.accounting.ledger import LedgerWriter
from switchpoint.errors import ForbiddenError
from switchpoint.state.memory import MemoryState
from switchpoint.storage import Store

from ..storage.test_contract import generation

UTC = dt.UTC


def key(limit: int | None, reset: str | None = None) -> KeyRecord:
    return KeyRecord(hash="k1", name="k", label="sk-sp-v1-abc...xyz", limit_nanos=limit, limit_reset=reset)


def test_periods_are_utc_days_monday_weeks_and_months() -> None:
    now = dt.datetime(2026, 12, 31, 23, 59, tzinfo=UTC)  # a Thursday
    assert period_start("daily", now) == dt.datetime(2026, 12, 31, tzinfo=UTC)
    assert period_start("weekly", now) == dt.datetime(2026, 12, 28, tzinfo=UTC)
    assert period_start("monthly", now) == dt.datetime(2026, 12, 1, tzinfo=UTC)
    assert period_start(None, now) is None
    assert period_end("monthly", period_start("monthly", now)) == dt.datetime(2027, 1, 1, tzinfo=UTC)
    assert period_end("weekly", period_start("weekly", now)) == dt.datetime(2027, 1, 4, tzinfo=UTC)
    local = dt.datetime(2026, 11, 2, 1, 0, tzinfo=dt.timezone(dt.timedelta(hours=5)))  # Sunday 20:00 UTC
    assert period_start("weekly", local) == dt.datetime(2026, 10, 26, tzinfo=UTC)


async def test_reserve_settle_refuse(store: Store) -> None:
    budget = Budget(MemoryState(), store)
    k = key(1000)
    assert await Budget(MemoryState(), store).reserve(key(None), 10**9) is None
    first = await budget.reserve(k, 700)
    with pytest.raises(InsufficientBudgetError) as refused:
        await budget.reserve(k, 400)
    assert refused.value.remaining == 300  # holds of requests in flight: 402, not 403
    await budget.settle(first, 650)
    await budget.settle(first, 650)  # settling twice counts once
    assert await budget.spent(k, None) == 650
    second = await budget.reserve(k, 350)
    await budget.settle(second, 350)
    with pytest.raises(ForbiddenError, match=r"Key limit exceeded \(total limit\)"):
        await budget.reserve(k, 1)


async def test_counters_are_seeded_from_the_ledger(store: Store) -> None:
    now = dt.datetime.now(UTC)
    today = int(period_start("daily", now).timestamp() * 1000)
    await store.insert_generations([generation(1, key_hash="k1", created_at_ms=today - 1, cost_nanos=500),
                                    generation(2, key_hash="k1", created_at_ms=today + 1, cost_nanos=300)])
    restarted = Budget(MemoryState(), store)
    assert await restarted.spent(key(1000, "daily"), "daily") == 300
    with pytest.raises(InsufficientBudgetError) as refused:
        await restarted.reserve(key(1000, "daily"), 701)
    assert refused.value.remaining == 700
    with pytest.raises(ForbiddenError, match="total limit"):
        await restarted.reserve(key(800), 1)


async def test_a_new_period_starts_from_zero(store: Store) -> None:
    budget = Budget(MemoryState(), store)
    k = key(100, "weekly")
    sunday = dt.datetime(2026, 11, 1, 12, tzinfo=UTC)
    held = await budget.reserve(k, 100, now=sunday)
    await budget.settle(held, 100)
    with pytest.raises(ForbiddenError, match="weekly limit"):
        await budget.reserve(k, 1, now=sunday)
    assert await budget.reserve(k, 100, now=sunday + dt.timedelta(days=1)) is not None


async def test_no_overspend_under_concurrency(store: Store) -> None:
    budget = Budget(MemoryState(), store)
    k = key(50_000)
    rng = random.Random(11)

    async def request() -> int:
        amount = rng.randint(100, 3000)
        try:
            held = await budget.reserve(k, amount)
        except (InsufficientBudgetError, ForbiddenError):
            return 0
        await asyncio.sleep(rng.random() / 100)
        actual = rng.randint(0, amount)
        await budget.settle(held, actual)
        return actual

    spent = sum(await asyncio.gather(*(request() for _ in range(400))))
    assert spent <= 50_000
    assert await budget.spent(k, None) == spent


async def test_rows_not_yet_written_count_exactly_once(store: Store) -> None:
    writer = LedgerWriter(store)
    budget = Budget(MemoryState(), store, ledger=writer)
    writer.record(generation(1, key_hash="k1", cost_nanos=40))
    assert await budget.ledger_spend("k1", 0) == 40
    await store.insert_generations([generation(1, key_hash="k1", cost_nanos=40)])  # written, not yet forgotten
    assert await budget.ledger_spend("k1", 0) == 40
    await writer.flush()  # the writer finds it written and does not write it twice
    assert await budget.ledger_spend("k1", 0) == 40 and writer.pending("gen-1") is None
