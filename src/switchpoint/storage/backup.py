"""Backups and restores of the configured database while the gateway may be serving.

SQLite: the online backup API (`sqlite3.Connection.backup`) copies every page in one step under a read
transaction, so the copy is one consistent snapshot even while the gateway and its ledger child write
(in WAL mode a reader blocks no writer). A plain file copy is not safe: it can catch the main file and
the `-wal` file at different moments. A restore runs the same API the other way, so the database file
is replaced in one write transaction, and refuses while another connection has the database open (a
running gateway holds its connections for its whole life) unless forced.

PostgreSQL: the documented tools, `pg_dump --format=custom` (a consistent snapshot: one repeatable-read
transaction) and `pg_restore --clean --if-exists --single-transaction`. The password, when the URL has
one, is passed in `PGPASSWORD` rather than on the command line, where `ps` would show it."""

from __future__ import annotations

import glob
import os
import shutil
import sqlite3
import subprocess
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.engine import make_url

SQLITE_MAGIC = b"SQLite format 3\x00"
PG_DUMP_MAGIC = b"PGDMP"


class BackupError(Exception):
    """A backup or restore that could not be done; the message says why and what to do."""


@dataclass(frozen=True)
class Outcome:
    """What was done, for the command to print."""

    source: str
    target: str
    kind: str  # "sqlite" | "postgresql"
    revision: str | None  # the schema revision of the copy
    detail: str = ""


def is_sqlite(url: str) -> bool:
    return url.startswith("sqlite")


def sqlite_path(url: str) -> Path:
    database = make_url(url).database
    if not database or database == ":memory:" or "mode=memory" in url:
        raise BackupError(f"{url} is an in-memory database: there is nothing on disk to back up or restore")
    return Path(database)


def revision_of(conn: sqlite3.Connection) -> str | None:
    found = conn.execute("SELECT name FROM sqlite_master WHERE type='table' AND name='alembic_version'").fetchone()
    if found is None:
        return None
    row = conn.execute("SELECT version_num FROM alembic_version").fetchone()
    return row[0] if row else None


def integrity(conn: sqlite3.Connection) -> str:
    return ", ".join(str(row[0]) for row in conn.execute("PRAGMA integrity_check"))


def backup_sqlite(url: str, target: Path) -> Outcome:
    source = sqlite_path(url)
    if not source.exists():
        raise BackupError(f"the database {source} does not exist")
    if target.resolve() == source.resolve():
        raise BackupError("the backup path is the database itself")
    partial = target.with_name(target.name + ".partial")  # a failed backup never leaves a file that looks whole
    partial.unlink(missing_ok=True)
    src = sqlite3.connect(f"file:{source}?mode=ro", uri=True, timeout=30)
    try:
        dst = sqlite3.connect(partial)
        try:
            src.backup(dst)  # pages=-1: every page in one step, one snapshot
            dst.execute("PRAGMA journal_mode=DELETE")  # one self-contained file, readable from read-only media
            check = integrity(dst)
            revision = revision_of(dst)
        finally:
            dst.close()
    finally:
        src.close()
    if check != "ok":
        partial.unlink(missing_ok=True)
        raise BackupError(f"the copy failed its integrity check ({check}); the database may be damaged")
    partial.replace(target)
    return Outcome(str(source), str(target), "sqlite", revision, "integrity check ok")


def other_sqlite_connections(path: Path) -> bool:
    """True when another connection has the database open. In WAL mode every open connection holds a
    shared lock that stops anyone leaving WAL mode: so try (a database nobody has open can leave WAL and
    is put back in it at once)."""
    conn = sqlite3.connect(path, timeout=0.5)
    try:
        mode = conn.execute("PRAGMA journal_mode").fetchone()[0]
        if mode != "wal":
            return False  # a gateway switches every database it opens to WAL: none has this one open now
        try:
            changed = conn.execute("PRAGMA journal_mode=DELETE").fetchone()[0]
        except sqlite3.OperationalError:  # "database is locked"
            return True
        if changed != "wal":
            conn.execute("PRAGMA journal_mode=WAL")
            return False
        return True
    finally:
        conn.close()


def restore_sqlite(url: str, backup: Path, *, force: bool) -> Outcome:
    target = sqlite_path(url)
    check_file(backup, SQLITE_MAGIC, "an SQLite database (a `switchpoint db backup` of an SQLite gateway)")
    src = sqlite3.connect(f"file:{backup}?mode=ro", uri=True)
    try:
        check = integrity(src)
        if check != "ok":
            raise BackupError(f"{backup} failed its integrity check ({check}); it was not restored")
        revision = revision_of(src)
        if target.exists() and other_sqlite_connections(target) and not force:
            raise BackupError(f"{target} is open in another process (a running gateway?). Stop the gateway "
                              "(and every `switchpoint` command using it) and run this again, or pass --force to "
                              "replace the contents under it (then restart it: its in-memory counters and caches "
                              "still describe the old data)")
        target.parent.mkdir(parents=True, exist_ok=True)
        dst = sqlite3.connect(target, timeout=30)
        try:
            src.backup(dst)  # one write transaction: readers see the old database or the restored one
            dst.execute("PRAGMA journal_mode=WAL")
        finally:
            dst.close()
    finally:
        src.close()
    return Outcome(str(backup), str(target), "sqlite", revision)


def check_file(path: Path, magic: bytes, what: str) -> None:
    if not path.is_file():
        raise BackupError(f"{path} does not exist")
    with path.open("rb") as file:
        head = file.read(len(magic))
    if head != magic:
        raise BackupError(f"{path} is not {what}")


# -- PostgreSQL ------------------------------------------------------------------------------------


def pg_tool(name: str) -> str:
    """`pg_dump` / `pg_restore` from $PATH, else the newest of Debian's /usr/lib/postgresql/*/bin."""
    found = shutil.which(name)
    if found:
        return found
    candidates = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"),
                        key=lambda p: [int(x) if x.isdigit() else x for x in Path(p).parts[-3].split(".")])
    if candidates:
        return candidates[-1]
    raise BackupError(f"{name} is not installed: install the PostgreSQL client tools (Debian: postgresql-client) "
                      "of the server's major version or newer")


def libpq_dsn(url: str) -> tuple[str, dict[str, str]]:
    """The URL as libpq reads it (no driver suffix, no password), and the environment with the password."""
    parsed = make_url(url)
    env = dict(os.environ)
    if parsed.password:
        env["PGPASSWORD"] = str(parsed.password)
    parsed = parsed.set(drivername="postgresql", password=None)
    return parsed.render_as_string(hide_password=False), env


def _run(command: list[str], env: dict[str, str]) -> None:
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise BackupError(f"{Path(command[0]).name} failed (exit {done.returncode}): {done.stderr.strip()}")


def backup_postgresql(url: str, target: Path) -> Outcome:
    dsn, env = libpq_dsn(url)
    partial = target.with_name(target.name + ".partial")
    partial.unlink(missing_ok=True)
    _run([pg_tool("pg_dump"), "--format=custom", f"--file={partial}", f"--dbname={dsn}"], env)
    partial.replace(target)
    return Outcome(dsn, str(target), "postgresql", None, "pg_dump --format=custom")


def backup(url: str, target: Path) -> Outcome:
    target.parent.mkdir(parents=True, exist_ok=True)
    return backup_sqlite(url, target) if is_sqlite(url) else backup_postgresql(url, target)


def restore_postgresql(url: str, backup_file: Path, *, force: bool, sessions: list[str]) -> Outcome:
    """`sessions`: the other sessions connected to the database (the caller asks PostgreSQL)."""
    check_file(backup_file, PG_DUMP_MAGIC, "a pg_dump custom-format archive (a `switchpoint db backup` of a "
               "PostgreSQL gateway)")
    dsn, env = libpq_dsn(url)
    if sessions and not force:
        raise BackupError(f"{len(sessions)} other session(s) are connected to the database ({', '.join(sessions)}): "
                          "stop every gateway replica using it and run this again, or pass --force to restore "
                          "under them (then restart them)")
    _run([pg_tool("pg_restore"), "--clean", "--if-exists", "--single-transaction", "--no-owner",
          f"--dbname={dsn}", str(backup_file)], env)
    return Outcome(str(backup_file), dsn, "postgresql", None, "pg_restore --clean --if-exists --single-transaction")


async def other_sessions(url: str) -> list[str]:
    """The other sessions connected to a PostgreSQL database, as `application (address)`."""
    from sqlalchemy import text  # noqa: PLC0415

    from .store import Store  # noqa: PLC0415

    store = Store(url)
    try:
        async with store.engine.connect() as conn:
            rows = (await conn.execute(text(
                "SELECT application_name, client_addr FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()"))).all()
    finally:
        await store.close()
    return [f"{name or 'unnamed'} ({address or 'local socket'})" for name, address in rows]
