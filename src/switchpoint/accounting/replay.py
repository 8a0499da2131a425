"""`switchpoint db replay`: write what the ledger left on disk into the database.

- Spool segments of gateway processes that are gone (a gateway does this itself at start; the command
  is for a replica that will not start again here). Segments of running gateways are locked and left.
- Dead letters: rows the database refused. Each is tried again (after the operator corrected the row in
  the file, or the schema); the rows written, or already in the database, leave the file, the others stay
  with their new error.
Generation ids are the key throughout: a row already in the database is never written twice."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..storage import Store
from ..storage.dead_letters import DeadLetters
from ..storage.row_errors import is_row_error
from ..storage.spool import Spool
from .ledger import LedgerWriter


@dataclass
class ReplayResult:
    spooled: int = 0           # rows found in the spool of stopped processes (written, or already stored)
    spool_left: int = 0        # of those, not written (the database is unavailable)
    dead_written: int = 0      # dead letters now in the database
    dead_kept: int = 0         # dead letters refused again, still in the file


async def replay(store: Store, directory: Path, *, dead_letters: bool = True) -> ReplayResult:
    result = ReplayResult()
    writer = LedgerWriter(store, spool=Spool(directory), dead_letters=DeadLetters(directory))
    writer.adopt_spool()
    result.spooled = writer.backlog
    result.spool_left = await writer.drain(timeout=60)
    if dead_letters:
        result.dead_written, result.dead_kept = await _replay_dead_letters(writer, DeadLetters(directory))
    return result


async def _replay_dead_letters(writer: LedgerWriter, letters: DeadLetters) -> tuple[int, int]:
    written = 0
    with letters.locked():
        kept = []
        for entry in letters.entries():
            try:
                await writer.insert_new([entry["row"]])
            except Exception as exc:
                if not is_row_error(exc):
                    raise  # the database is unavailable: the file is left as it was
                kept.append({**entry, "error": f"{exc.__class__.__name__}: {exc}"[:2000]})
                continue
            written += 1
        letters.keep_only(kept)
    return written, len(kept)
