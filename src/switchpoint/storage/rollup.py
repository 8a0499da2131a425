"""Hourly and daily usage totals, and hourly upstream attempts per endpoint, kept in step with the ledger.

Each batch of generations the ledger writer inserts also adds its totals to `usage_hourly` and
`usage_daily` in the same transaction (an upsert that increments), so the totals are exact on SQLite
and PostgreSQL alike and reports scan thousands of rollup rows instead of millions of generations."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Integer, Table, case, func, insert, literal, select
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncConnection

from ..usage_totals import (
    DAY_MS,
    ENDPOINT_GROUP,
    ENDPOINT_SUMS,
    GROUP,
    HOUR_MS,
    SUMS,
    attempt_deltas,
    rollup_deltas_by_size,
)
from .tables import endpoint_attempts_hourly, generations, usage_daily, usage_hourly

ROLLUPS: tuple[tuple[Table, int], ...] = ((usage_hourly, HOUR_MS), (usage_daily, DAY_MS))


def _upsert(dialect: str) -> Any:
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as upsert  # noqa: PLC0415 - dialect-specific
    else:
        from sqlalchemy.dialects.sqlite import insert as upsert  # noqa: PLC0415
    return upsert


def attempts_statement(dialect: str) -> Any:
    """The upsert that adds a batch's attempts per hour and endpoint (usage_totals.attempt_deltas)."""
    table = endpoint_attempts_hourly
    stmt = _upsert(dialect)(table)
    return stmt.on_conflict_do_update(index_elements=[table.c[name] for name in ENDPOINT_GROUP],
                                      set_={name: table.c[name] + stmt.excluded[name] for name in ENDPOINT_SUMS})


def rollup_statements(dialect: str) -> list[tuple[Any, int]]:
    """For each rollup table, an upsert that adds a batch's totals, and the bucket size it sums over."""
    upsert = _upsert(dialect)
    statements = []
    for table, size in ROLLUPS:
        stmt = upsert(table)
        stmt = stmt.on_conflict_do_update(
            index_elements=[table.c[name] for name in GROUP],
            set_={name: table.c[name] + stmt.excluded[name] for name in SUMS},
        )
        statements.append((stmt, size))
    return statements


async def add_rollups(conn: AsyncConnection, rows: list[dict[str, Any]]) -> None:
    """Add a batch of ledger rows to every rollup (inserting the groups not seen before)."""
    if rows:
        statements = rollup_statements(conn.dialect.name)
        deltas = rollup_deltas_by_size(rows, [size for _, size in statements])
        for stmt, size in statements:
            await conn.execute(stmt, deltas[size])
        attempts = attempt_deltas(rows, HOUR_MS)
        if attempts:
            await conn.execute(attempts_statement(conn.dialect.name), attempts)


def per_generation(size: int, since_ms: int, until_ms: int | None = None) -> Any:
    """Generations in [since, until) shaped like rollup rows of bucket `size` (one row each): the
    exact edge of a report that starts inside a bucket, and the source of a rebuild."""
    g = generations.c
    latency_known = case((g.latency_ms.is_(None), 0), else_=1)
    ttft_known = case((g.ttft_ms.is_(None), 0), else_=1)
    query = select(
        ((g.created_at_ms // size) * size).label("start_ms"), g.key_hash.label("key_hash"),
        g.model.label("model"), func.coalesce(g.provider, "").label("provider"),
        literal(1, Integer).label("requests"),
        case((g.status.in_(("error", "refused")), 1), else_=0).label("errors"),
        case((g.status == "cancelled", 1), else_=0).label("cancelled"),
        case((g.cache_hit.is_(True), 1), else_=0).label("cache_hits"),
        g.prompt_tokens.label("prompt_tokens"), g.completion_tokens.label("completion_tokens"),
        g.reasoning_tokens.label("reasoning_tokens"), g.cached_tokens.label("cached_tokens"),
        g.cost_nanos.label("cost_nanos"), g.markup_nanos.label("markup_nanos"),
        func.coalesce(g.latency_ms, 0.0).label("latency_ms_sum"), latency_known.label("latency_count"),
        func.coalesce(g.ttft_ms, 0.0).label("ttft_ms_sum"), ttft_known.label("ttft_count"),
    ).where(g.created_at_ms >= since_ms)
    if until_ms is not None:
        query = query.where(g.created_at_ms < until_ms)
    return query


def rebuild_statements() -> list[Any]:
    """Statements that recompute every total from the ledger (for databases written before the rollups
    existed, and for data loaded in bulk). Run them in one transaction."""
    statements: list[Any] = []
    for table, size in ROLLUPS:
        rows = per_generation(size, 0).subquery()
        grouped = select(*(rows.c[name] for name in GROUP), *(func.sum(rows.c[name]) for name in SUMS)).group_by(
            *(rows.c[name] for name in GROUP))
        statements += [table.delete(), insert(table).from_select([*GROUP, *SUMS], grouped)]
    return statements


async def rebuild_rollups(conn: AsyncConnection) -> None:
    for statement in rebuild_statements():
        await conn.execute(statement)
    await conn.run_sync(rebuild_attempts)


def rebuild_attempts(conn: Connection, batch: int = 10_000) -> None:
    """Recompute the attempts per hour and endpoint from the ledger's attempt lists (JSON, so in Python,
    `batch` rows at a time; the totals held are one per hour and endpoint). Synchronous: migrations."""
    table = endpoint_attempts_hourly
    conn.execute(table.delete())
    totals: dict[tuple[int, str, str], list[int]] = {}
    query = select(generations.c.created_at_ms, generations.c.attempts).where(generations.c.attempts.is_not(None))
    result = conn.execute(query.execution_options(yield_per=batch))  # on the statement: not the connection's
    for part in result.mappings().partitions():
        for delta in attempt_deltas(part, HOUR_MS):
            total = totals.setdefault((delta["start_ms"], delta["provider"], delta["model"]), [0, 0])
            total[0] += delta["attempts"]
            total[1] += delta["failures"]
    if totals:
        conn.execute(insert(table), [{"start_ms": k[0], "provider": k[1], "model": k[2], "attempts": v[0],
                                      "failures": v[1]} for k, v in totals.items()])
