"""Budgets per end user of a key (`user_limit`): exact under concurrency, in memory and on Redis,
held together with the key's own limit."""

from __future__ import annotations

import asyncio
import random

import pytest

from switchpoint.accounting.budget import Budget, InsufficientBudgetError
from switchpoint.accounting.keys import KeyRecord
from switchpoint.accounting.ledger import LedgerWriter
from switchpoint.errors import ForbiddenError
from switchpoint.state import State
from switchpoint.storage import Store

from ..storage.test_contract import generation


def key(limit: int | None, user_limit: int | None, reset: str | None = None) -> KeyRecord:
    return KeyRecord(hash="k1", name="k", label="sk-sp-v1-abc...xyz", limit_nanos=limit, limit_reset=reset,
                     user_limit_nanos=user_limit)


async def test_each_end_user_has_its_own_budget(state: State, store: Store) -> None:
    budget = Budget(state, store)
    k = key(None, 1000, "daily")
    assert await budget.reserve(k, 10**9) is None  # a request naming no end user is not limited per user
    held = await budget.reserve(k, 700, user="alice")
    with pytest.raises(InsufficientBudgetError) as refused:
        await budget.reserve(k, 400, user="alice")
    assert (refused.value.user, refused.value.remaining) == ("alice", 300)
    assert await budget.reserve(k, 1000, user="bob") is not None  # bob's budget is his own
    await budget.settle(held, 1000)
    assert await budget.user_spent(k, "alice") == 1000
    with pytest.raises(InsufficientBudgetError) as spent:
        await budget.reserve(k, 1, user="alice")
    assert spent.value.user == "alice" and spent.value.unspent == 0


async def test_the_key_limit_still_applies_to_its_end_users(state: State, store: Store) -> None:
    budget = Budget(state, store)
    k = key(1500, 1000)
    first = await budget.reserve(k, 1000, user="alice")
    await budget.settle(first, 1000)
    with pytest.raises(InsufficientBudgetError) as refused:  # bob has 1000, the key 500
        await budget.reserve(k, 600, user="bob")
    assert refused.value.user is None and refused.value.remaining == 500
    second = await budget.reserve(k, 500, user="bob")
    await budget.settle(second, 500)
    with pytest.raises(ForbiddenError, match="Key limit exceeded"):
        await budget.reserve(k, 1, user="carol")


async def test_end_user_counters_are_seeded_from_the_ledger(state: State, store: Store) -> None:
    writer = LedgerWriter(store)
    await store.insert_generations([generation(1, key_hash="k1", cost_nanos=600, external_user="alice"),
                                    generation(2, key_hash="k1", cost_nanos=900, external_user="bob")])
    writer.record(generation(3, key_hash="k1", cost_nanos=100, external_user="alice"))  # not written yet
    budget = Budget(state, store, ledger=writer)
    k = key(None, 1000)
    with pytest.raises(InsufficientBudgetError) as refused:
        await budget.reserve(k, 301, user="alice")
    assert refused.value.remaining == 300
    assert await budget.reserve(k, 300, user="alice") is not None


async def test_no_end_user_overspends_under_concurrency(state: State, store: Store) -> None:
    """Many concurrent requests of a few end users: none spends past its own limit, all together not
    past the key's, and the counters hold exactly what was settled."""
    budget = Budget(state, store)
    k = key(50_000, 20_000)
    rng = random.Random(23)
    users = ["alice", "bob", "carol", "dave"]

    refused_by_user: list[str] = []

    async def request(user: str) -> tuple[str, int]:
        amount = rng.randint(100, 3000)
        try:
            held = await budget.reserve(k, amount, user=user)
        except InsufficientBudgetError as exc:
            refused_by_user.append(exc.user or "")
            return user, 0
        except ForbiddenError:
            return user, 0
        await asyncio.sleep(rng.random() / 200)
        actual = rng.randint(0, amount)
        await budget.settle(held, actual)
        return user, actual

    results = await asyncio.gather(*(request(rng.choice(users)) for _ in range(450)))
    per_user = {user: sum(spent for who, spent in results if who == user) for user in users}
    assert all(spent <= 20_000 for spent in per_user.values())
    # both limits were reached, not merely untested: end users' own ("alice"...) and the key's ("")
    assert len(set(refused_by_user) & set(users)) >= 2 and "" in refused_by_user
    assert sum(per_user.values()) <= 50_000
    assert await budget.spent(k, None) == sum(per_user.values())
    for user in users:
        assert await budget.user_spent(k, user) == per_user[user]
