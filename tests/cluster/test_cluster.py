"""Two replicas sharing PostgreSQL and Redis: spend, limits and the ledger stay exact across them."""

from __future__ import annotations

import asyncio
import subprocess
import time
from typing import Any

import aiohttp
import orjson
import redis
from sqlalchemy import select

from switchpoint.accounting.keys import hash_key
from switchpoint.storage import Store
from switchpoint.storage.tables import generations

from .. import replies
from ..conftest import ADMIN_KEY, LoopThread
from ..servers import RedisServer
from ..upstream import Reply
from .conftest import SWITCHPOINT, cluster_config, gather

BUDGET_KEY = "sk-sp-v1-cluster-budget-0123456789"
RATE_KEY = "sk-sp-v1-cluster-rate-0123456789ab"
OPEN_KEY = "sk-sp-v1-cluster-open-0123456789abc"
LIMIT_USD = 0.005
BODY = {"model": "test/gpt", "max_tokens": 100, "messages": [{"role": "user", "content": "hi"}]}


async def post(session: aiohttp.ClientSession, url: str, key: str, body: dict[str, Any] | None = None,
               ) -> tuple[int, dict[str, Any], dict[str, str]]:
    try:
        async with session.post(f"{url}/api/v1/chat/completions", json=body or BODY,
                                headers={"authorization": f"Bearer {key}"}) as response:
            return response.status, orjson.loads(await response.read()), dict(response.headers)
    except aiohttp.ClientConnectionError:
        return 0, {}, {}


def ledger(loop: LoopThread, database: str, expected: int | None = None) -> list[dict[str, Any]]:
    """The ledger rows, once `expected` have been written (replicas write in batches)."""

    async def rows() -> list[dict[str, Any]]:
        store = Store(database)
        try:
            async with store.engine.connect() as conn:
                return [dict(r) for r in (await conn.execute(select(generations))).mappings()]
        finally:
            await store.close()

    deadline = time.monotonic() + 10
    while True:
        found = loop.run(rows())
        if expected is None or len(found) >= expected or time.monotonic() > deadline:
            return found
        time.sleep(0.1)


def test_budget_is_exact_across_replicas(upstream: Any, postgres_url: str, redis_url: str, start_replicas: Any,
                                         load: Any, loop_thread: LoopThread) -> None:
    # each request reserves ~73,500 nano-USD and spends 37,500: the $0.005 limit covers 68 to 133 of 400
    upstream.always("/v1/chat/completions", Reply.json(orjson.loads(replies.chat(10, 60).body), delay=0.02))
    keys = [{"name": "budget", "key": BUDGET_KEY, "limit": LIMIT_USD}]
    replicas = start_replicas(cluster_config(upstream, postgres_url, redis_url, keys))
    # ten rounds of 40 concurrent requests, alternating replicas: the first rounds are served by both, the later
    # ones race for the last of the budget across the two replicas
    async def rounds(session: aiohttp.ClientSession) -> list[Any]:
        done: list[Any] = []
        for _ in range(10):
            done += await gather(*(post(session, replicas[i % 2].url, BUDGET_KEY) for i in range(40)))
        return done

    results = load(rounds)
    statuses = [status for status, _, _ in results]
    served_ids = {body["id"] for status, body, _ in results if status == 200}
    assert set(statuses) <= {200, 402, 403}, statuses
    assert 0 < len(served_ids) < 400 and statuses.count(402) + statuses.count(403) > 0
    rows = ledger(loop_thread, postgres_url, expected=400)
    spent = sum(r["cost_nanos"] for r in rows)
    success = {r["id"] for r in rows if r["status"] == "success"}
    print(f"\nbudget: {len(served_ids)} served, {statuses.count(402)} x 402, {statuses.count(403)} x 403; "
          f"spent {spent} of {int(LIMIT_USD * 1e9)} nano-USD; {len(rows)} ledger rows")
    assert len(rows) == 400 and success == served_ids
    assert spent <= LIMIT_USD * 1e9
    counter = [k for k in redis.Redis.from_url(redis_url).scan_iter("sp:*") if not k.endswith((b":h", b":l"))]
    assert [int(redis.Redis.from_url(redis_url).hget(k, "spent")) for k in counter] == [spent]
    # both replicas served and both were refused: the budget they enforce is one
    assert 200 in statuses[0::2] and 200 in statuses[1::2]
    assert 402 in statuses[0::2] and 402 in statuses[1::2]


def test_rate_limit_is_shared_by_replicas(upstream: Any, postgres_url: str, redis_url: str, start_replicas: Any,
                                          load: Any) -> None:
    upstream.always("/v1/chat/completions", replies.chat())
    keys = [{"name": "rate", "key": RATE_KEY, "rate_limit": {"requests": 50, "interval": "1m"}}]
    replicas = start_replicas(cluster_config(upstream, postgres_url, redis_url, keys))
    results = load(lambda s: gather(*(post(s, replicas[i % 2].url, RATE_KEY) for i in range(120))))
    statuses = [status for status, _, _ in results]
    print(f"\nrate limit 50/min: {statuses.count(200)} admitted, {statuses.count(429)} x 429")
    assert statuses.count(200) == 50 and statuses.count(429) == 70
    refused = next(headers for status, _, headers in results if status == 429)
    assert refused["X-RateLimit-Limit"] == "50" and refused["X-RateLimit-Remaining"] == "0"
    assert 1 <= int(refused["Retry-After"]) <= 60


def test_sigterm_under_load_loses_nothing(upstream: Any, postgres_url: str, redis_url: str, start_replicas: Any,
                                          load: Any, loop_thread: LoopThread) -> None:
    upstream.always("/v1/chat/completions", replies.chat(10, 20))
    keys = [{"name": "budget", "key": BUDGET_KEY, "limit": 10.0}]
    doomed, survivor = start_replicas(cluster_config(upstream, postgres_url, redis_url, keys))
    stream_body = {**BODY, "stream": True}

    async def stream(session: aiohttp.ClientSession, url: str) -> tuple[int, str, str]:
        try:
            async with session.post(f"{url}/api/v1/chat/completions", json=stream_body,
                                    headers={"authorization": f"Bearer {BUDGET_KEY}"}) as response:
                text = (await response.read()).decode()
                return response.status, response.headers.get("x-generation-id", ""), text
        except aiohttp.ClientConnectionError:
            return 0, "", ""

    async def scenario(session: aiohttp.ClientSession) -> tuple[list[Any], list[Any]]:
        # streams that take ~1.5 s, on the replica about to stop
        upstream.queue("/v1/chat/completions", *[replies.stream(["tick "] * 15, pause=0.1) for _ in range(20)])
        streams = [asyncio.ensure_future(stream(session, doomed.url)) for _ in range(20)]
        await asyncio.sleep(0.5)
        doomed.terminate()
        # requests keep coming to both replicas while the doomed one drains
        singles = []
        for _ in range(10):
            singles += [post(session, r.url, BUDGET_KEY) for r in (doomed, survivor) for _ in range(10)]
            await asyncio.sleep(0.05)
        return await gather(*streams), await gather(*singles)

    streams, singles = load(scenario)
    assert doomed.stop() in (0, -15)  # uvicorn re-raises SIGTERM once it has shut down cleanly
    assert "Traceback" not in doomed.log.read_text()
    completed = [(gid, text) for status, gid, text in streams if status == 200]
    assert len(completed) == 20 and all(text.endswith("data: [DONE]\n\n") and '"usage"' in text
                                        for _, text in completed)
    received = {gid for gid, _ in completed} | {body["id"] for status, body, _ in singles if status == 200}
    rows = ledger(loop_thread, postgres_url, expected=len(received))
    print(f"\nSIGTERM: {len(completed)} streams completed, {sum(s == 200 for s, _, _ in singles)} of "
          f"{len(singles)} requests served, {sum(s == 0 for s, _, _ in singles)} refused connections; "
          f"{len(rows)} ledger rows")
    assert received <= {r["id"] for r in rows}
    assert all(r["status"] == "success" for r in rows if r["id"] in received)


def test_redis_outage_fails_closed_or_falls_back_to_bounded_local_limits(
        upstream: Any, postgres_url: str, start_replicas: Any, load: Any, loop_thread: LoopThread) -> None:
    upstream.always("/v1/chat/completions", replies.chat(10, 60))
    outage = RedisServer()
    try:
        keys = [{"name": "open", "key": OPEN_KEY, "limit": 0.0003}]
        [closed] = start_replicas(cluster_config(upstream, postgres_url, outage.url(), keys), count=1)
        [opened] = start_replicas(cluster_config(upstream, postgres_url, outage.url(), keys,
                                                 state_failure="open"), count=1)
        before = load(lambda s: gather(post(s, closed.url, OPEN_KEY), post(s, opened.url, OPEN_KEY)))
        assert [status for status, _, _ in before] == [200, 200]
        outage.stop()

        async def after(session: aiohttp.ClientSession) -> tuple[Any, list[Any]]:
            refused = await post(session, closed.url, OPEN_KEY)
            served = [await post(session, opened.url, OPEN_KEY) for _ in range(12)]
            return refused, served

        (status, body, _), served = load(after)
        assert status == 503 and "Shared state is unreachable" in body["error"]["message"]
        statuses = [s for s, _, _ in served]
        print(f"\nRedis down: closed replica answered {status}; open replica {statuses}")
        assert statuses[0] == 200 and set(statuses) <= {200, 402, 403} and statuses[-1] in (402, 403)
        rows = ledger(loop_thread, postgres_url)
        assert sum(r["cost_nanos"] for r in rows if r["key_hash"] == hash_key(OPEN_KEY)) <= 300_000
    finally:
        outage.stop()


def test_an_endpoint_failing_on_one_replica_is_avoided_by_all(upstream: Any, postgres_url: str, redis_url: str,
                                                              start_replicas: Any, load: Any) -> None:
    upstream.always("/v1/chat/completions", Reply.file("openai/error_500_server_error.json", status=500))
    upstream.always("/backup/v1/chat/completions", replies.chat())
    config = cluster_config(upstream, postgres_url, redis_url, [{"name": "rate", "key": RATE_KEY}],
                            routing={"breaker": {"consecutive_failures": 3, "cooldown": 30}})
    config["providers"]["backup"] = {**config["providers"]["up"], "base_url": f"{upstream.url}/backup/v1"}
    config["models"][0]["endpoints"].append({**config["models"][0]["endpoints"][0], "provider": "backup"})
    first, second = start_replicas(config)
    body = {**BODY, "provider": {"order": ["up", "backup"]}}

    async def requests(session: aiohttp.ClientSession, url: str, count: int) -> list[int]:
        return [(await post(session, url, RATE_KEY, body))[0] for _ in range(count)]

    assert load(lambda s: requests(s, first.url, 3)) == [200] * 3  # each failed over from `up` to `backup`
    assert len(upstream.hits("/v1/chat/completions")) == 3          # and `up`'s breaker opened on `first`
    time.sleep(2.5)  # both replicas sync their breakers with Redis once a second
    assert load(lambda s: requests(s, second.url, 5)) == [200] * 5
    assert len(upstream.hits("/v1/chat/completions")) == 3        # `second` never tried the open endpoint
    assert len(upstream.hits("/backup/v1/chat/completions")) == 8


def test_a_key_revoked_on_one_replica_is_refused_by_the_other_at_once(
        upstream: Any, postgres_url: str, redis_url: str, start_replicas: Any, load: Any) -> None:
    upstream.always("/v1/chat/completions", replies.chat())
    first, second = start_replicas(cluster_config(upstream, postgres_url, redis_url, []))
    admin = {"authorization": f"Bearer {ADMIN_KEY}"}

    async def scenario(session: aiohttp.ClientSession) -> tuple[list[int], list[int], list[int]]:
        async with session.post(f"{first.url}/api/v1/keys", json={"name": "doomed"}, headers=admin) as response:
            created = orjson.loads(await response.read())
        key, key_hash = created["key"], created["data"]["hash"]
        before = [(await post(session, replica.url, key))[0] for replica in (first, second, first, second)]
        async with session.patch(f"{first.url}/api/v1/keys/{key_hash}", json={"disabled": True},
                                 headers=admin) as response:
            assert response.status == 200
        disabled = [(await post(session, second.url, key))[0] for _ in range(5)]
        async with session.delete(f"{first.url}/api/v1/keys/{key_hash}", headers=admin) as response:
            assert response.status == 200
        deleted = [(await post(session, second.url, key))[0] for _ in range(5)]
        return before, disabled, deleted

    before, disabled, deleted = load(scenario)
    assert before == [200] * 4  # both replicas hold the key in their caches
    assert disabled == [403] * 5 and deleted == [401] * 5  # the other replica knew before the call answered

    # `switchpoint keys revoke` changes the database, and tells the replicas through Redis
    async def create(session: aiohttp.ClientSession) -> tuple[str, list[int]]:
        async with session.post(f"{first.url}/api/v1/keys", json={"name": "by-cli"}, headers=admin) as response:
            key = orjson.loads(await response.read())["key"]
        return key, [(await post(session, replica.url, key))[0] for replica in (first, second)]

    key, warm = load(create)
    assert warm == [200, 200]
    revoked = subprocess.run([SWITCHPOINT, "keys", "revoke", "by-cli", "--config", str(first.config_path)],
                             capture_output=True, text=True, timeout=30)
    assert revoked.returncode == 0, revoked.stderr
    after = load(lambda s: gather(*(post(s, replica.url, key) for replica in (first, second) for _ in range(3))))
    assert [status for status, _, _ in after] == [401] * 6
