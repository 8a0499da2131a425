"""Usage totals per time bucket, key, model and provider: the arithmetic behind the rollup tables.
Pure Python with no dependencies, so the SQLite ledger writer process can use it without loading the
database libraries."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

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
        total["errors"] += status == "error"
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
