"""Usage totals per time bucket, key, model and provider, and upstream attempts per time bucket and
endpoint: the arithmetic behind the rollup tables. Pure Python (and orjson), so the SQLite ledger writer process can use it without loading the
database libraries."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import orjson

HOUR_MS = 3_600_000
DAY_MS = 24 * HOUR_MS
GROUP = ("start_ms", "key_hash", "model", "provider")
SUMS = ("requests", "errors", "cancelled", "cache_hits", "prompt_tokens", "completion_tokens", "reasoning_tokens",
        "cached_tokens", "cost_nanos", "markup_nanos", "latency_ms_sum", "latency_count", "ttft_ms_sum",
        "ttft_count")
_TOKENS = ("prompt_tokens", "completion_tokens", "reasoning_tokens", "cached_tokens", "cost_nanos", "markup_nanos")


def rollup_deltas(rows: Iterable[dict[str, Any]], size: int) -> list[dict[str, Any]]:
    """Totals of one ledger batch per (bucket of `size` ms, key, model, provider), sorted so that
    concurrent writers take row locks in the same order."""
    totals: dict[tuple[int, str, str, str], dict[str, Any]] = {}
    for row in rows:
        group = (row["created_at_ms"] // size * size, row["key_hash"], row["model"], row["provider"] or "")
        total = totals.get(group)
        if total is None:
            total = totals[group] = dict.fromkeys(SUMS, 0)
        total["requests"] += 1
        status = row["status"]
        total["errors"] += status == "error" or status == "refused"
        total["cancelled"] += status == "cancelled"
        total["cache_hits"] += bool(row.get("cache_hit"))
        for name in _TOKENS:
            total[name] += row.get(name) or 0
        latency, ttft = row.get("latency_ms"), row.get("ttft_ms")
        if latency is not None:
            total["latency_ms_sum"] += latency
            total["latency_count"] += 1
        if ttft is not None:
            total["ttft_ms_sum"] += ttft
            total["ttft_count"] += 1
    return _rows(totals)


def rollup_deltas_by_size(rows: list[dict[str, Any]], sizes: Iterable[int]) -> dict[int, list[dict[str, Any]]]:
    """`rollup_deltas` for several bucket sizes, each a multiple of the one before: the ledger rows are
    summed once, for the smallest size, and the larger buckets from those sums."""
    by_size: dict[int, list[dict[str, Any]]] = {}
    previous: list[dict[str, Any]] | None = None
    for size in sorted(set(sizes)):
        previous = rollup_deltas(rows, size) if previous is None else coarsen(previous, size)
        by_size[size] = previous
    return by_size


def coarsen(deltas: list[dict[str, Any]], size: int) -> list[dict[str, Any]]:
    """Totals of smaller aligned buckets summed into buckets of `size` ms."""
    totals: dict[tuple[int, str, str, str], dict[str, Any]] = {}
    for delta in deltas:
        group = (delta["start_ms"] // size * size, delta["key_hash"], delta["model"], delta["provider"])
        total = totals.get(group)
        if total is None:
            totals[group] = {name: delta[name] for name in SUMS}
        else:
            for name in SUMS:
                total[name] += delta[name]
    return _rows(totals)


def _rows(totals: dict[tuple[int, str, str, str], dict[str, Any]]) -> list[dict[str, Any]]:
    """One rollup row per group, sorted so that concurrent writers take row locks in the same order."""
    return [{**dict(zip(GROUP, group, strict=True)), **total} for group, total in sorted(totals.items())]


ENDPOINT_GROUP = ("start_ms", "provider", "model")
ENDPOINT_SUMS = ("attempts", "failures")
NOT_SENT = "budget"       # an attempt the key's budget stopped before it was sent (engine.py)
LOST = "hedge_lost"       # a hedged attempt cancelled because another answered first (hedging.py)


def attempt_deltas(rows: Iterable[dict[str, Any]], size: int) -> list[dict[str, Any]]:
    """Upstream attempts and failed attempts per (bucket of `size` ms, provider, public model id): what
    each endpoint was asked and how often it failed, whichever endpoint finally served the generation
    (a generation's row names only that one). Sorted, as `rollup_deltas`."""
    totals: dict[tuple[int, str, str], list[int]] = {}
    for row in rows:
        attempts = row.get("attempts")
        if not attempts:
            continue
        start = row["created_at_ms"] // size * size
        for attempt in orjson.loads(attempts) if isinstance(attempts, str | bytes) else attempts:
            kind = attempt.get("kind")
            if kind == NOT_SENT:
                continue
            group = (start, attempt["provider"], attempt["model"])
            total = totals.get(group)
            if total is None:
                total = totals[group] = [0, 0]
            total[0] += 1
            total[1] += kind is not None and kind != LOST
    return [{"start_ms": group[0], "provider": group[1], "model": group[2], "attempts": total[0],
             "failures": total[1]} for group, total in sorted(totals.items())]
