"""The ledger of a real `switchpoint serve` process under signals: SIGTERM with the database unavailable
ends within the grace and says how many rows it kept and where; SIGKILL under load loses no row: after a
restart every 200 answered has its generation in the ledger exactly once."""

from __future__ import annotations

import json
import signal
import sqlite3
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import yaml

from .. import replies
from ..conftest import TEST_KEY, base_config, free_port
from ..test_shutdown import start_server


def write_config(upstream: Any, tmp_path: Path, **overrides: Any) -> Path:
    config = base_config(upstream, tmp_path, **overrides)
    path = tmp_path / "switchpoint.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def post_chat(port: int, stream: bool = False) -> str:
    """One chat completion; its generation id once the whole 200 answer has arrived."""
    body = json.dumps({"model": "test/gpt", "stream": stream, "messages": [{"role": "user", "content": "x"}]})
    request = urllib.request.Request(f"http://127.0.0.1:{port}/api/v1/chat/completions", data=body.encode(),
                                     headers={"authorization": f"Bearer {TEST_KEY}",
                                              "content-type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 200
        text = response.read().decode()
    if stream:
        assert text.rstrip().endswith("data: [DONE]")
        return json.loads(text.split("\n\n")[0][6:])["id"]
    return json.loads(text)["id"]


def ledger(db: Path) -> tuple[dict[str, int], int]:
    """Rows per generation id, and the requests counted by the daily usage totals."""
    with sqlite3.connect(db) as conn:
        counts = dict(conn.execute("select id, count(*) from generations group by id").fetchall())
        totals = conn.execute("select coalesce(sum(requests), 0) from usage_daily").fetchone()[0]
    return counts, totals


def test_sigterm_with_the_database_unavailable_ends_within_the_grace(upstream, tmp_path):
    upstream.always("/v1/chat/completions", replies.chat(10, 20))
    grace = 3.0
    path = write_config(upstream, tmp_path, server={"shutdown_grace": grace, "ledger_flush_interval": 0.05})
    port = free_port()
    process = start_server(path, port)
    holder = sqlite3.connect(tmp_path / "ledger.db", isolation_level=None)
    try:
        holder.execute("BEGIN EXCLUSIVE")  # another writer holds the database
        ids = [post_chat(port) for _ in range(4)]
        process.send_signal(signal.SIGTERM)
        signalled = time.monotonic()
        process.wait(grace + 10)  # the old writer retried forever: SIGTERM never finished
        took = time.monotonic() - signalled
    finally:
        holder.execute("ROLLBACK")
        holder.close()
        if process.poll() is None:
            process.kill()
    output = process.stdout.read().decode() if process.stdout else ""
    assert took < grace + 2, output
    spool = Path(str(tmp_path / "ledger.db") + "-spool")
    assert "4 rows could not be written before shutdown" in output
    assert str(spool) in output
    assert ledger(tmp_path / "ledger.db") == ({}, 0)

    restarted = start_server(path, port)  # the next start writes what the last one kept
    try:
        deadline = time.monotonic() + 15
        while set(ledger(tmp_path / "ledger.db")[0]) != set(ids) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert ledger(tmp_path / "ledger.db") == ({gid: 1 for gid in ids}, 4)
    finally:
        restarted.send_signal(signal.SIGTERM)
        restarted.wait(20)
    assert list(spool.glob("ledger-*.jsonl")) == []  # all written: nothing left to replay


def test_sigkill_under_load_loses_no_row(upstream, tmp_path):
    upstream.always("/v1/chat/completions", replies.chat(10, 20))
    # Rows wait in memory for a second between batches: most of them are queued when the process dies.
    path = write_config(upstream, tmp_path, server={"ledger_flush_interval": 1.0, "ledger_batch_size": 200})
    port = free_port()
    process = start_server(path, port)
    answered: list[str] = []
    stop = threading.Event()

    def load(stream: bool) -> None:
        while not stop.is_set():
            try:
                answered.append(post_chat(port, stream))
            except (OSError, urllib.error.URLError, AssertionError, json.JSONDecodeError):
                return  # the gateway died mid-request: no complete 200, nothing owed

    threads = [threading.Thread(target=load, args=(i % 2 == 1,)) for i in range(6)]
    for thread in threads:
        thread.start()
    time.sleep(2.5)
    process.send_signal(signal.SIGKILL)
    process.wait(10)
    stop.set()
    for thread in threads:
        thread.join(15)
    assert len(answered) > 50
    before, _ = ledger(tmp_path / "ledger.db")
    assert set(answered) - set(before)  # rows were still queued in memory when it died

    restarted = start_server(path, port)
    try:
        deadline = time.monotonic() + 20
        while not set(answered) <= set(ledger(tmp_path / "ledger.db")[0]) and time.monotonic() < deadline:
            time.sleep(0.1)
        rows, totals = ledger(tmp_path / "ledger.db")
        assert {gid: rows.get(gid) for gid in answered} == {gid: 1 for gid in answered}
        assert totals == sum(rows.values())  # the usage totals counted each row once, too
    finally:
        restarted.send_signal(signal.SIGTERM)
        restarted.wait(20)
