"""SQLite ledger writes happen in a child process; a child that dies is replaced, and its batch kept."""

from __future__ import annotations

import os
import signal

from switchpoint.accounting.ledger import LedgerWriter
from switchpoint.storage import Store

from .test_contract import generation


async def test_rows_are_written_by_a_child_process(tmp_path) -> None:
    store = Store(f"sqlite:///{tmp_path / 'ledger.db'}")
    await store.create_schema()
    try:
        await store.insert_generations([generation(i) for i in range(3)])
        assert store._writer is not None and store._writer._process is not None
        child = store._writer._process.pid
        assert child != os.getpid()
        assert await store.count_generations() == 3
        rollup = await store.activity(["model"])
        assert rollup[0]["requests"] == 3  # rollups are written in the same transaction

        os.kill(child, signal.SIGKILL)
        await store._writer._process.wait()
        await store.insert_generations([generation(11)])  # a new child takes over
        assert store._writer._process.pid != child
        assert await store.existing_generation_ids(["gen-10", "gen-11"]) == {"gen-11"}
    finally:
        await store.close()
    assert store._writer._process is None


async def test_the_ledger_writer_keeps_a_batch_the_child_lost(tmp_path) -> None:
    store = Store(f"sqlite:///{tmp_path / 'ledger.db'}")
    await store.create_schema()
    ledger = LedgerWriter(store, flush_interval=0.01)
    try:
        await store.insert_generations([generation(0)])
        os.kill(store._writer._process.pid, signal.SIGKILL)
        await store._writer._process.wait()
        ledger.start()
        for i in range(1, 4):
            ledger.record(generation(i))
        await ledger.drain()
        assert await store.count_generations() == 4
    finally:
        await store.close()
