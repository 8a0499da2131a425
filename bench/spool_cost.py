"""What the ledger's spool costs a request, in process: `LedgerWriter.record()` of a real generation
row with and without the spool (µs a row, best of 5 rounds of 20,000 rows, the rows taken out in
batches of 500 as the writer does), and the memory one queued row holds (which sizes
`ledger.max_backlog`).

    PYTHONPATH=src python bench/spool_cost.py [folder]    # folder: where the spool goes (default: here)
"""

from __future__ import annotations

import asyncio
import shutil
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

from switchpoint.accounting.ledger import LedgerWriter
from switchpoint.generation import new_record
from switchpoint.storage import Store
from switchpoint.storage.spool import Spool
from switchpoint.types import Usage

ROWS = 20_000
ROUNDS = 5
FLUSH = 500  # rows a batch


def rows(n: int, tag: str) -> list[dict]:
    out = []
    for i in range(n):
        record = new_record(f"gen-1790000000-{tag}{i:012d}", "a" * 64, "openai/gpt-4o-mini", streamed=False)
        record.provider, record.upstream_model, record.upstream_id = "openai", "gpt-4o-mini", "chatcmpl-abc123"
        record.usage = Usage(prompt_tokens=812, completion_tokens=143)
        record.cost_nanos, record.latency_ms, record.finish_reason = 207_600, 412.5, "stop"
        record.add_attempt("openai", "openai/gpt-4o-mini", "gpt-4o-mini", 200, 410.2)
        out.append(record.row())
    return out


def per_row_us(folder: Path | None, round_: int) -> float:
    store = Store("sqlite:///:memory:")
    spool = Spool(folder / f"round{round_}") if folder is not None else None
    writer = LedgerWriter(store, spool=spool, max_backlog=10**9, batch_size=10**9)
    batch = rows(ROWS, f"{round_}{'s' if spool else 'm'}")
    took = 0.0
    for at in range(0, ROWS, FLUSH):  # as in a gateway: the writer takes a batch out every few hundred rows
        chunk = batch[at:at + FLUSH]
        start = time.perf_counter()
        for row in chunk:
            writer.record(row)
        took += time.perf_counter() - start
        writer._queue.clear()
        writer._pending.clear()
        writer._unobserved.clear()
        if spool is not None:
            spool.done(chunk)
    if spool is not None:
        spool.close()
    asyncio.run(store.close())
    return took / ROWS * 1e6


def bytes_per_row() -> float:
    batch = rows(2_000, "mem")
    writer = LedgerWriter(Store("sqlite:///:memory:"), max_backlog=10**9, batch_size=10**9)
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    for row in rows(2_000, "m2"):
        writer.record(row)
    after = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    del batch
    return (after - before) / 2_000


def main() -> None:
    base = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(".")
    folder = Path(tempfile.mkdtemp(prefix="spool-cost-", dir=base))
    try:
        memory = min(per_row_us(None, r) for r in range(ROUNDS))
        spooled = min(per_row_us(folder, r) for r in range(ROUNDS))
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    print(f"record() without spool: {memory:.2f} µs/row; with spool: {spooled:.2f} µs/row "
          f"(spool adds {spooled - memory:.2f} µs/row; spool folder on {base.resolve()})")
    print(f"a queued row holds ~{bytes_per_row() / 1024:.1f} KiB (rows built and queued)")


if __name__ == "__main__":
    main()
