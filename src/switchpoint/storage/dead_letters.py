"""Dead letters: ledger rows the database refused for their own values (a wrong type, a constraint), set
aside in a JSON-lines file beside the spool, `{"error": ..., "at_ms": ..., "row": {...}}` a line, so
one bad row never stops the rows after it. The operator corrects a row (or the schema) and runs
`switchpoint db replay`, which writes the rows it can and keeps the others in the file.

Appends and the replay's rewrite take the same lock (`dead-letter.lock`), so neither loses the other's
rows. Dead letters are rare: each opens, appends and closes the file."""

from __future__ import annotations

import fcntl
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import orjson

from .spool import DEAD_LETTERS, encode


class DeadLetters:
    def __init__(self, directory: Path) -> None:
        self.path = directory / DEAD_LETTERS
        self.lock_path = directory / "dead-letter.lock"

    def add(self, row: dict[str, Any], error: str) -> None:
        line = encode({"error": error, "at_ms": int(time.time() * 1000), "row": row}) + b"\n"
        with self.locked(wait=False):  # busy (a replay is running): BlockingIOError, and the row is retried later
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            try:
                os.write(fd, line)
            finally:
                os.close(fd)

    def entries(self) -> list[dict[str, Any]]:
        """Every entry, once per generation id (the newest)."""
        if not self.path.exists():
            return []
        by_id: dict[str, dict[str, Any]] = {}
        with self.path.open("rb") as f:
            for line in f:
                if line.strip():
                    entry = orjson.loads(line)
                    by_id[entry["row"]["id"]] = entry
        return list(by_id.values())

    def keep_only(self, entries: list[dict[str, Any]]) -> None:
        """Rewrite the file with these entries (call while holding `locked()`)."""
        if not entries:
            self.path.unlink(missing_ok=True)
            return
        temporary = self.path.with_suffix(".tmp")
        temporary.write_bytes(b"".join(orjson.dumps(e) + b"\n" for e in entries))
        os.replace(temporary, self.path)

    @contextmanager
    def locked(self, *, wait: bool = True) -> Iterator[None]:
        fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX if wait else fcntl.LOCK_EX | fcntl.LOCK_NB)
            yield
        finally:
            os.close(fd)
