"""Ledger writes for SQLite in a child process (the parent side).

SQLite work (binding parameters, b-tree updates, rollups) would otherwise run in a thread of the
gateway process and take its GIL away from the event loop thousands of times a second, which costs
every request latency. The child (switchpoint/sqlite_ledger.py) imports no database library: this side
compiles the statements once and sends them first, then each batch as a length-prefixed JSON frame;
the child answers `ok` or the error."""

from __future__ import annotations

import asyncio
import sys
from typing import Any

import orjson
from sqlalchemy import insert
from sqlalchemy.dialects import sqlite
from sqlalchemy.exc import IntegrityError

from ..sqlite_ledger import frame
from ..usage_totals import ENDPOINT_GROUP, ENDPOINT_SUMS, GROUP, SUMS
from .rollup import attempts_statement, rollup_statements
from .row_errors import SQLITE_ROW_ERRORS, RejectedRowsError
from .tables import generations

CHILD = "import sys; from switchpoint.sqlite_ledger import main; main(sys.argv[1])"


def ledger_insert_sql(dialect: Any) -> tuple[str, list[str]]:
    """The ledger insert compiled once for a dialect, and the order of its positional parameters."""
    compiled = insert(generations).compile(dialect=dialect, column_keys=[c.name for c in generations.columns])
    return str(compiled), list(compiled.positiontup or [c.name for c in generations.columns])


def child_setup() -> bytes:
    """The statements the child runs, compiled for SQLite with positional parameters."""
    dialect = sqlite.dialect()
    rollups = []
    for stmt, size in rollup_statements("sqlite"):
        compiled = stmt.compile(dialect=dialect, column_keys=[*GROUP, *SUMS])
        rollups.append([str(compiled), size, list(compiled.positiontup or [])])
    attempts = attempts_statement("sqlite").compile(dialect=dialect, column_keys=[*ENDPOINT_GROUP, *ENDPOINT_SUMS])
    return orjson.dumps({"insert": list(ledger_insert_sql(dialect)), "rollups": rollups,
                         "attempts": [str(attempts), list(attempts.positiontup or [])]})


def database_path(url: str) -> str:
    """sqlite:///relative.db -> relative.db; sqlite:////abs/path.db -> /abs/path.db."""
    return url.split(":///", 1)[1].split("?", 1)[0]


class SQLiteWriterProcess:
    """Starts the child on first use and restarts it if it died."""

    def __init__(self, url: str) -> None:
        self.path = database_path(url)
        self._process: asyncio.subprocess.Process | None = None
        self._lock = asyncio.Lock()

    async def insert(self, rows: list[dict[str, Any]]) -> None:
        async with self._lock:
            process = await self._running()
            assert process.stdin is not None and process.stdout is not None
            try:
                process.stdin.write(frame(orjson.dumps(rows)))
                await process.stdin.drain()
                size = int.from_bytes(await process.stdout.readexactly(4), "big")
                reply = await process.stdout.readexactly(size)
            except (asyncio.IncompleteReadError, ConnectionError) as exc:
                self._process = None
                raise RuntimeError(f"the ledger writer process stopped: {exc}") from None
            except BaseException:  # cancelled mid-exchange: the next reply would answer the wrong batch
                self._abandon()
                raise
            if reply != b"ok":
                message = reply.decode("utf-8", "replace")
                kind = message.split(":", 1)[0]
                if kind == "IntegrityError":  # same contract as an in-process insert
                    raise IntegrityError(message, None, Exception(message))
                if kind in SQLITE_ROW_ERRORS:
                    raise RejectedRowsError(message)
                raise RuntimeError(message)

    def _abandon(self) -> None:
        process, self._process = self._process, None
        if process is not None and process.returncode is None:
            process.kill()

    async def _running(self) -> asyncio.subprocess.Process:
        if self._process is None or self._process.returncode is not None:
            self._process = await asyncio.create_subprocess_exec(
                sys.executable, "-c", CHILD, self.path, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE)
            assert self._process.stdin is not None
            self._process.stdin.write(frame(child_setup()))
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
