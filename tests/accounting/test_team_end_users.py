"""Limits per end user of a team (`user_limit`, `user_rate_limit` on a team): one budget and one
request window per end user across all the team's keys, held in the same atomic step as the key's
and the team's own counters, in memory and on Redis."""

from __future__ import annotations

import asyncio

import pytest

from switchpoint.accounting.budget import Budget, InsufficientBudgetError
from switchpoint.accounting.keys import KeyRecord
from switchpoint.accounting.limits import RateLimiter
from switchpoint.accounting.teams import TeamRecord
from switchpoint.errors import RateLimitError
from switchpoint.state import State
from switchpoint.storage import Store

TEAM = TeamRecord(name="apps", limit_nanos=5000, limit_reset="daily", user_limit_nanos=1000,
                  user_rate_limit_requests=2, user_rate_limit_interval=60.0)


def member(key_hash: str, **limits: int) -> KeyRecord:
    return KeyRecord(hash=key_hash, name=key_hash, label="sk-sp-v1-abc...xyz", limit_reset="daily", team="apps",
                     team_record=TEAM, **limits)


async def test_an_end_user_has_one_budget_across_the_team_keys(state: State, store: Store) -> None:
    budget = Budget(state, store)
    one, two = member("k1"), member("k2")
    held = await budget.reserve(one, 700, user="alice")
    with pytest.raises(InsufficientBudgetError) as refused:  # alice's team budget, through the other key
        await budget.reserve(two, 400, user="alice")
    assert (refused.value.user, refused.value.remaining) == ("alice", 300)
    assert refused.value.team is not None and refused.value.team.name == "apps"
    assert await budget.reserve(two, 1000, user="bob") is not None  # bob's is his own
    await budget.settle(held, 1000)
    with pytest.raises(InsufficientBudgetError) as spent:
        await budget.reserve(two, 1, user="alice")
    assert spent.value.user == "alice" and spent.value.unspent == 0


async def test_a_refusal_by_any_counter_holds_nothing_in_the_others(state: State, store: Store) -> None:
    budget = Budget(state, store)
    k = member("k3", limit_nanos=3000, user_limit_nanos=400)  # the key's own per-user limit is lower
    with pytest.raises(InsufficientBudgetError) as refused:
        await budget.reserve(k, 500, user="carol")
    assert refused.value.user == "carol" and refused.value.team is None  # the key's user_limit refused
    # nothing was held: the key, the team and the team's per-user counter still have all their room
    assert await budget.reserve(member("k4"), 1000, user="carol") is not None
    assert await budget.reserve(k, 400, user="dave") is not None


async def test_concurrent_end_user_requests_never_overspend_the_team_user_limit(state: State, store: Store) -> None:
    budget = Budget(state, store)
    keys = [member(f"c{i}") for i in range(4)]
    results = await asyncio.gather(*[budget.reserve(keys[i % 4], 100, user="erin") for i in range(30)],
                                   return_exceptions=True)
    admitted = [r for r in results if not isinstance(r, BaseException)]
    assert len(admitted) == 10  # 1000 / 100, whichever key each came through
    assert all(isinstance(r, InsufficientBudgetError) for r in results if isinstance(r, BaseException))


async def test_the_team_user_rate_limit_counts_every_key_of_the_team(state: State) -> None:
    limiter = RateLimiter(state)
    await limiter.admit(member("r1"), user="frank")
    await limiter.admit(member("r2"), user="frank")
    with pytest.raises(RateLimitError) as refused:
        await limiter.admit(member("r3"), user="frank")
    assert refused.value.metadata == {"limit": "team-user-requests", "user": "frank"}
    await limiter.admit(member("r3"), user="grace")  # another end user has a window of its own
