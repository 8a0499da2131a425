"""Every migration from every earlier revision, with data in it, on SQLite and PostgreSQL.

For each revision r this version ships (found from the migrations themselves, so a new one is covered
as soon as it exists): migrate an empty database to r, insert representative rows into every table r
has, upgrade to head, and check that the rows are still there and that the schema is exactly the one
a fresh database gets.

Rows are generated from each table's columns (a value of the column's type and length). A column
whose values must mean something to a later migration (JSON it parses, say) gets its value from
COLUMN_VALUES; a revision whose data a later migration rewrites on purpose names the rewritten columns
in REWRITTEN, keyed by the revision that rewrites them."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection

from switchpoint.storage import Store, metadata, migrate

ROWS_PER_TABLE = 3

# (table, column) -> value of row i, where the generic value would not be a valid one
COLUMN_VALUES: dict[tuple[str, str], Callable[[int], Any]] = {
    ("generations", "attempts"): lambda i: json.dumps([
        {"provider": "up", "model": "test/gpt", "kind": "server_error", "status": 500, "ms": 12.5},
        {"provider": "backup", "model": "test/gpt", "kind": None, "status": 200, "ms": 40.0 + i}]),
    ("generations", "status"): lambda i: ("success", "error", "cancelled")[i % 3],
    ("generations", "router"): lambda i: json.dumps({"tier": "fast", "model": "test/gpt"}),
    ("keys", "limit_reset"): lambda i: ("daily", "weekly", None)[i % 3],
    ("keys", "source"): lambda i: ("api", "config")[i % 2],
}
# revision that rewrites data on purpose -> {(table, column), ...} it may change in older rows
REWRITTEN: dict[str, set[tuple[str, str]]] = {}
NOT_DATA = {"alembic_version"}


def revisions() -> list[str]:
    """Every revision this version ships, oldest first."""
    script = ScriptDirectory.from_config(migrate.alembic_config())
    return [s.revision for s in reversed(list(script.walk_revisions()))]


EARLIER = revisions()[:-1]


def value(table: str, column: sa.Column[Any], i: int) -> Any:
    special = COLUMN_VALUES.get((table, column.name))
    if special is not None:
        return special(i)
    kind = column.type
    if isinstance(kind, sa.Boolean):
        return i % 2 == 0
    if isinstance(kind, sa.BigInteger):
        return 1_700_000_000_000 + i * 3_600_000  # epoch ms / nanos: past 32 bits
    if isinstance(kind, sa.Integer):
        return 100 + i
    if isinstance(kind, sa.Float | sa.Numeric):
        return 1.5 + i
    if isinstance(kind, sa.String):  # Text too
        text = f"{table[:4]}-{column.name}-{i}"
        return text[-kind.length:] if kind.length else text
    raise AssertionError(f"no representative value for {table}.{column.name} ({kind!r}): add it to COLUMN_VALUES")


def insert_rows(conn: Connection) -> dict[str, list[dict[str, Any]]]:
    inserted: dict[str, list[dict[str, Any]]] = {}
    reflected = sa.MetaData()
    reflected.reflect(conn)
    for name, table in reflected.tables.items():
        if name in NOT_DATA:
            continue
        rows = [{c.name: value(name, c, i) for c in table.columns} for i in range(ROWS_PER_TABLE)]
        conn.execute(sa.insert(table), rows)
        inserted[name] = rows
    return inserted


def read_rows(conn: Connection, name: str, columns: list[str]) -> list[tuple[Any, ...]]:
    table = sa.Table(name, sa.MetaData(), autoload_with=conn)
    return canonical(conn.execute(sa.select(*(table.c[c] for c in columns))).all())


def canonical(rows: Any) -> list[tuple[Any, ...]]:
    """The rows in a fixed order, whatever order the database returns them in."""
    return sorted((tuple(row) for row in rows), key=repr)


def schema_difference(conn: Connection) -> list[Any]:
    return list(compare_metadata(MigrationContext.configure(conn), metadata))


def test_every_revision_is_covered() -> None:
    assert revisions()[-1] == migrate.HEAD
    assert revisions()[0] == migrate.FIRST


@pytest.mark.parametrize("revision", EARLIER)
async def test_upgrade_from_revision_keeps_the_data(revision: str, database_url: str) -> None:
    store = Store(database_url)
    try:
        await migrate.upgrade(store.engine, revision)
        assert await migrate.current(store.engine) == revision
        async with store.engine.begin() as conn:
            inserted = await conn.run_sync(insert_rows)
        assert inserted, f"revision {revision} has no tables"

        before, after = await migrate.upgrade(store.engine)
        assert (before, after) == (revision, migrate.HEAD)

        later = revisions()[revisions().index(revision) + 1:]
        rewritten = set().union(*(REWRITTEN.get(r, set()) for r in later))
        async with store.engine.connect() as conn:
            for name, rows in inserted.items():
                columns = [c for c in rows[0] if (name, c) not in rewritten]
                found = await conn.run_sync(read_rows, name, columns)
                expected = canonical([row[c] for c in columns] for row in rows)
                assert found == expected, f"{name} changed upgrading from {revision}"
            assert await conn.run_sync(schema_difference) == []
    finally:
        await store.close()
