"""`reserve_all`: a reservation held in several spend counters at once (a key's budget and its end
user's), all or nothing, on every backend (in-process, the workers' socket host, Redis)."""

from __future__ import annotations

import asyncio
import random

import pytest

from switchpoint.state import Hold, State
from switchpoint.state.redis import RedisState

TTL = 60.0
LEASE = 60.0


async def test_unseeded_counters_are_named_and_nothing_is_held(state: State) -> None:
    await state.seed("key", 0, ttl=TTL)
    check = await state.reserve_all([Hold("key", 100, TTL), Hold("{key}:user:a", 50, TTL)], "t", 10, lease=LEASE)
    assert check.unseeded == (1,) and not check.admitted
    assert await state.reserve("key", "probe", 100, 100, ttl=TTL, lease=LEASE) == (True, 100)  # nothing held


async def test_all_or_nothing(state: State) -> None:
    key, user = Hold("key", 100, TTL), Hold("{key}:user:a", 30, TTL)
    for hold in (key, user):
        await state.seed(hold.counter, 0, ttl=TTL)
    first = await state.reserve_all([key, user], "t1", 20, lease=LEASE)
    assert (first.refused, first.remaining, first.admitted) == (-1, (100, 30), True)
    refused = await state.reserve_all([key, user], "t2", 20, lease=LEASE)  # the user has 10 left
    assert (refused.refused, refused.remaining) == (1, (80, 10))
    # the refused reservation took nothing from the key either
    assert await state.reserve("key", "t3", 100, 80, ttl=TTL, lease=LEASE) == (True, 80)
    await state.settle("key", "t3", 0, ttl=TTL)
    await state.settle("key", "t1", 15, ttl=TTL)
    await state.settle("{key}:user:a", "t1", 15, ttl=TTL)
    assert (await state.spent("key"), await state.spent("{key}:user:a")) == (15, 15)
    second = await state.reserve_all([key, user], "t4", 15, lease=LEASE)
    assert second.admitted and second.remaining == (85, 15)
    over = await state.reserve_all([key, user], "t5", 86, lease=LEASE)
    assert over.refused == 0  # the first counter that refuses is named


async def test_expired_holds_are_released_in_every_counter(state: State) -> None:
    holds = [Hold("key", 100, TTL), Hold("{key}:user:b", 100, TTL)]
    for hold in holds:
        await state.seed(hold.counter, 0, ttl=TTL)
    assert (await state.reserve_all(holds, "dead", 100, lease=0.05)).admitted
    assert not (await state.reserve_all(holds, "x", 1, lease=LEASE)).admitted
    await asyncio.sleep(0.1)
    assert (await state.reserve_all(holds, "y", 100, lease=LEASE)).admitted


async def test_concurrent_reservations_exceed_neither_limit(state: State) -> None:
    """Three end users of one key: each under its own limit, all together under the key's."""
    users = [f"{{key}}:user:{name}" for name in "abc"]
    for counter in ["key", *users]:
        await state.seed(counter, 0, ttl=TTL)
    rng = random.Random(5)
    plan = [(rng.choice(users), rng.randint(1, 40)) for _ in range(300)]

    async def one(i: int, user: str, amount: int) -> tuple[str, int]:
        check = await state.reserve_all([Hold("key", 1000, TTL), Hold(user, 400, TTL)], f"t{i}", amount, lease=LEASE)
        if not check.admitted:
            return user, 0
        actual = rng.randint(0, amount)
        await asyncio.sleep(0)
        for counter in ("key", user):
            await state.settle(counter, f"t{i}", actual, ttl=TTL)
        return user, actual

    results = await asyncio.gather(*(one(i, user, amount) for i, (user, amount) in enumerate(plan)))
    per_user = {user: sum(a for u, a in results if u == user) for user in users}
    assert all(spent <= 400 for spent in per_user.values())
    assert sum(per_user.values()) <= 1000
    assert await state.spent("key") == sum(per_user.values())
    for user in users:
        assert await state.spent(user) == per_user[user]


async def test_counters_reserved_together_share_a_cluster_slot(state: State) -> None:
    if not isinstance(state, RedisState):
        return
    from redis.crc import key_slot

    from switchpoint.accounting.budget import Budget
    from switchpoint.state.redis import _counter_keys

    key_keys = _counter_keys("spend:abc:0")
    user_keys = _counter_keys(Budget.user_counter("spend:abc:0", "someone"))
    assert {key_slot(k.encode()) for k in key_keys + user_keys} == {key_slot(b"spend:abc:0")}


async def test_an_outage_fails_closed_or_falls_back_to_local_counters() -> None:
    from switchpoint.state import StateUnavailableError, open_state

    from ..conftest import free_port

    holds = [Hold("key", 100, TTL), Hold("{key}:user:a", 10, TTL)]
    closed = open_state(f"redis://127.0.0.1:{free_port()}/0", failure="closed")
    with pytest.raises(StateUnavailableError):
        await closed.reserve_all(holds, "t", 5, lease=LEASE)
    await closed.close()
    opened = open_state(f"redis://127.0.0.1:{free_port()}/0", failure="open")
    assert (await opened.reserve_all(holds, "t", 5, lease=LEASE)).unseeded == (0, 1)
    for hold in holds:
        await opened.seed(hold.counter, 0, ttl=TTL)
    assert (await opened.reserve_all(holds, "t", 10, lease=LEASE)).admitted
    assert (await opened.reserve_all(holds, "u", 1, lease=LEASE)).refused == 1  # the end user's limit holds
    await opened.close()
