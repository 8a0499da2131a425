"""The Makefile's routines never touch the operator's data."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
def test_make_clean_keeps_the_ledger_and_keys(tmp_path: Path) -> None:
    shutil.copy(ROOT / "Makefile", tmp_path / "Makefile")
    data = [tmp_path / name for name in ("switchpoint.db", "switchpoint.db-wal", "switchpoint.db-shm")]
    for path in data:
        path.write_bytes(b"ledger")
    (tmp_path / ".venv").mkdir()
    (tmp_path / ".ruff_cache").mkdir()
    subprocess.run(["make", "clean"], cwd=tmp_path, check=True, capture_output=True, timeout=60)
    assert all(path.read_bytes() == b"ledger" for path in data)
    assert not (tmp_path / ".venv").exists() and not (tmp_path / ".ruff_cache").exists()
