"""Which database the commands open (the one of the config `serve` uses), keys that come from the
config, and `config check`. In-process (click's runner) with the working folder and environment of
each case."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner, Result

from switchpoint.cli.main import cli
from switchpoint.config import load_config
from switchpoint.server.services import prepare_database


@pytest.fixture
def run(monkeypatch: pytest.MonkeyPatch):
    """Run a command in a folder, with no config or database named by the environment."""
    for var in ("SWITCHPOINT_CONFIG", "SWITCHPOINT_DATABASE", "SWITCHPOINT_ADMIN_KEY"):
        monkeypatch.delenv(var, raising=False)

    def invoke(args: list[str], cwd: Path, **env: str) -> Result:
        monkeypatch.chdir(cwd)
        return CliRunner().invoke(cli, args, env=env or None, catch_exceptions=False)

    return invoke


def test_commands_use_the_database_of_the_config_serve_uses(run, tmp_path: Path) -> None:
    project, elsewhere = tmp_path / "project", tmp_path / "elsewhere"
    project.mkdir()
    elsewhere.mkdir()
    config = project / "switchpoint.yaml"
    config.write_text(yaml.safe_dump({"database": "sqlite:///switchpoint.db", "providers": {}}))
    served = load_config(config, env={}).database  # what `serve --config` opens, wherever it runs
    assert served == f"sqlite:///{project / 'switchpoint.db'}"
    created = run(["keys", "create", "alice"], elsewhere, SWITCHPOINT_CONFIG=str(config))
    assert created.exit_code == 0, created.output
    assert f"database: {served} (from {config})" in created.stderr
    assert (project / "switchpoint.db").exists() and not list(elsewhere.iterdir())
    listing = run(["keys", "list", "--json", "--config", str(config)], tmp_path)
    assert [k["name"] for k in json.loads(listing.stdout)] == ["alice"]
    assert not (tmp_path / "switchpoint.db").exists()


def test_without_a_config_or_a_database_commands_do_not_create_one(run, tmp_path: Path) -> None:
    for args in (["keys", "create", "alice"], ["keys", "list"], ["keys", "revoke", "alice"], ["usage"],
                 ["db", "current"]):
        refused = run(args, tmp_path)
        assert refused.exit_code == 1
        assert (f"no switchpoint.yaml (--config, $SWITCHPOINT_CONFIG or ./switchpoint.yaml) and no switchpoint.db "
                f"in {tmp_path}") in refused.stderr
    assert not list(tmp_path.iterdir())
    # where the gateway ran on its defaults, the commands use its ./switchpoint.db
    assert run(["db", "upgrade"], tmp_path).exit_code == 0
    created = run(["keys", "create", "alice"], tmp_path)
    assert created.exit_code == 0 and "database: sqlite:///switchpoint.db (built-in default" in created.stderr


def test_a_key_from_the_config_is_not_revoked_behind_its_back(run, tmp_path: Path) -> None:
    config = tmp_path / "switchpoint.yaml"
    settings = {"database": "sqlite:///switchpoint.db", "providers": {},
                "keys": [{"name": "ci", "key": "sk-sp-v1-" + "c" * 40}]}
    config.write_text(yaml.safe_dump(settings))
    asyncio.run(prepare_database(load_config(config, env={})))  # as `serve` does at start
    refused = run(["keys", "revoke", "ci"], tmp_path)
    assert refused.exit_code == 1
    assert "key 'ci' is defined in switchpoint.yaml (keys:), so every start stores it again" in refused.stderr
    [listed] = json.loads(run(["keys", "list", "--json"], tmp_path).stdout)
    assert (listed["name"], listed["disabled"]) == ("ci", False)
    # removed from the config: the next start disables it, and then it can be deleted
    config.write_text(yaml.safe_dump({**settings, "keys": []}))
    asyncio.run(prepare_database(load_config(config, env={})))
    [listed] = json.loads(run(["keys", "list", "--json"], tmp_path).stdout)
    assert listed["disabled"] is True
    assert run(["keys", "revoke", "ci"], tmp_path).exit_code == 0


def test_config_check_reports_every_problem_at_once(run, tmp_path: Path) -> None:
    (tmp_path / "switchpoint.yaml").write_text(yaml.safe_dump({
        "listen": "nohost", "admin_key": "short",
        "providers": {"a": {"type": "openai", "base_url": "http://a/v1", "api_key": "${UNSET_FOR_TEST}",
                            "timeout": "abc"},
                      "b": {"type": "openai", "base_url": "http://b/v1", "api_key": "k"}},
        "models": [{"id": "v/m", "endpoints": [{"provider": "nosuch", "model": "m"},
                                               {"provider": "a", "model": "m", "pricing": {"prompt": "0.1",
                                                                                         "completion": "0.2"}}]}],
        "keys": [{"name": "x", "key": "sk-sp-v1-" + "a" * 40}, {"name": "x", "key": "sk-sp-v1-" + "b" * 40}],
    }))
    result = run(["config", "check"], tmp_path, COLUMNS="40")
    assert result.exit_code == 1
    assert [line.split(":")[0] for line in result.stderr.splitlines()] == [
        "warning models[0].endpoints[0]", "warning admin_key", "error providers.a.api_key",
        "error providers.a.timeout", "error models[0].endpoints[0].provider", "error keys[1].name", "error listen"]
    assert "no pricing, so requests to v/m via nosuch cost nothing" in result.stderr
    assert "admin_key: 5 characters; use at least 32" in result.stderr
