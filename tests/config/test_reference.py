"""docs/reference.md is scripts/config-reference.py's output for the schema as it is: a setting added,
renamed or given a new default without `make reference` fails here. And the environment variables it
lists do what it says."""

from __future__ import annotations

import runpy
import subprocess
import sys
from pathlib import Path

import yaml

from switchpoint.config import load_config

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "config-reference.py"


def test_the_committed_reference_matches_the_schema():
    made = subprocess.run([sys.executable, str(SCRIPT)], capture_output=True, text=True, timeout=60, check=True)
    committed = (ROOT / "docs" / "reference.md").read_text()
    assert made.stdout == committed, "docs/reference.md is out of date with the config schema: run `make reference`"


def test_every_note_names_a_setting_of_the_schema():
    script = runpy.run_path(str(SCRIPT))
    settings = {row[0] for row in script["rows"](script["Config"])}
    assert set(script["NOTES"]) - settings == set()  # a note left behind by a renamed or removed setting


def test_listen_comes_from_the_environment_unless_the_file_sets_it(tmp_path: Path):
    path = tmp_path / "switchpoint.yaml"
    path.write_text(yaml.safe_dump({"providers": {}}))
    assert load_config(path, env={"SWITCHPOINT_LISTEN": "0.0.0.0:9000"}).listen == "0.0.0.0:9000"
    assert load_config(None, env={"SWITCHPOINT_LISTEN": "0.0.0.0:9000"}).port == 9000
    path.write_text(yaml.safe_dump({"providers": {}, "listen": "127.0.0.1:8081"}))
    assert load_config(path, env={"SWITCHPOINT_LISTEN": "0.0.0.0:9000"}).listen == "127.0.0.1:8081"
