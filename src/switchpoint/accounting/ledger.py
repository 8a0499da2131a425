"""The ledger writer: generations are queued in memory and written in batches by one background
task, so the request path never waits on the database.

What keeps every row (docs/accounting.md, "The ledger writer"):
- Each row is appended to the spool (storage/spool.py) as it is recorded, before its response
  completes; a process killed with rows in memory leaves them there, and the next start writes them
  (skipping the ids already stored: exactly once).
- A batch the database refuses is split in halves until the refused rows are alone; those are set
  aside as dead letters (storage/dead_letters.py), logged and counted, and the others are written. A
  database that cannot take any row (down, full, read-only) is not a bad row: everything stays queued
  and is retried with backoff.
- The backlog is bounded: past `max_backlog` rows (or while the spool cannot be written) `admit()`
  refuses new generations with a 503 and `problem` says why (/readyz); both clear by themselves when
  the writes catch up.
- `drain(timeout)` writes what it can before shutdown and reports what it left in the spool."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from typing import Any

from ..errors import ServiceUnavailableError
from ..storage import Store
from ..storage.dead_letters import DeadLetters
from ..storage.row_errors import is_row_error
from ..storage.spool import Spool

log = logging.getLogger("switchpoint.ledger")
FAILURE_LOG_INTERVAL = 30.0  # seconds between repeated log lines while the database stays unavailable


class LedgerBehindError(ServiceUnavailableError):
    """The gateway cannot record usage right now, so it serves nothing it could not account for."""


class LedgerWriter:
    def __init__(self, store: Store, *, flush_interval: float = 0.2, batch_size: int = 500,
                 max_backlog: int = 50_000, spool: Spool | None = None,
                 dead_letters: DeadLetters | None = None) -> None:
        self.store = store
        self.flush_interval = flush_interval
        self.batch_size = batch_size
        self.max_backlog = max_backlog
        self.spool = spool
        self._check_at = min(batch_size, max_backlog)  # one comparison a row until either matters
        self.dead_letters = dead_letters
        self._queue: list[dict[str, Any]] = []
        self._pending: dict[str, dict[str, Any]] = {}   # id -> row, until written
        self._unobserved: list[dict[str, Any]] = []     # rows the observers (metrics) have not seen
        self.observers: list[Callable[[list[dict[str, Any]]], None]] = []
        self._wake = asyncio.Event()
        self._lock = asyncio.Lock()  # one batch at a time: the task, drain() and flush() share the queue
        self._task: asyncio.Task[None] | None = None
        self._closing = False
        self.written = 0
        self.dead_lettered = 0
        self.write_failures = 0
        self.last_error: str | None = None
        self._logged_at = 0.0
        self._refusal: str | None = None  # why new generations are refused, while they are
        # Called with each row as it is recorded, in the request's context (request id, logged content):
        # they must only queue (the generation log, tracing). `observers` get batches later instead.
        self.listeners: list[Callable[[dict[str, Any]], None]] = []

    def record(self, row: dict[str, Any]) -> None:
        """Queue one generation row (and spool it). Never blocks, never raises for storage reasons."""
        self._queue.append(row)
        self._unobserved.append(row)
        self._pending[row["id"]] = row
        if self.spool is not None and not self.spool.append(row):
            self._refusal = self.spool.broken
        for listener in self.listeners:
            listener(row)
        queued = len(self._queue)
        if queued >= self._check_at:
            if queued >= self.batch_size:
                self._wake.set()
            if queued >= self.max_backlog and self._refusal is None:
                self._refuse()

    def admit(self) -> None:
        """Raise a 503 while the ledger cannot take more rows; call before serving a generation."""
        if self._refusal is not None:
            raise LedgerBehindError(self._refusal, headers={"Retry-After": "5"},
                                    metadata={"reason": "ledger_unavailable", "backlog": len(self._queue)})

    @property
    def problem(self) -> str | None:
        """Why the gateway is not ready, from the ledger's side (None when it is)."""
        return self._refusal

    def pending(self, generation_id: str) -> dict[str, Any] | None:
        return self._pending.get(generation_id)

    def pending_costs(self, key_hash: str | None, since_ms: int = 0, user: str | None = None) -> dict[str, int]:
        """Cost of each row not written yet (of one key, or of all; of one end user with `user`), by
        generation id."""
        return {gid: r["cost_nanos"] for gid, r in self._pending.items()
                if (key_hash is None or r["key_hash"] == key_hash) and r["created_at_ms"] >= since_ms
                and (user is None or r["external_user"] == user)}

    def pending_last_used(self) -> dict[str, int]:
        """The newest generation time (epoch ms) of each key among the rows not written yet."""
        latest: dict[str, int] = {}
        for row in self._pending.values():
            if row["created_at_ms"] > latest.get(row["key_hash"], -1):
                latest[row["key_hash"]] = row["created_at_ms"]
        return latest

    @property
    def backlog(self) -> int:
        return len(self._queue)

    def start(self) -> None:
        if self._task is None:
            self.adopt_spool()
            self._task = asyncio.get_running_loop().create_task(self._run(), name="ledger-writer")

    async def drain(self, timeout: float | None = None) -> int:
        """Write every queued row (within `timeout` seconds, if given), then stop the background task
        and release the spool. Returns how many rows were left unwritten (kept in the spool)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        self._closing = True
        self._wake.set()
        if self._task is not None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._task, timeout)  # cancels the task when the time is up
            self._task = None
        self._observe()
        left_s = None if deadline is None else max(0.0, deadline - time.monotonic())
        try:
            async with asyncio.timeout(left_s):
                while self._queue:  # rows recorded after the task stopped
                    await self._flush_once()
        except TimeoutError:
            pass  # the time is up: the rows stay in the spool; reported below
        except Exception as exc:  # noqa: BLE001 - the rows stay in the spool; reported below
            self._note_failure(exc)
        left = len(self._queue)
        where = ", ".join(self.spool.paths) if self.spool is not None else None
        if self.spool is not None:
            self.spool.close()
        if left:
            if where:
                log.error("ledger: %d rows could not be written before shutdown (last error: %s); they are kept "
                          "in %s and are written at the next start (or by `switchpoint db replay`)",
                          left, self.last_error, where)
            else:
                log.error("ledger: %d rows could not be written before shutdown (last error: %s) and there is "
                          "no spool (in-memory database): they are lost", left, self.last_error)
        return left

    async def flush(self) -> None:
        self._observe()
        while self._queue:
            await self._flush_once()

    async def _run(self) -> None:
        failures = 0
        while True:
            if not self._queue and self._closing:
                return
            if not self._queue or (len(self._queue) < self.batch_size and not self._closing):
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), self.flush_interval)
                self._wake.clear()
            await self._observe_in_slices()
            self._repair_spool()
            if not self._queue:
                continue
            try:
                await self._flush_once()
                if failures:
                    log.warning("ledger: writing again after %d failed attempts; %d rows queued",
                                failures, len(self._queue))
                failures = 0
            except Exception as exc:  # the database cannot take rows now: keep them all, retry with backoff
                failures += 1
                self._note_failure(exc)
                await asyncio.sleep(min(5.0, 0.1 * 2 ** min(failures, 6)))

    def _note_failure(self, exc: BaseException) -> None:
        self.write_failures += 1
        first = self.last_error is None
        self.last_error = f"{exc.__class__.__name__}: {exc}"
        now = time.monotonic()
        if first or now - self._logged_at >= FAILURE_LOG_INTERVAL:
            self._logged_at = now
            log.error("ledger write failed (%s); %d rows kept for retry%s", self.last_error, len(self._queue),
                      f" in {self.spool.directory}" if self.spool is not None else "")
        if len(self._queue) >= self.max_backlog:
            self._refuse()

    def _refuse(self) -> None:
        refusing = self._refusal is not None
        reason = self.last_error or "writes are slower than requests"
        self._refusal = (f"Switchpoint is not serving generations: its ledger has {len(self._queue)} rows it could "
                         f"not write yet (limit {self.max_backlog}; {reason}). Nothing is served that cannot be "
                         "accounted for; retry shortly.")
        if not refusing:
            log.error("ledger backlog reached %d rows: refusing new generations until it is written",
                      len(self._queue))

    def _update_refusal(self) -> None:
        if self.spool is not None and self.spool.broken is not None:
            self._refusal = self.spool.broken
        elif len(self._queue) >= self.max_backlog:
            self._refuse()
        elif self._refusal is not None:
            log.warning("ledger backlog down to %d rows: serving generations again", len(self._queue))
            self._refusal = None

    def _repair_spool(self) -> None:
        """While the spool cannot be written, retry spooling the queued rows it lacks."""
        spool = self.spool
        if spool is None or spool.broken is None:
            return
        spool.probe()
        for row in self._queue:
            if row["id"] not in spool.where and not spool.append(row):
                return
        self._update_refusal()

    def adopt_spool(self) -> None:
        """Queue first the rows a stopped process left in the spool."""
        if self.spool is None:
            return
        rows = self.spool.adopt()
        self._queue[:0] = rows
        for row in rows:
            self._pending.setdefault(row["id"], row)
        if rows:
            self._wake.set()

    async def _observe_in_slices(self, size: int = 64) -> None:
        """As `_observe`, yielding to requests between slices: a whole flush interval's rows at once
        would hold the event loop for milliseconds (a latency spike every interval)."""
        while len(self._unobserved) > size:
            rows, self._unobserved = self._unobserved[:size], self._unobserved[size:]
            self._notify(rows)
            await asyncio.sleep(0)
        self._observe()

    def _observe(self) -> None:
        """Hand new rows to the observers off the request path (metrics are derived from the ledger)."""
        if not self._unobserved:
            return
        rows, self._unobserved = self._unobserved, []
        self._notify(rows)

    def _notify(self, rows: list[dict[str, Any]]) -> None:
        for observer in self.observers:
            try:
                observer(rows)
            except Exception:  # an observer's bug must never stop the ledger
                log.exception("ledger observer %r failed", observer)

    async def _flush_once(self) -> None:
        async with self._lock:
            batch = self._queue[: self.batch_size]
            done: list[dict[str, Any]] = []
            try:
                await self._write(batch, done)
            finally:
                self._settle(batch, done)

    async def _write(self, batch: list[dict[str, Any]], done: list[dict[str, Any]]) -> None:
        """Write the batch; where the database refuses rows, halve until each refused row is alone and
        set it aside. Rows written, already stored or set aside are appended to `done`; a failure that is
        not about the rows (the database is unavailable) propagates, leaving the rest queued."""
        try:
            await self.store.insert_generations(batch)
        except Exception as exc:
            # Rows already stored (a batch that landed before its answer was lost, rows replayed from the
            # spool) are looked up once; each insert below is one transaction, so none lands partly.
            existing = await self.store.existing_generation_ids([r["id"] for r in batch])
            if not existing and not is_row_error(exc):
                raise
            done += [r for r in batch if r["id"] in existing]
            rest = [r for r in batch if r["id"] not in existing]
        else:
            self.written += len(batch)
            done += batch
            return
        chunks = [rest] if rest else []
        while chunks:
            chunk = chunks.pop()
            try:
                await self.store.insert_generations(chunk)
            except Exception as exc:
                if not is_row_error(exc):
                    raise
                if len(chunk) > 1:
                    half = len(chunk) // 2
                    chunks += [chunk[half:], chunk[:half]]  # the first half is tried first
                    continue
                self._set_aside(chunk[0], exc)
            else:
                self.written += len(chunk)
            done += chunk

    async def insert_new(self, rows: list[dict[str, Any]]) -> None:
        """Insert the rows, skipping those already stored (for a replay)."""
        existing = await self.store.existing_generation_ids([r["id"] for r in rows])
        rest = [r for r in rows if r["id"] not in existing]
        if rest:
            await self.store.insert_generations(rest)

    def _set_aside(self, row: dict[str, Any], exc: BaseException) -> None:
        error = f"{exc.__class__.__name__}: {exc}"[:2000]
        if self.dead_letters is not None:
            self.dead_letters.add(row, error)  # an OSError here keeps the row queued, like a database outage
            where = f"set aside in {self.dead_letters.path} (replay with `switchpoint db replay`)"
        else:
            where = f"not kept (no spool for an in-memory database): {row!r}"
        self.dead_lettered += 1
        log.error("ledger row %s was refused by the database (%s); %s", row.get("id"), error, where)

    def _settle(self, batch: list[dict[str, Any]], done: list[dict[str, Any]]) -> None:
        if len(done) == len(batch):
            del self._queue[: len(batch)]
        elif done:
            ids = {r["id"] for r in done}
            self._queue[: len(batch)] = [r for r in batch if r["id"] not in ids]
        for row in done:
            self._pending.pop(row["id"], None)
        if self.spool is not None and done:
            self.spool.done(done)
        self._update_refusal()
