"""Schema migrations (Alembic, shipped in the package): `switchpoint db upgrade`, and `serve` at
start when the database is behind. Replicas starting together serialise on a PostgreSQL advisory
lock; the one that waited finds the schema current and does nothing."""

from __future__ import annotations

import logging
from collections.abc import Callable
from importlib import resources
from typing import TYPE_CHECKING

from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

if TYPE_CHECKING:
    from alembic.config import Config as AlembicConfig

# Alembic (10 MB once loaded) is imported only to migrate: a gateway whose database is current never
# loads it. HEAD names the newest migration; a test checks it against Alembic's own view.
FIRST = "0001"
HEAD = "0008"
LOCK_ID = 0x5350_0001  # any constant shared by every replica
logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)  # else a line per plugin on import


def alembic_config(connection: Connection | None = None) -> AlembicConfig:
    from alembic.config import Config as AlembicConfig  # noqa: PLC0415 - see above

    config = AlembicConfig()
    config.set_main_option("script_location", str(resources.files("switchpoint.storage") / "migrations"))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def alembic_head() -> str | None:
    from alembic.script import ScriptDirectory  # noqa: PLC0415

    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def _current(connection: Connection) -> str | None:
    if not inspect(connection).has_table("alembic_version"):
        return None
    return connection.execute(text("SELECT version_num FROM alembic_version")).scalar()


def _upgrade(connection: Connection, target: str) -> None:
    from alembic import command  # noqa: PLC0415

    config = alembic_config(connection)
    tables = inspect(connection)
    if not tables.has_table("alembic_version") and tables.has_table("keys"):
        command.stamp(config, FIRST)  # a database made before migrations existed holds the first revision
    command.upgrade(config, target)


def _downgrade(connection: Connection, target: str) -> None:
    from alembic import command  # noqa: PLC0415

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
    if await current(engine) == HEAD:
        return False
    await upgrade(engine)
    return True
