"""The SQLite ledger writer process (the child side; see storage/sqlite_writer.py for the parent).

Only the standard library, orjson and the pure rollup arithmetic are imported here, so the process
stays small. Its first frame on stdin gives the statements to run, compiled by the parent; every later
frame is a batch of ledger rows, written with its rollups in one transaction and answered with `ok` or
the error."""

from __future__ import annotations

import sqlite3
import sys
from typing import Any

import orjson

from .usage_totals import HOUR_MS, attempt_deltas, rollup_deltas_by_size

PRAGMAS = ("PRAGMA journal_mode=WAL", "PRAGMA synchronous=NORMAL", "PRAGMA busy_timeout=5000")


def frame(payload: bytes) -> bytes:
    return len(payload).to_bytes(4, "big") + payload


def _read(stream: Any) -> bytes | None:
    header = stream.read(4)
    if len(header) < 4:
        return None
    return stream.read(int.from_bytes(header, "big"))


def write_batch(conn: sqlite3.Connection, setup: dict[str, Any], rows: list[dict[str, Any]]) -> None:
    sql, order = setup["insert"]
    with conn:  # one transaction: the rows and their totals land together or not at all
        conn.executemany(sql, [tuple(row[k] for k in order) for row in rows])
        deltas = rollup_deltas_by_size(rows, [size for _, size, _ in setup["rollups"]])
        for rollup_sql, size, rollup_order in setup["rollups"]:
            conn.executemany(rollup_sql, [tuple(d[k] for k in rollup_order) for d in deltas[size]])
        attempts_sql, attempts_order = setup["attempts"]
        conn.executemany(attempts_sql, [tuple(d[k] for k in attempts_order) for d in attempt_deltas(rows, HOUR_MS)])


def main(path: str) -> None:
    stdin, stdout = sys.stdin.buffer, sys.stdout.buffer
    setup_frame = _read(stdin)
    if setup_frame is None:
        return
    setup = orjson.loads(setup_frame)
    conn = sqlite3.connect(path, isolation_level="DEFERRED")
    for pragma in PRAGMAS:
        conn.execute(pragma)
    while (payload := _read(stdin)) is not None:
        try:
            write_batch(conn, setup, orjson.loads(payload))
            reply = b"ok"
        except Exception as exc:  # reported to the gateway, which keeps the rows and retries
            reply = f"{exc.__class__.__name__}: {exc}".encode()
        stdout.write(frame(reply))
        stdout.flush()
    conn.close()
