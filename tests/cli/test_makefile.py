"""The Makefile's routines never touch the operator's data: the ledger (switchpoint.db and its -wal
and -shm), the ledger's spool and dead letters, a generation log written to a file, the config and
its .env."""

from __future__ import annotations

import fnmatch
import re
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DATA = ["switchpoint.db", "switchpoint.db-wal", "switchpoint.db-shm", "switchpoint.db-spool/ledger-1-2-3.jsonl",
        "switchpoint.db-spool/dead-letters.jsonl", "switchpoint-spool/postgresql-0123abcd/ledger-1-2-3.jsonl",
        "generations.jsonl", "switchpoint.yaml", ".env"]
pytestmark = pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")


def test_make_clean_keeps_the_data(tmp_path: Path) -> None:
    shutil.copy(ROOT / "Makefile", tmp_path / "Makefile")
    for name in DATA:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(b"data")
    for cache in (".venv", ".ruff_cache", ".pytest_cache"):
        (tmp_path / cache).mkdir()
    subprocess.run(["make", "clean"], cwd=tmp_path, check=True, capture_output=True, timeout=60)
    assert all((tmp_path / name).read_bytes() == b"data" for name in DATA)
    assert not any((tmp_path / cache).exists() for cache in (".venv", ".ruff_cache", ".pytest_cache"))


def targets() -> list[str]:
    phony = re.search(r"^\.PHONY:(.*)$", (ROOT / "Makefile").read_text(), re.M)
    assert phony
    return phony.group(1).split()


def test_no_target_removes_or_moves_data() -> None:
    """What every target would run (make -n: printed, not run), with each path an `rm` or `mv` names
    matched against the data's names."""
    checked = 0
    for target in targets():
        planned = subprocess.run(["make", "-n", "-B", target], cwd=ROOT, capture_output=True, text=True, timeout=60)
        assert planned.returncode == 0, planned.stderr
        for line in planned.stdout.splitlines():
            words = shlex.split(line, comments=True) if line.strip() else []
            for i, word in enumerate(words):
                if word not in ("rm", "mv", "shred", "truncate", "unlink"):
                    continue
                checked += 1
                paths = [arg for arg in words[i + 1:] if not arg.startswith("-")]
                for path in paths:
                    if path in ("&&", ";", "||"):
                        break
                    hits = [name for name in DATA if fnmatch.fnmatch(name, path) or name.startswith(path.rstrip("/") + "/")
                            or fnmatch.fnmatch(name.split("/")[0], path)]
                    assert not hits, f"make {target} runs `{line.strip()}`, which removes {hits}"
    assert checked  # make clean's rm at least was seen
