"""Ledger writes for SQLite in a child process.

SQLite work (binding parameters, b-tree updates, rollups) would otherwise run in a thread of the
gateway process and take its GIL away from the event loop thousands of times a second, which costs
every request latency. The child receives batches as length-prefixed JSON frames on stdin, writes
each in one transaction, and answers `ok` or the error on stdout."""

from __future__ import annotations

import asyncio
import sys
from typing import Any

import orjson
from sqlalchemy import create_engine, event, insert
from sqlalchemy.exc import IntegrityError

from .rollup import add_rollups_sync
from .tables import generations


def ledger_insert_sql(dialect: Any) -> tuple[str, list[str]]:
    """The ledger insert compiled once for a dialect, and the order of its positional parameters."""
    compiled = insert(generations).compile(dialect=dialect, column_keys=[c.name for c in generations.columns])
    return str(compiled), list(compiled.positiontup or [c.name for c in generations.columns])


CHILD = "import sys; from switchpoint.storage.sqlite_writer import main; main(sys.argv[1])"


def _frame(payload: bytes) -> bytes:
    return len(payload).to_bytes(4, "big") + payload


class SQLiteWriterProcess:
    """The gateway's side: starts the child on first use and restarts it if it died."""

    def __init__(self, url: str) -> None:
        self.url = url
        self._process: asyncio.subprocess.Process | None = None
        self._lock = asyncio.Lock()

    async def insert(self, rows: list[dict[str, Any]]) -> None:
        async with self._lock:
            process = await self._running()
            assert process.stdin is not None and process.stdout is not None
            try:
                process.stdin.write(_frame(orjson.dumps(rows)))
                await process.stdin.drain()
                size = int.from_bytes(await process.stdout.readexactly(4), "big")
                reply = await process.stdout.readexactly(size)
            except (asyncio.IncompleteReadError, ConnectionError) as exc:
                self._process = None
                raise RuntimeError(f"the ledger writer process stopped: {exc}") from None
            if reply != b"ok":
                message = reply.decode("utf-8", "replace")
                if message.startswith("IntegrityError"):  # same contract as an in-process insert
                    raise IntegrityError(message, None, Exception(message))
                raise RuntimeError(message)

    async def _running(self) -> asyncio.subprocess.Process:
        if self._process is None or self._process.returncode is not None:
            self._process = await asyncio.create_subprocess_exec(
                sys.executable, "-c", CHILD, self.url,
                stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE)
        return self._process

    async def close(self) -> None:
        process, self._process = self._process, None
        if process is None or process.returncode is not None:
            return
        assert process.stdin is not None
        process.stdin.close()
        try:
            await asyncio.wait_for(process.wait(), 10)
        except TimeoutError:
            process.kill()
            await process.wait()


def main(url: str) -> None:
    from .store import _sqlite_pragmas  # noqa: PLC0415 - shared connection settings

    engine = create_engine(url)
    event.listen(engine, "connect", _sqlite_pragmas)
    sql, order = ledger_insert_sql(engine.dialect)
    stdin, stdout = sys.stdin.buffer, sys.stdout.buffer
    while header := stdin.read(4):
        rows = orjson.loads(stdin.read(int.from_bytes(header, "big")))
        try:
            with engine.begin() as conn:
                conn.exec_driver_sql(sql, [tuple(row[k] for k in order) for row in rows])
                add_rollups_sync(conn, rows)
            reply = b"ok"
        except Exception as exc:  # reported to the gateway, which keeps the rows and retries
            reply = f"{exc.__class__.__name__}: {exc}".encode()
        stdout.write(_frame(reply))
        stdout.flush()
    engine.dispose()
