"""Schema migrations (Alembic, shipped in the package): `switchpoint db upgrade`, and `serve` at
start when the database is behind. Replicas starting together serialise on a PostgreSQL advisory
lock; the one that waited finds the schema current and does nothing."""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from importlib import resources

from alembic import command
from alembic.config import Config as AlembicConfig
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

FIRST = "0001"
LOCK_ID = 0x5350_0001  # any constant shared by every replica


def alembic_config(connection: Connection | None = None) -> AlembicConfig:
    config = AlembicConfig()
    config.set_main_option("script_location", str(resources.files("switchpoint.storage") / "migrations"))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


@cache
def head() -> str:
    revision = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert revision is not None, "the package ships its migrations"
    return revision


def _current(connection: Connection) -> str | None:
    return MigrationContext.configure(connection).get_current_revision()


def _upgrade(connection: Connection, target: str) -> None:
    config = alembic_config(connection)
    tables = inspect(connection)
    if not tables.has_table("alembic_version") and tables.has_table("keys"):
        command.stamp(config, FIRST)  # a database made before migrations existed holds the first revision
    command.upgrade(config, target)


def _downgrade(connection: Connection, target: str) -> None:
    command.downgrade(alembic_config(connection), target)


async def current(engine: AsyncEngine) -> str | None:
    async with engine.connect() as conn:
        return await conn.run_sync(_current)


async def upgrade(engine: AsyncEngine, target: str = "head") -> tuple[str | None, str | None]:
    """Migrate up to `target`; returns (revision before, revision after)."""
    return await _migrate(engine, _upgrade, target)


async def downgrade(engine: AsyncEngine, target: str) -> tuple[str | None, str | None]:
    """Migrate down to `target` ("base" empties the database)."""
    return await _migrate(engine, _downgrade, target)


async def _migrate(engine: AsyncEngine, step: Callable[[Connection, str], None],
                   target: str) -> tuple[str | None, str | None]:
    async with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            await conn.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": LOCK_ID})
        before = await conn.run_sync(_current)
        await conn.run_sync(step, target)
        after = await conn.run_sync(_current)
    return before, after


async def ensure_current(engine: AsyncEngine) -> bool:
    """Upgrade when the database is behind the code; True when it did."""
    if await current(engine) == head():
        return False
    await upgrade(engine)
    return True
