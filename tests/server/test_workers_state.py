"""`serve --workers 2` with `state: memory`: the workers share one state. A key revoked or disabled
in one worker is refused by every worker on the very next request, a spend limit and a rate limit
hold across workers as they do in one process, and /api/v1/key reports the spend of both."""

from __future__ import annotations

import http.client
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import orjson
import pytest
import yaml

from ..conftest import ADMIN_KEY, base_config, free_port
from ..replies import chat
from ..upstream import Reply, Upstream
from .test_workers import children_of, socket_inodes, stop, tcp_sockets, wait_for_workers
from .test_workers import serve as serve_workers

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="SO_REUSEPORT balancing is Linux's")

LIMITED_KEY = "sk-sp-v1-workers-limited-0123456789"
RATE_KEY = "sk-sp-v1-workers-rate-0123456789abc"
RECOUNT_KEY = "sk-sp-v1-workers-recount-0123456789"
CACHE_KEY = "sk-sp-v1-workers-cache-0123456789ab"
LIMIT_NANOS = 500_000  # $0.0005: each request reserves ~73,500 nano-USD and spends 37,500
BODY = {"model": "test/gpt", "max_tokens": 100, "messages": [{"role": "user", "content": "hi"}]}


@pytest.fixture(autouse=True)
def upstream_replies(upstream: Upstream) -> None:
    upstream.always("/v1/chat/completions", Reply.json(orjson.loads(chat(10, 60).body), delay=0.02))


class Server:
    def __init__(self, process: subprocess.Popen[bytes], port: int, pids: list[int]) -> None:
        self.process = process
        self.port = port
        self.pids = pids

    def connect(self) -> http.client.HTTPConnection:
        return http.client.HTTPConnection("127.0.0.1", self.port, timeout=20)

    def call(self, method: str, path: str, key: str, body: Any = None,
             connection: http.client.HTTPConnection | None = None,
             headers: dict[str, str] | None = None) -> tuple[int, dict[str, Any]]:
        """One request, on `connection` (kept open) or on a fresh one (so the kernel picks the worker)."""
        fresh = connection is None
        connection = connection or self.connect()
        try:
            connection.request(method, path, body=None if body is None else json.dumps(body),
                               headers={"authorization": f"Bearer {key}", "content-type": "application/json",
                                        **(headers or {})})
            response = connection.getresponse()
            return response.status, orjson.loads(response.read() or b"{}")
        finally:
            if fresh:
                connection.close()

    def chat(self, key: str, connection: http.client.HTTPConnection | None = None) -> tuple[int, dict[str, Any]]:
        return self.call("POST", "/api/v1/chat/completions", key, BODY, connection)

    def connections_on_both_workers(self, key: str, count: int = 24) -> list[http.client.HTTPConnection]:
        """`count` keep-alive connections, each having served `key` once, spread over both workers."""
        connections = [self.connect() for _ in range(count)]
        assert [self.chat(key, c)[0] for c in connections] == [200] * count
        established = tcp_sockets(self.port, "01")
        held = [len(socket_inodes(pid) & established) for pid in self.pids]
        assert min(held) >= 1, held
        return connections


@pytest.fixture(scope="module")
def server(_upstream_server: Upstream, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """One server for the module: each test uses keys of its own."""
    tmp_path = tmp_path_factory.mktemp("workers")
    config = base_config(_upstream_server, tmp_path, keys=[
        {"name": "limited", "key": LIMITED_KEY, "limit": LIMIT_NANOS / 1e9},
        {"name": "rate", "key": RATE_KEY, "rate_limit": {"requests": 10, "interval": "1m"}},
        {"name": "recount", "key": RECOUNT_KEY, "limit": 1.0},
        {"name": "cache", "key": CACHE_KEY},
    ])
    config["server"] = {"ledger_flush_interval": 5.0, "shutdown_grace": 10}  # rows stay in the workers a while
    path = tmp_path / "switchpoint.yaml"
    path.write_text(yaml.safe_dump(config))
    port = free_port()
    process = serve_workers(path, port)
    try:
        yield Server(process, port, wait_for_workers(process, port))
    finally:
        output = stop(process)
    assert process.returncode == 0, output
    assert "Traceback" not in output, output


def new_key(server: Server, name: str) -> tuple[str, str]:
    status, body = server.call("POST", "/api/v1/keys", ADMIN_KEY, {"name": name})
    assert status == 201, body
    return body["key"], body["data"]["hash"]


def test_a_revoked_or_disabled_key_is_refused_by_every_worker_at_once(server: Server) -> None:
    revoked, revoked_hash = new_key(server, "revoked")
    disabled, disabled_hash = new_key(server, "disabled")
    on_revoked = server.connections_on_both_workers(revoked)
    on_disabled = server.connections_on_both_workers(disabled)

    status, _ = server.call("DELETE", f"/api/v1/keys/{revoked_hash}", ADMIN_KEY)
    assert status == 200
    after = [server.chat(revoked, c)[0] for c in on_revoked] + [server.chat(revoked)[0] for _ in range(24)]
    assert after == [401] * 48

    status, _ = server.call("PATCH", f"/api/v1/keys/{disabled_hash}", ADMIN_KEY, {"disabled": True})
    assert status == 200
    after = [server.chat(disabled, c)[0] for c in on_disabled] + [server.chat(disabled)[0] for _ in range(24)]
    assert after == [403] * 48

    status, _ = server.call("PATCH", f"/api/v1/keys/{disabled_hash}", ADMIN_KEY, {"disabled": False})
    assert status == 200
    assert [server.chat(disabled, c)[0] for c in on_disabled] == [200] * 24
    for connection in on_revoked + on_disabled:
        connection.close()


def test_a_spend_limit_holds_across_workers_and_key_reports_all_of_it(server: Server) -> None:
    # eight rounds of 16 concurrent requests on fresh connections: served by both workers, racing for
    # the last of the budget; with a state per worker each would have spent the whole limit
    with ThreadPoolExecutor(16) as pool:
        results = [r for _ in range(8) for r in pool.map(lambda _: server.chat(LIMITED_KEY), range(16))]
    statuses = [status for status, _ in results]
    served = [body for status, body in results if status == 200]
    spent = sum(round(body["usage"]["cost"] * 1e9) for body in served)
    print(f"\nlimit {LIMIT_NANOS}: {len(served)} served, spent {spent}; {statuses.count(402)} x 402, "
          f"{statuses.count(403)} x 403")
    assert set(statuses) <= {200, 402, 403} and len(served) >= 6
    assert spent <= LIMIT_NANOS

    # whichever worker answers, it reports what both spent (the ledger rows are still in the workers)
    for _ in range(6):
        status, body = server.call("GET", "/api/v1/key", LIMITED_KEY)
        assert status == 200, body
        data = body["data"]
        assert round(data["usage"] * 1e9) == spent
        assert round(data["usage_daily"] * 1e9) == spent  # from the ledger, not the limit's counter
        assert round(data["limit_remaining"] * 1e9) == LIMIT_NANOS - spent


def test_a_rate_limit_holds_across_workers(server: Server) -> None:
    with ThreadPoolExecutor(8) as pool:
        statuses = list(pool.map(lambda _: server.chat(RATE_KEY)[0], range(30)))
    assert statuses.count(200) == 10 and statuses.count(429) == 20


def test_the_response_cache_is_shared_by_the_workers(server: Server, upstream: Upstream) -> None:
    body = {**BODY, "messages": [{"role": "user", "content": "the same question"}]}
    cached = {"x-switchpoint-cache": "true"}
    answers = [server.call("POST", "/api/v1/chat/completions", CACHE_KEY, body, headers=cached)
               for _ in range(16)]  # fresh connections: both workers answer
    assert [status for status, _ in answers] == [200] * 16
    assert [a.get("cache_hit", False) for _, a in answers] == [False] + [True] * 15
    assert len(upstream.hits("/v1/chat/completions")) == 1


def test_a_dead_state_process_is_replaced_and_spend_is_recounted(server: Server) -> None:
    served = [server.chat(RECOUNT_KEY) for _ in range(4)]
    assert [status for status, _ in served] == [200] * 4
    spent = sum(round(body["usage"]["cost"] * 1e9) for _, body in served)
    [state] = [pid for pid in children_of(server.process.pid) if pid not in server.pids]
    time.sleep(1.1)  # past the start-up window in which a death stops the server instead
    os.kill(state, signal.SIGKILL)
    deadline = time.time() + 10
    while True:  # until another state process runs and both workers have connected to it again
        [replaced] = [pid for pid in children_of(server.process.pid) if pid not in server.pids] or [state]
        if replaced != state and len(socket_inodes(replaced)) >= 3:  # its listening socket and two workers
            break
        assert time.time() < deadline, "the state process was not replaced"
        time.sleep(0.05)
    # the new state recounts the key's spend from the ledger, rows still queued in the workers included
    for _ in range(4):
        status, body = server.call("GET", "/api/v1/key", RECOUNT_KEY)
        assert status == 200, body
        assert round(body["data"]["usage"] * 1e9) == spent
    assert [server.chat(RECOUNT_KEY)[0] for _ in range(4)] == [200] * 4
