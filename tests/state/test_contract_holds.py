"""The State contract for reservations under several counters at once (a key's and its team's), on
every backend: all or nothing, and never past any counter's limit under concurrency."""

from __future__ import annotations

import asyncio
import random

from switchpoint.state import Hold, State

TTL = 60.0
LEASE = 60.0


async def test_unseeded_counters_are_named_and_nothing_is_held(state: State) -> None:
    await state.seed("key", 0, ttl=TTL)
    check = await state.reserve_all([Hold("key", 100, TTL), Hold("team", 100, TTL)], "t", 10, lease=LEASE)
    assert not check.admitted and check.unseeded == (1,)
    assert await state.reserve("key", "u", 100, 100, ttl=TTL, lease=LEASE) == (True, 100)  # nothing was held


async def test_a_hold_is_taken_under_every_counter_or_none(state: State) -> None:
    await state.seed("key", 0, ttl=TTL)
    await state.seed("team", 50, ttl=TTL)
    holds = [Hold("key", 100, TTL), Hold("team", 80, TTL)]
    check = await state.reserve_all(holds, "a", 20, lease=LEASE)
    assert (check.refused, check.remaining, check.unseeded) == (-1, (100, 30), ())
    check = await state.reserve_all(holds, "b", 20, lease=LEASE)  # the team has 10 left
    assert (check.refused, check.remaining) == (1, (80, 10))
    # b was held nowhere: the key still has 80 free
    assert await state.reserve("key", "c", 100, 80, ttl=TTL, lease=LEASE) == (True, 80)
    await state.settle("key", "c", 0, ttl=TTL)
    await state.settle_all([("key", TTL), ("team", TTL)], "a", 5)
    assert await state.spent("key") == 5
    assert await state.spent("team") == 55
    check = await state.reserve_all(holds, "d", 25, lease=LEASE)
    assert (check.refused, check.remaining) == (-1, (95, 25))


async def test_expired_holds_are_released_under_every_counter(state: State) -> None:
    await state.seed("key", 0, ttl=TTL)
    await state.seed("team", 0, ttl=TTL)
    holds = [Hold("key", 100, TTL), Hold("team", 100, TTL)]
    assert (await state.reserve_all(holds, "dead", 100, lease=0.05)).admitted
    assert (await state.reserve_all(holds, "x", 1, lease=LEASE)).refused == 0
    await asyncio.sleep(0.1)
    assert (await state.reserve_all(holds, "y", 100, lease=LEASE)).admitted


async def test_concurrent_keys_of_one_team_never_exceed_it(state: State) -> None:
    rng = random.Random(11)
    for k in range(4):
        await state.seed(f"key{k}", 0, ttl=TTL)
    await state.seed("team", 0, ttl=TTL)

    async def one(i: int) -> int:
        amount = rng.randint(1, 40)
        holds = [Hold(f"key{i % 4}", 600, TTL), Hold("team", 1000, TTL)]
        if not (await state.reserve_all(holds, f"t{i}", amount, lease=LEASE)).admitted:
            return 0
        actual = rng.randint(0, amount)
        await state.settle_all([(h.counter, h.ttl) for h in holds], f"t{i}", actual)
        return actual

    spent = sum(await asyncio.gather(*(one(i) for i in range(300))))
    assert spent <= 1000
    assert await state.spent("team") == spent
    assert sum([await state.spent(f"key{k}") or 0 for k in range(4)]) == spent
