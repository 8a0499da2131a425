"""`switchpoint db`: the schema of the configured database (SQLite or PostgreSQL)."""

from __future__ import annotations

import click

from ..storage import Store, migrate
from .common import console, load_database_config, run


@click.group()
def db() -> None:
    """Manage the database schema."""


@db.command("upgrade")
@click.option("--config", "config_path", help="Path to switchpoint.yaml.")
@click.option("--revision", default="head", show_default=True, help="Migrate to this revision.")
def upgrade(config_path: str | None, revision: str) -> None:
    """Apply the migrations the database does not have yet (serve does this at start too)."""
    config = load_database_config(config_path, create=True)

    async def go() -> tuple[str | None, str | None]:
        store = Store(config.database)
        try:
            return await migrate.upgrade(store.engine, revision)
        finally:
            await store.close()

    before, after = run(go())
    if before == after:
        console.print(f"database is current (revision {after})", highlight=False)
    else:
        console.print(f"upgraded the database from {before or 'empty'} to {after}", highlight=False)


@db.command("current")
@click.option("--config", "config_path", help="Path to switchpoint.yaml.")
def current(config_path: str | None) -> None:
    """Print the database's revision and the newest one this version ships."""
    config = load_database_config(config_path)

    async def go() -> str | None:
        store = Store(config.database)
        try:
            return await migrate.current(store.engine)
        finally:
            await store.close()

    revision = run(go())
    state = "current" if revision == migrate.HEAD else "behind: run `switchpoint db upgrade`"
    console.print(f"database revision {revision or 'none'} (newest {migrate.HEAD}; {state})", highlight=False)
