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


class SchemaTooNewError(Exception):
    """The database was migrated by a newer Switchpoint: this version does not know its schema."""

    def __init__(self, revision: str) -> None:
        self.revision = revision
        super().__init__(
            f"the database schema is at revision {revision}, which this Switchpoint does not know (its newest is "
            f"{HEAD}): a newer version of Switchpoint migrated it. Upgrade Switchpoint to that version (or newer), "
            "or restore a backup made by this version (`switchpoint db restore PATH`). Nothing was changed.")


def known_revisions() -> set[str]:
    from alembic.script import ScriptDirectory  # noqa: PLC0415

    return {script.revision for script in ScriptDirectory.from_config(alembic_config()).walk_revisions()}


def check_known(revision: str | None) -> None:
    """Raise SchemaTooNewError when `revision` is none of this version's migrations (a newer version's)."""
    if revision is None or revision == HEAD:
        return  # the usual cases, decided without loading Alembic
    if revision not in known_revisions():
        raise SchemaTooNewError(revision)


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


async def check_schema(engine: AsyncEngine) -> str | None:
    """The database's revision, after checking this version knows it (commands that open the database)."""
    revision = await current(engine)
    check_known(revision)
    return revision


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
        check_known(before)
        await conn.run_sync(step, target)
        after = await conn.run_sync(_current)
    return before, after


async def ensure_current(engine: AsyncEngine) -> bool:
    """Upgrade when the database is behind the code; True when it did. Refuses a schema newer than the
    code (SchemaTooNewError), before touching anything."""
    revision = await current(engine)
    if revision == HEAD:
        return False
    check_known(revision)
    await upgrade(engine)
    return True
