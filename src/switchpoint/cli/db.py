"""`switchpoint db`: the schema of the configured database (SQLite or PostgreSQL), its backups and
restores, and replaying the ledger rows left on disk."""

from __future__ import annotations

from pathlib import Path

import click

from ..accounting.replay import ReplayResult, replay
from ..storage import Store, backup, migrate
from ..storage.spool import DEAD_LETTERS, spool_directory
from .common import console, load_database_config, redact, run


@click.group()
def db() -> None:
    """Manage the database schema; replay ledger rows left on disk."""


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
    config = load_database_config(config_path, check_schema=False)

    async def go() -> str | None:
        store = Store(config.database)
        try:
            return await migrate.current(store.engine)
        finally:
            await store.close()

    revision = run(go())
    try:
        migrate.check_known(revision)
    except migrate.SchemaTooNewError as exc:
        raise click.ClickException(str(exc)) from None
    state = "current" if revision == migrate.HEAD else "behind: run `switchpoint db upgrade`"
    console.print(f"database revision {revision or 'none'} (newest {migrate.HEAD}; {state})", highlight=False)


@db.command("replay")
@click.option("--config", "config_path", help="Path to switchpoint.yaml.")
@click.option("--spool-only", is_flag=True, help="Leave the dead letters; replay only stopped gateways' spools.")
def replay_command(config_path: str | None, spool_only: bool) -> None:
    """Write into the database the ledger rows left on disk: the spool of gateways that stopped before
    writing them, and the dead letters (rows the database refused; correct them in the file first).
    A row already in the database is never written twice."""
    config = load_database_config(config_path)
    directory = spool_directory(config.database, config.ledger.spool_dir)
    if directory is None or not directory.exists():
        console.print(f"nothing to replay (no spool folder{f' at {directory}' if directory else ''})",
                      highlight=False)
        return

    async def go() -> ReplayResult:
        store = Store(config.database)
        try:
            return await replay(store, directory, dead_letters=not spool_only)
        finally:
            await store.close()

    result = run(go())
    console.print(f"spool ({directory}): {result.spooled} rows of stopped gateways, "
                  f"{result.spooled - result.spool_left} now in the database, {result.spool_left} left",
                  highlight=False)
    if not spool_only:
        console.print(f"dead letters ({directory / DEAD_LETTERS}): {result.dead_written} written, "
                      f"{result.dead_kept} refused again (kept, with their error)", highlight=False)
    if result.spool_left or result.dead_kept:
        raise SystemExit(1)


@db.command("backup")
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--config", "config_path", help="Path to switchpoint.yaml.")
def backup_command(path: Path, config_path: str | None) -> None:
    """Copy the database to PATH while the gateway serves: SQLite's online backup (one consistent
    snapshot, integrity-checked), or `pg_dump --format=custom` for PostgreSQL."""
    config = load_database_config(config_path, check_schema=False)
    try:
        outcome = backup.backup(config.database, path)
    except backup.BackupError as exc:
        raise click.ClickException(str(exc)) from None
    size = path.stat().st_size
    if outcome.kind == "sqlite":
        console.print(f"backed up {outcome.source} to {path} ({size} bytes, schema revision "
                      f"{outcome.revision or 'none'}, {outcome.detail})", highlight=False)
    else:
        console.print(f"backed up {redact(config.database)} to {path} ({size} bytes, {outcome.detail})",
                      highlight=False)


@db.command("restore")
@click.argument("path", type=click.Path(dir_okay=False, exists=True, path_type=Path))
@click.option("--config", "config_path", help="Path to switchpoint.yaml.")
@click.option("--force", is_flag=True,
              help="Restore even while a gateway (or any other session) has the database open; restart it after.")
def restore_command(path: Path, config_path: str | None, force: bool) -> None:
    """Replace the configured database's contents with the backup at PATH. Refuses while a gateway has
    the database open (stop it first), unless --force."""
    config = load_database_config(config_path, create=True, check_schema=False)  # a restore is the way back
    try:
        if backup.is_sqlite(config.database):
            outcome = backup.restore_sqlite(config.database, path, force=force)
        else:
            sessions = run(backup.other_sessions(config.database))
            outcome = backup.restore_postgresql(config.database, path, force=force, sessions=sessions)
    except backup.BackupError as exc:
        raise click.ClickException(str(exc)) from None

    async def revision() -> str | None:
        store = Store(config.database)
        try:
            return await migrate.current(store.engine)
        finally:
            await store.close()

    restored = outcome.revision if outcome.kind == "sqlite" else run(revision())
    target = outcome.target if outcome.kind == "sqlite" else redact(config.database)
    note = ""
    if restored != migrate.HEAD:
        note = "; `switchpoint serve` (or `db upgrade`) migrates it to " + migrate.HEAD
    console.print(f"restored {path} into {target} (schema revision {restored or 'none'}{note})", highlight=False)
