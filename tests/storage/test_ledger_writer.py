"""The ledger writer on each SQL dialect: a row the database refuses is set aside and the rest flow; a
database that takes no rows keeps them all, bounds the backlog and recovers by itself; rows a stopped
process left in its spool are written at the next start exactly once."""

from __future__ import annotations

import asyncio
import logging
import os
import sqlite3
from pathlib import Path

import asyncpg
import orjson
import pytest

from switchpoint.accounting.ledger import LedgerBehindError, LedgerWriter
from switchpoint.accounting.replay import replay
from switchpoint.storage import Store
from switchpoint.storage.dead_letters import DeadLetters
from switchpoint.storage.spool import Spool

from .test_contract import generation


def writer(store: Store, spool_dir: Path, **options: object) -> LedgerWriter:
    return LedgerWriter(store, flush_interval=0.02, spool=Spool(spool_dir), dead_letters=DeadLetters(spool_dir),
                        **options)  # type: ignore[arg-type]


def segments(spool_dir: Path) -> list[Path]:
    return sorted(spool_dir.glob("ledger-*.jsonl"))


async def until(condition: object, timeout: float = 15.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition():  # type: ignore[operator]
        assert asyncio.get_running_loop().time() < deadline, "timed out"
        await asyncio.sleep(0.02)


async def test_refused_rows_are_set_aside_and_the_rest_are_written(store: Store, tmp_path: Path, caplog) -> None:
    ledger = writer(store, tmp_path / "spool")
    bad_type = generation(3, external_user=["a"])   # a list where a string belongs
    bad_null = generation(7, model=None)             # NOT NULL
    rows = [generation(i) for i in range(10) if i not in (3, 7)]
    ledger.start()
    for row in [*rows[:3], bad_type, *rows[3:6], bad_null, *rows[6:]]:
        ledger.record(row)
    with caplog.at_level(logging.ERROR, logger="switchpoint.ledger"):
        await ledger.drain()
    assert await store.existing_generation_ids([f"gen-{i}" for i in range(10)]) == {r["id"] for r in rows}
    assert (await store.activity(["model"]))[0]["requests"] == 8  # rollups: the written rows, once
    letters = DeadLetters(tmp_path / "spool").entries()
    assert [e["row"]["id"] for e in letters] == ["gen-3", "gen-7"]
    assert letters[0]["row"]["external_user"] == ["a"] and letters[0]["error"]
    assert ledger.dead_lettered == 2
    refused = [r.getMessage() for r in caplog.records if "refused by the database" in r.getMessage()]
    assert len(refused) == 2 and "gen-3" in refused[0] and "dead-letter.jsonl" in refused[0]
    assert segments(tmp_path / "spool") == []  # everything written or set aside: the spool is empty

    # The operator corrects one row in the file and replays: it lands, the other stays with its error.
    path = tmp_path / "spool" / "dead-letter.jsonl"
    entries = [orjson.loads(line) for line in path.read_bytes().splitlines()]
    entries[0]["row"]["external_user"] = "a"
    path.write_bytes(b"".join(orjson.dumps(e) + b"\n" for e in entries))
    result = await replay(store, tmp_path / "spool")
    assert (result.dead_written, result.dead_kept) == (1, 1)
    assert "gen-3" in await store.existing_generation_ids(["gen-3"])
    assert [e["row"]["id"] for e in DeadLetters(tmp_path / "spool").entries()] == ["gen-7"]
    assert (await replay(store, tmp_path / "spool")).dead_written == 0  # gen-3 is not written twice


async def test_rows_a_stopped_process_left_are_written_once_at_the_next_start(store: Store, tmp_path: Path) -> None:
    spool_dir = tmp_path / "spool"
    first = writer(store, spool_dir)
    for i in range(20):
        first.record(generation(i))
    await store.insert_generations([generation(i) for i in range(5)])  # written before the process died
    for segment in first.spool.segments:  # the process dies: its mappings, descriptors and locks go
        segment.mm.close()
        os.close(segment.fd)
    assert len(segments(spool_dir)) == 1

    second = writer(store, spool_dir)
    second.start()
    assert second.backlog == 20
    await second.drain()
    assert await store.count_generations() == 20
    assert (await store.activity(["model"]))[0]["requests"] == 20  # no row counted twice
    assert segments(spool_dir) == []


async def test_a_live_writers_spool_is_not_adopted(store: Store, tmp_path: Path) -> None:
    spool_dir = tmp_path / "spool"
    live = writer(store, spool_dir)
    live.record(generation(1))
    other = writer(store, spool_dir)
    other.start()
    assert other.backlog == 0  # the file is locked by its (living) writer
    await other.drain()
    await live.drain()
    assert await store.count_generations() == 1


async def test_an_unavailable_database_bounds_the_backlog_and_recovers(database_url: str, tmp_path: Path) -> None:
    store = Store(database_url)
    await store.create_schema()
    ledger = writer(store, tmp_path / "spool", max_backlog=5)
    outage = Outage(database_url)
    try:
        ledger.start()
        ledger.record(generation(0))
        await until(lambda: ledger.backlog == 0)
        await outage.begin()
        for i in range(1, 5):
            ledger.record(generation(i))
            ledger.admit()  # under the bound: accepted (the rows are spooled)
        await until(lambda: ledger.write_failures > 0)
        assert ledger.problem is None
        ledger.record(generation(5))
        assert ledger.backlog == 5
        with pytest.raises(LedgerBehindError) as refused:
            ledger.admit()
        assert refused.value.status == 503
        assert "5 rows it could not write yet (limit 5" in refused.value.message
        assert ledger.problem == refused.value.message
        assert ledger.dead_lettered == 0  # an outage is not a bad row
        await outage.end()
        await until(lambda: ledger.backlog == 0)
        ledger.admit()
        assert ledger.problem is None
        await ledger.drain()
        assert await store.count_generations() == 6
        assert (await store.activity(["model"]))[0]["requests"] == 6
    finally:
        await outage.end()
        await store.close()


class Outage:
    """The database stops taking writes: SQLite held by another writer, PostgreSQL refusing connections."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.holder: sqlite3.Connection | None = None
        self.down = False

    async def begin(self) -> None:
        self.down = True
        if self.url.startswith("sqlite"):
            self.holder = sqlite3.connect(self.url.split(":///", 1)[1], isolation_level=None)
            self.holder.execute("BEGIN EXCLUSIVE")
            return
        name = self.url.rsplit("/", 1)[1]
        await self._admin(f"ALTER DATABASE {name} WITH ALLOW_CONNECTIONS false",
                          f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}'")

    async def end(self) -> None:
        if not self.down:
            return
        self.down = False
        if self.holder is not None:
            self.holder.execute("ROLLBACK")
            self.holder.close()
            self.holder = None
            return
        await self._admin(f"ALTER DATABASE {self.url.rsplit('/', 1)[1]} WITH ALLOW_CONNECTIONS true")

    async def _admin(self, *statements: str) -> None:
        server = self.url.rsplit("/", 1)[0].replace("postgresql://", "postgres://")
        conn = await asyncpg.connect(f"{server}/postgres")
        try:
            for sql in statements:
                await conn.execute(sql)
        finally:
            await conn.close()


async def test_a_spool_that_cannot_be_written_refuses_generations_until_it_can(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path / 'ledger.db'}")
    await store.create_schema()
    spool_dir = tmp_path / "spool"
    ledger = writer(store, spool_dir)
    try:
        ledger.start()
        spool_dir.rmdir()
        spool_dir.write_text("not a folder")      # the spool's folder is gone: no segment can be opened
        ledger.record(generation(1))
        with pytest.raises(LedgerBehindError) as refused:
            ledger.admit()
        assert "the ledger spool" in refused.value.message and "cannot be written" in refused.value.message
        assert ledger.problem == refused.value.message
        await until(lambda: ledger.backlog == 0)  # the row itself reaches the database
        await asyncio.sleep(0.1)
        assert ledger.problem is not None  # but until the spool works, nothing new is served
        spool_dir.unlink()
        spool_dir.mkdir()
        await until(lambda: ledger.problem is None)
        ledger.admit()
        ledger.record(generation(2))
        await ledger.drain()
        assert await store.count_generations() == 2
    finally:
        await store.close()
