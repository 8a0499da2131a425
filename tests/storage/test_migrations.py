"""Migrations build exactly the schema the code declares, on both dialects, and run once."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect

from switchpoint.storage import Store, metadata, migrate


async def test_migrated_schema_matches_the_tables(database_url: str) -> None:
    store = Store(database_url)
    try:
        assert await migrate.current(store.engine) is None
        assert await store.create_schema() is True
        assert await store.create_schema() is False
        assert await migrate.current(store.engine) == migrate.HEAD
        async with store.engine.connect() as conn:
            diff = await conn.run_sync(lambda c: compare_metadata(MigrationContext.configure(c), metadata))
        assert diff == []
    finally:
        await store.close()


async def test_a_database_made_before_migrations_is_adopted(database_url: str) -> None:
    store = Store(database_url)
    try:
        async with store.engine.begin() as conn:
            await conn.run_sync(metadata.create_all)
        await store.insert_generations([])
        before, after = await migrate.upgrade(store.engine)
        assert (before, after) == (None, migrate.HEAD)
        async with store.engine.connect() as conn:
            tables = await conn.run_sync(lambda c: set(inspect(c).get_table_names()))
        assert {"keys", "generations", "alembic_version"} <= tables
    finally:
        await store.close()


async def test_downgrade_and_upgrade_again(database_url: str) -> None:
    store = Store(database_url)
    try:
        await migrate.upgrade(store.engine)
        assert await migrate.downgrade(store.engine, "base") == (migrate.HEAD, None)
        assert await migrate.upgrade(store.engine) == (None, migrate.HEAD)
    finally:
        await store.close()


def test_head_names_the_newest_migration() -> None:
    assert migrate.alembic_head() == migrate.HEAD
