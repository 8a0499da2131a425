"""`switchpoint db backup` while the gateway serves, and `db restore` into a fresh gateway, on SQLite and
PostgreSQL: everything acknowledged before the backup started is in the restored gateway, and the copy is
consistent (SQLite's integrity check; the ledger's rollups agree with its rows)."""

from __future__ import annotations

import asyncio
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import yaml
from sqlalchemy import func, select

from switchpoint.storage import Store
from switchpoint.storage.tables import generations

from ..conftest import ADMIN_KEY, TEST_KEY, Gateway, LoopThread
from ..replies import chat

SWITCHPOINT = [sys.executable, "-m", "switchpoint.cli.main"]


def cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*SWITCHPOINT, *args], capture_output=True, text=True, cwd=cwd, timeout=120, check=False)


class Load:
    """Chat requests and key creations from 8 concurrent clients until stopped; records what the gateway
    acknowledged (a generation id answered, a key created)."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.generations: list[str] = []
        self.keys: list[str] = []
        self.stopping = False
        self.errors: list[str] = []

    async def client(self, session: aiohttp.ClientSession, n: int) -> None:
        i = 0
        while not self.stopping:
            i += 1
            async with session.post(f"{self.url}/api/v1/chat/completions",
                                    headers={"authorization": f"Bearer {TEST_KEY}"},
                                    json={"model": "test/gpt", "messages": [{"role": "user", "content": "hi"}]}) as r:
                body = await r.json()
                if r.status != 200:
                    self.errors.append(str(body))
                    return
                self.generations.append(body["id"])
            if i % 4 == 0:
                async with session.post(f"{self.url}/api/v1/keys", headers={"authorization": f"Bearer {ADMIN_KEY}"},
                                        json={"name": f"load-{n}-{i}"}) as r:
                    body = await r.json()
                    if r.status != 201:
                        self.errors.append(str(body))
                        return
                    self.keys.append(body["data"]["hash"])

    async def run(self) -> None:
        async with aiohttp.ClientSession() as session:
            await asyncio.gather(*(self.client(session, n) for n in range(8)))


def wait_until(condition: Callable[[], bool], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


async def consistent(url: str) -> tuple[int, int]:
    """(ledger rows, requests counted by the daily rollup): written in one transaction, so equal."""
    from switchpoint.storage.tables import metadata

    store = Store(url)
    try:
        async with store.engine.connect() as conn:
            rows = (await conn.execute(select(func.count()).select_from(generations))).scalar_one()
            daily = metadata.tables["usage_daily"]
            counted = (await conn.execute(select(func.coalesce(func.sum(daily.c.requests), 0)))).scalar_one()
        return int(rows), int(counted)
    finally:
        await store.close()


@pytest.mark.parametrize("dialect", ["sqlite", "postgresql"])
def test_backup_under_load_restores_everything_acknowledged(dialect: str, make_gateway: Callable[..., Gateway],
                                                           loop_thread: LoopThread, upstream: Any,
                                                           tmp_path: Path, request: pytest.FixtureRequest) -> None:
    reply = chat()
    reply.delay = 0.01  # requests are in flight while the backup runs
    upstream.always("/v1/chat/completions", reply)
    if dialect == "sqlite":
        source_url, restored_url = None, f"sqlite:///{tmp_path / 'restored' / 'ledger.db'}"
    else:
        source_url, restored_url = request.getfixturevalue("postgres_url"), None
    gateway = make_gateway(**({"database": source_url} if source_url else {}))
    if restored_url is None:
        restored_url = request.getfixturevalue("postgres_server").new_database()
    config = gateway.config
    config_path = tmp_path / "gw0" / "switchpoint.yaml"

    load = Load(gateway.url)
    running = asyncio.run_coroutine_threadsafe(load.run(), loop_thread.loop)
    try:
        wait_until(lambda: len(load.generations) >= 30 and len(load.keys) >= 3 or bool(load.errors))
        assert not load.errors, load.errors
        acknowledged, keys = list(load.generations), list(load.keys)
        gateway.flush()  # the rows answered so far are written (a row waits at most ledger_flush_interval)
        served_before = len(load.generations)
        backup = tmp_path / "backups" / f"switchpoint.{'db' if dialect == 'sqlite' else 'dump'}"
        done = cli("db", "backup", str(backup), "--config", str(config_path), cwd=tmp_path)
        assert done.returncode == 0, done.stderr
        assert "backed up" in done.stdout and str(backup) in done.stdout
        wait_until(lambda: len(load.generations) > served_before + 10)  # the load flowed on around the backup
    finally:
        load.stopping = True
        running.result(30)
    assert not load.errors, load.errors

    if dialect == "sqlite":
        assert not Path(str(backup) + "-wal").exists()  # a self-contained file
        conn = sqlite3.connect(backup)
        try:
            assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        finally:
            conn.close()
    else:
        assert backup.read_bytes()[:5] == b"PGDMP"

    # restore into a fresh database, then start a fresh gateway on it
    fresh = tmp_path / "fresh"
    fresh.mkdir()
    (fresh / "switchpoint.yaml").write_text(yaml.safe_dump({"database": restored_url, "providers": {}}))
    done = cli("db", "restore", str(backup), "--config", str(fresh / "switchpoint.yaml"), cwd=fresh)
    assert done.returncode == 0, done.stderr
    assert f"restored {backup} into" in done.stdout

    rows, counted = loop_thread.run(consistent(restored_url))
    assert rows == counted and rows >= len(acknowledged)
    second = make_gateway(database=restored_url)
    restored_ids = {row["id"] for row in second.ledger()}
    assert set(acknowledged) <= restored_ids
    stored = second.loop.run(second.services.store.list_keys(limit=100_000))
    assert set(keys) <= {key["hash"] for key in stored}
    assert config.database != restored_url


@pytest.mark.parametrize("dialect", ["sqlite", "postgresql"])
def test_restore_refuses_while_a_gateway_has_the_database_open(dialect: str, make_gateway: Callable[..., Gateway],
                                                              tmp_path: Path, request: pytest.FixtureRequest) -> None:
    make_gateway(**({"database": request.getfixturevalue("postgres_url")} if dialect == "postgresql" else {}))
    config_path = tmp_path / "gw0" / "switchpoint.yaml"
    backup = tmp_path / "copy"
    assert cli("db", "backup", str(backup), "--config", str(config_path), cwd=tmp_path).returncode == 0
    done = cli("db", "restore", str(backup), "--config", str(config_path), cwd=tmp_path)
    assert done.returncode == 1
    expected = ("is open in another process (a running gateway?)" if dialect == "sqlite"
                else "other session(s) are connected to the database")
    assert expected in done.stderr and "--force" in done.stderr
    done = cli("db", "restore", str(backup), "--config", str(config_path), "--force", cwd=tmp_path)
    assert done.returncode == 0, done.stderr


def test_restore_refuses_a_file_that_is_not_a_backup(tmp_path: Path) -> None:
    (tmp_path / "switchpoint.yaml").write_text(yaml.safe_dump({"database": "sqlite:///ledger.db", "providers": {}}))
    junk = tmp_path / "junk.db"
    junk.write_text("not a database")
    done = cli("db", "restore", str(junk), cwd=tmp_path)
    assert done.returncode == 1 and "is not an SQLite database" in done.stderr
    assert not (tmp_path / "ledger.db").exists()
