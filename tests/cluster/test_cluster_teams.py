"""Two replicas sharing PostgreSQL and Redis: a team's budget holds across its keys and the replicas
together (each reservation is taken under the key's and the team's counters in one Lua script)."""

from __future__ import annotations

from typing import Any

import orjson
import redis

from .. import replies
from ..conftest import LoopThread
from ..upstream import Reply
from .conftest import cluster_config, gather
from .test_cluster import ledger, post

TEAM_KEYS = [f"sk-sp-v1-cluster-team-{i}-0123456789abcdef" for i in range(4)]
TEAM_LIMIT_USD = 0.005


def test_team_budget_is_exact_across_keys_and_replicas(upstream: Any, postgres_url: str, redis_url: str,
                                                       start_replicas: Any, load: Any, loop_thread: LoopThread) -> None:
    # each request reserves ~73,500 nano-USD and spends 37,500: the team's $0.005 covers 68 to 133 of 400,
    # while each key's own $0.004 limit would let the four keys spend $0.016 together
    upstream.always("/v1/chat/completions", Reply.json(orjson.loads(replies.chat(10, 60).body), delay=0.02))
    keys = [{"name": f"member-{i}", "key": key, "team": "platform", "limit": 0.004} for i, key in enumerate(TEAM_KEYS)]
    teams = [{"name": "platform", "limit": TEAM_LIMIT_USD}]
    replicas = start_replicas(cluster_config(upstream, postgres_url, redis_url, keys, teams=teams))

    # ten rounds of 40 concurrent requests over four keys and two replicas: the later rounds race for the
    # last of the team's budget
    async def rounds(session: Any) -> list[Any]:
        done: list[Any] = []
        for _ in range(10):
            done += await gather(*(post(session, replicas[i % 2].url, TEAM_KEYS[i % 4]) for i in range(40)))
        return done

    results = load(rounds)
    statuses = [status for status, _, _ in results]
    served_ids = {body["id"] for status, body, _ in results if status == 200}
    assert set(statuses) <= {200, 402, 403}, statuses
    assert 0 < len(served_ids) < 400 and statuses.count(402) + statuses.count(403) > 0
    refusals = [body["error"] for status, body, _ in results if status in (402, 403)]
    assert all(error["metadata"].get("team") == "platform" for error in refusals), refusals[:3]
    rows = ledger(loop_thread, postgres_url, expected=400)
    spent = sum(r["cost_nanos"] for r in rows)
    success = {r["id"] for r in rows if r["status"] == "success"}
    print(f"\nteam budget: {len(served_ids)} served, {statuses.count(402)} x 402, {statuses.count(403)} x 403; "
          f"spent {spent} of {int(TEAM_LIMIT_USD * 1e9)} nano-USD; {len(rows)} ledger rows")
    assert len(rows) == 400 and success == served_ids
    assert spent <= TEAM_LIMIT_USD * 1e9
    client = redis.Redis.from_url(redis_url)
    team_counter = [k for k in client.scan_iter("sp:{spend:team:platform:*") if not k.endswith((b":h", b":l"))]
    assert [int(client.hget(k, "spent")) for k in team_counter] == [spent]
    assert [int(client.hget(k, "reserved")) for k in team_counter] == [0]  # every hold was settled
    # every key of the team and both replicas served: the budget they enforce is one
    served_by_key = {r["key_hash"] for r in rows if r["status"] == "success"}
    assert len(served_by_key) == 4
    assert 200 in statuses[0::2] and 200 in statuses[1::2]
