"""A team's budget with `serve --workers 2`: its keys, answered by both workers, share one budget kept
by the workers' shared state process (one atomic reservation under the key's and the team's counters).
A server of its own: the module's first requests of new limited keys are the ones this checks."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from ..conftest import ADMIN_KEY
from .test_workers_state import LIMIT_NANOS, Server, server, upstream_replies  # noqa: F401 - fixtures


def test_a_team_budget_holds_across_workers_and_its_keys(server: Server) -> None:  # noqa: F811 - the fixture
    status, body = server.call("POST", "/api/v1/teams", ADMIN_KEY, {"name": "workers", "limit": LIMIT_NANOS / 1e9})
    assert status == 201, body
    members = []
    for i in range(2):
        status, body = server.call("POST", "/api/v1/keys", ADMIN_KEY, {"name": f"member-{i}", "team": "workers"})
        assert status == 201, body
        members.append(body["key"])
    # the team's two keys (no limits of their own) race for its budget on both workers
    with ThreadPoolExecutor(16) as pool:
        results = [r for _ in range(8) for r in pool.map(lambda i: server.chat(members[i % 2]), range(16))]
    statuses = [status for status, _ in results]
    served = [body for status, body in results if status == 200]
    spent = sum(round(body["usage"]["cost"] * 1e9) for body in served)
    assert set(statuses) <= {200, 402, 403} and len(served) >= 6
    assert spent <= LIMIT_NANOS
    status, body = server.call("GET", "/api/v1/teams/workers", ADMIN_KEY)
    assert status == 200 and round(body["data"]["usage"] * 1e9) == spent
