"""The ledger writer: generations are queued in memory and written in batches by one background
task, so the request path never waits on the database. `drain()` writes everything before exit."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import Any

from ..storage import Store

log = logging.getLogger("switchpoint.ledger")


class LedgerWriter:
    def __init__(self, store: Store, *, flush_interval: float = 0.2, batch_size: int = 500) -> None:
        self.store = store
        self.flush_interval = flush_interval
        self.batch_size = batch_size
        self._queue: list[dict[str, Any]] = []
        self._pending: dict[str, dict[str, Any]] = {}   # id -> row, until written
        self._unobserved: list[dict[str, Any]] = []     # rows the observers (metrics) have not seen
        self.observers: list[Callable[[list[dict[str, Any]]], None]] = []
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._closing = False
        self.written = 0
        # Called with each row as it is recorded, in the request's context (request id, logged content):
        # they must only queue (the generation log, tracing). `observers` get batches later instead.
        self.listeners: list[Callable[[dict[str, Any]], None]] = []

    def record(self, row: dict[str, Any]) -> None:
        """Queue one generation row. Never blocks, never raises for storage reasons."""
        self._queue.append(row)
        self._unobserved.append(row)
        self._pending[row["id"]] = row
        for listener in self.listeners:
            listener(row)
        if len(self._queue) >= self.batch_size:
            self._wake.set()

    def pending(self, generation_id: str) -> dict[str, Any] | None:
        return self._pending.get(generation_id)

    def pending_costs(self, key_hash: str | None, since_ms: int = 0) -> dict[str, int]:
        """Cost of each row not written yet (of one key, or of all), by generation id."""
        return {gid: r["cost_nanos"] for gid, r in self._pending.items()
                if (key_hash is None or r["key_hash"] == key_hash) and r["created_at_ms"] >= since_ms}

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
            self._task = asyncio.get_running_loop().create_task(self._run(), name="ledger-writer")

    async def drain(self) -> None:
        """Write every queued row, then stop the background task."""
        self._closing = True
        self._wake.set()
        if self._task is not None:
            await self._task
            self._task = None
        self._observe()
        while self._queue:  # rows recorded after the task stopped
            await self._flush_once()

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
            if not self._queue:
                continue
            try:
                await self._flush_once()
                failures = 0
            except Exception:  # storage may be briefly unavailable: keep the rows, retry with backoff
                failures += 1
                log.exception("ledger write failed (attempt %d); %d rows kept for retry", failures, len(self._queue))
                await asyncio.sleep(min(5.0, 0.1 * 2 ** failures))

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
        batch = self._queue[: self.batch_size]
        try:
            await self.store.insert_generations(batch)
        except Exception:
            # A batch that partly landed before an error must not be written twice.
            existing = await self.store.existing_generation_ids([r["id"] for r in batch])
            if not existing:
                raise
            await self.store.insert_generations([r for r in batch if r["id"] not in existing])
        del self._queue[: len(batch)]
        for row in batch:
            self._pending.pop(row["id"], None)
        self.written += len(batch)
