"""deploy/switchpoint.service: `systemd-analyze verify` accepts it (every directive known, every
value valid, the command present), and `systemd-analyze security` rates it as docs/deployment.md
says. Both read the unit file offline: no systemd needs to be running. The unit's command is pointed
at the `switchpoint` installed beside these tests, as /opt/switchpoint/bin/switchpoint would be."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
UNIT = ROOT / "deploy" / "switchpoint.service"
INSTALLED = "/opt/switchpoint/bin/switchpoint"


@pytest.fixture
def unit(tmp_path: Path) -> Path:
    if shutil.which("systemd-analyze") is None:
        pytest.fail("systemd-analyze is not installed: scripts/system-deps.sh installs systemd")
    command = Path(sys.executable).parent / "switchpoint"
    assert command.exists(), f"{command}: switchpoint is not installed beside the test's Python"
    text = UNIT.read_text()
    assert INSTALLED in text
    path = tmp_path / "switchpoint.service"
    path.write_text(text.replace(INSTALLED, str(command)))
    return path


def directives(path: Path) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for line in path.read_text().splitlines():
        if "=" in line and not line.lstrip().startswith(("#", ";")):
            name, _, value = line.partition("=")
            found.setdefault(name.strip(), []).append(value.strip())
    return found


def test_systemd_accepts_the_unit(unit: Path):
    verified = subprocess.run(["systemd-analyze", "verify", str(unit)], capture_output=True, text=True, timeout=60)
    problems = [line for line in (verified.stdout + verified.stderr).splitlines() if "switchpoint" in line]
    assert verified.returncode == 0 and not problems, verified.stdout + verified.stderr
    settings = directives(unit)
    assert settings["Restart"] == ["on-failure"]
    assert settings["ExecReload"] == ["/bin/kill -HUP $MAINPID"]
    assert settings["StateDirectory"] == ["switchpoint"] and settings["DynamicUser"] == ["yes"]
    assert settings["CapabilityBoundingSet"] == [""] and settings["ProtectSystem"] == ["strict"]
    assert settings["SystemCallFilter"][0] == "@system-service"


def test_the_security_rating_is_the_documented_one(unit: Path):
    rated = subprocess.run(["systemd-analyze", "security", "--offline=yes", "--no-pager", str(unit)],
                           capture_output=True, text=True, timeout=60)
    assert rated.returncode == 0, rated.stdout + rated.stderr
    level = re.search(r"Overall exposure level for switchpoint\.service: (\d+\.\d) (\w+)", rated.stdout)
    assert level, rated.stdout[-2000:]
    documented = (ROOT / "docs" / "deployment.md").read_text()
    assert f"exposure level {level.group(1)} {level.group(2)}" in documented, \
        f"systemd-analyze security rates the unit {level.group(1)} {level.group(2)}: update docs/deployment.md"
