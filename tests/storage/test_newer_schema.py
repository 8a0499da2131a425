"""A database a newer Switchpoint migrated (a revision this version does not ship) is refused by `serve`
and by every command that opens it, with a message saying what to do, and is left untouched."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from sqlalchemy import text

from switchpoint.storage import Store, migrate

from ..conftest import free_port

NEWER = "9001_from_the_future"


def cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "switchpoint.cli.main", *args], capture_output=True, text=True,
                          cwd=cwd, timeout=60, check=False)


async def migrated_by_a_newer_version(url: str) -> None:
    store = Store(url)
    try:
        await migrate.upgrade(store.engine)
        async with store.engine.begin() as conn:
            await conn.execute(text("CREATE TABLE future_things (id INTEGER PRIMARY KEY)"))
            await conn.execute(text("UPDATE alembic_version SET version_num = :v"), {"v": NEWER})
    finally:
        await store.close()


async def revision_of(url: str) -> str | None:
    store = Store(url)
    try:
        return await migrate.current(store.engine)
    finally:
        await store.close()


def assert_refused(done: subprocess.CompletedProcess[str]) -> None:
    output = done.stdout + done.stderr
    assert done.returncode != 0, output
    assert f"the database schema is at revision {NEWER}, which this Switchpoint does not know" in output
    assert f"its newest is {migrate.HEAD}" in output
    assert "Upgrade Switchpoint to that version" in output
    assert "restore a backup made by this version (`switchpoint db restore PATH`)" in output
    assert "Traceback" not in output


@pytest.fixture(params=["sqlite", "postgresql"])
def newer_database(request: pytest.FixtureRequest, tmp_path: Path, loop_thread) -> tuple[Path, str]:
    url = (f"sqlite:///{tmp_path / 'ledger.db'}" if request.param == "sqlite"
           else request.getfixturevalue("postgres_url"))
    loop_thread.run(migrated_by_a_newer_version(url))
    config = tmp_path / "switchpoint.yaml"
    config.write_text(yaml.safe_dump({"database": url, "providers": {},
                                      "keys": [{"name": "ci", "key": "sk-sp-v1-ci-0123456789abcdef"}]}))
    return config, url


def test_serve_refuses_a_newer_schema(newer_database: tuple[Path, str], tmp_path: Path, loop_thread) -> None:
    config, url = newer_database
    done = cli("serve", "--config", str(config), "--port", str(free_port()), cwd=tmp_path)
    assert_refused(done)
    assert loop_thread.run(revision_of(url)) == NEWER  # untouched: the config's key was not written either


@pytest.mark.parametrize("command", [["keys", "list"], ["keys", "create", "new-app"], ["usage"], ["db", "upgrade"],
                                     ["db", "current"], ["db", "replay"]])
def test_commands_that_open_the_database_refuse_a_newer_schema(newer_database: tuple[Path, str], tmp_path: Path,
                                                               command: list[str], loop_thread) -> None:
    config, url = newer_database
    done = cli(*command, "--config", str(config), cwd=tmp_path)
    assert_refused(done)
    assert loop_thread.run(revision_of(url)) == NEWER
