"""The core commands: keys, query, models, usage — run as a user would, as subprocesses."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import yaml

from .upstream import Reply


def run(args: list[str], env_extra: dict[str, str] | None = None, cwd: str | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "NO_COLOR": "1", "COLUMNS": "200", **(env_extra or {})}
    return subprocess.run([sys.executable, "-m", "switchpoint.cli.main", *args], capture_output=True, text=True,
                          env=env, cwd=cwd, timeout=60)


def test_keys_create_list_revoke(tmp_path):
    (tmp_path / "switchpoint.yaml").write_text(yaml.safe_dump({"database": f"sqlite:///{tmp_path / 'k.db'}",
                                                               "providers": {}}))
    created = run(["keys", "create", "alice", "--limit", "2.5", "--limit-reset", "daily"], cwd=str(tmp_path))
    assert created.returncode == 0, created.stderr
    key = created.stdout.strip().splitlines()[-1]
    assert key.startswith("sk-sp-v1-")
    listing = run(["keys", "list", "--json"], cwd=str(tmp_path))
    [row] = json.loads(listing.stdout)
    assert row["name"] == "alice" and row["limit"] == 2.5 and row["limit_reset"] == "daily"
    assert key not in listing.stdout
    assert run(["keys", "revoke", "alice"], cwd=str(tmp_path)).returncode == 0
    assert json.loads(run(["keys", "list", "--json"], cwd=str(tmp_path)).stdout) == []
    missing = run(["keys", "revoke", "alice"], cwd=str(tmp_path))
    assert missing.returncode == 1 and "no key named" in missing.stderr


def test_query_and_models_against_a_running_gateway(gateway, upstream):
    from .conftest import TEST_KEY

    env = {"SWITCHPOINT_URL": gateway.url, "SWITCHPOINT_API_KEY": TEST_KEY}
    upstream.queue("/v1/chat/completions", Reply.file("openai/chat_text.response.json"))
    result = run(["query", "What's the weather?", "-m", "test/gpt", "--no-stream"], env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("I'm unable to provide real-time weather")
    assert "test/gpt via up" in result.stderr

    upstream.queue("/v1/chat/completions", Reply.sse("openai/chat_stream_text_usage.sse"))
    streamed = run(["query", "hi", "-m", "test/gpt", "-s", "be brief"], env)
    assert streamed.returncode == 0 and streamed.stdout.strip()
    assert upstream.hits("/v1/chat/completions")[-1].json["messages"][0] == {"role": "system", "content": "be brief"}

    upstream.queue("/v1/chat/completions", Reply.file("openai/chat_text.response.json"))
    as_json = json.loads(run(["query", "x", "-m", "test/gpt", "--json"], env).stdout)
    assert as_json["provider"] == "up" and as_json["id"].startswith("gen-")

    models = json.loads(run(["models", "--json"], env).stdout)
    assert {m["id"] for m in models} == {"test/gpt", "test/fallback", "test/routed", "test/embed", "switchpoint/auto"}
    table = run(["models"], env).stdout
    assert "test/gpt" in table and "0.15" in table and "0.60" in table
    [auto] = [line.split() for line in table.splitlines() if line.split()[:1] == ["switchpoint/auto"]]
    assert auto[2:4] == ["varies", "varies"]  # priced by the model it picks, not "-1000000.00"

    failing = run(["query", "x", "-m", "nobody/nothing"], env)
    assert failing.returncode == 1 and "nobody/nothing is not a valid model ID" in failing.stderr


def test_usage_report(gateway, upstream, client, tmp_path):
    upstream.always("/v1/chat/completions", Reply.file("openai/chat_text.response.json"))
    for _ in range(3):
        client.chat.completions.create(model="test/gpt", messages=[{"role": "user", "content": "x"}])
    gateway.flush()
    config = tmp_path / "usage.yaml"
    config.write_text(yaml.safe_dump({"database": gateway.config.database, "providers": {}}))
    report = json.loads(run(["usage", "--by", "model", "--json", "--config", str(config)]).stdout)
    assert report == [{"model": "test/gpt", "requests": 3, "errors": 0, "cache_hits": 0, "prompt_tokens": 42,
                       "completion_tokens": 111, "reasoning_tokens": 0,
                       "cost": round(3 * (14 * 0.00000015 + 37 * 0.0000006), 9), "markup": 0.0}]
    by_key = json.loads(run(["usage", "--by", "key", "--json", "--config", str(config)]).stdout)
    assert by_key[0]["key"] == "test"
    assert "test/gpt" in run(["usage", "--config", str(config), "--since", "1d"]).stdout


def test_the_cli_finds_the_gateway_at_the_configs_listen_address(tmp_path, monkeypatch):
    from switchpoint.cli.common import gateway_url

    monkeypatch.delenv("SWITCHPOINT_URL", raising=False)
    monkeypatch.delenv("SWITCHPOINT_CONFIG", raising=False)
    monkeypatch.chdir(tmp_path)
    assert gateway_url() == "http://127.0.0.1:8080"  # no config: the default
    (tmp_path / "switchpoint.yaml").write_text("listen: 127.0.0.1:18080\n")
    assert gateway_url() == "http://127.0.0.1:18080"
    other = tmp_path / "other.yaml"
    other.write_text("listen: 0.0.0.0:9000\nproviders: {}\n")
    monkeypatch.setenv("SWITCHPOINT_CONFIG", str(other))
    assert gateway_url() == "http://127.0.0.1:9000"  # every interface: reached on loopback
    monkeypatch.setenv("SWITCHPOINT_URL", "http://gw.internal:8080/")
    assert gateway_url() == "http://gw.internal:8080"


def clean_env() -> dict[str, str]:
    """No config or database named by the environment: the commands look where they run."""
    return {"SWITCHPOINT_CONFIG": "", "SWITCHPOINT_DATABASE": ""}


def test_commands_use_the_database_of_the_config_serve_uses(tmp_path):
    from switchpoint.config import load_config

    project, elsewhere = tmp_path / "project", tmp_path / "elsewhere"
    project.mkdir()
    elsewhere.mkdir()
    config = project / "switchpoint.yaml"
    config.write_text(yaml.safe_dump({"database": "sqlite:///switchpoint.db", "providers": {}}))
    served = load_config(config, env={}).database  # what `serve --config` opens, wherever it runs
    assert served == f"sqlite:///{project / 'switchpoint.db'}"
    created = run(["keys", "create", "alice"], {**clean_env(), "SWITCHPOINT_CONFIG": str(config)}, cwd=str(elsewhere))
    assert created.returncode == 0, created.stderr
    assert f"database: {served} (from {config})" in created.stderr
    assert (project / "switchpoint.db").exists() and not list(elsewhere.iterdir())
    listing = run(["keys", "list", "--json", "--config", str(config)], clean_env(), cwd=str(tmp_path))
    assert [k["name"] for k in json.loads(listing.stdout)] == ["alice"]
    assert not (tmp_path / "switchpoint.db").exists()


def test_without_a_config_or_a_database_commands_do_not_create_one(tmp_path):
    for args in (["keys", "create", "alice"], ["keys", "list"], ["usage"]):
        refused = run(args, clean_env(), cwd=str(tmp_path))
        assert refused.returncode == 1
        assert f"no switchpoint.yaml (--config, $SWITCHPOINT_CONFIG or ./switchpoint.yaml) and no switchpoint.db in " \
               f"{tmp_path}" in refused.stderr
    assert not list(tmp_path.iterdir())
    # where the gateway ran on its defaults, the commands use its ./switchpoint.db
    assert run(["db", "upgrade"], clean_env(), cwd=str(tmp_path)).returncode == 0
    created = run(["keys", "create", "alice"], clean_env(), cwd=str(tmp_path))
    assert created.returncode == 0 and "database: sqlite:///switchpoint.db (built-in default" in created.stderr


def test_a_key_from_the_config_is_not_revoked_behind_its_back(tmp_path):
    import asyncio

    from switchpoint.config import load_config
    from switchpoint.server.services import prepare_database

    config = tmp_path / "switchpoint.yaml"
    settings = {"database": "sqlite:///switchpoint.db", "providers": {},
                "keys": [{"name": "ci", "key": "sk-sp-v1-" + "c" * 40}]}
    config.write_text(yaml.safe_dump(settings))
    asyncio.run(prepare_database(load_config(config, env={})))  # as `serve` does at start
    refused = run(["keys", "revoke", "ci"], clean_env(), cwd=str(tmp_path))
    assert refused.returncode == 1
    assert "key 'ci' is defined in switchpoint.yaml (keys:), so every start stores it again" in refused.stderr
    [listed] = json.loads(run(["keys", "list", "--json"], clean_env(), cwd=str(tmp_path)).stdout)
    assert (listed["name"], listed["disabled"]) == ("ci", False)
    # removed from the config: the next start disables it, and then it can be deleted
    config.write_text(yaml.safe_dump({**settings, "keys": []}))
    asyncio.run(prepare_database(load_config(config, env={})))
    [listed] = json.loads(run(["keys", "list", "--json"], clean_env(), cwd=str(tmp_path)).stdout)
    assert listed["disabled"] is True
    assert run(["keys", "revoke", "ci"], clean_env(), cwd=str(tmp_path)).returncode == 0


def test_config_check_reports_every_problem_at_once(tmp_path):
    config = tmp_path / "switchpoint.yaml"
    config.write_text(yaml.safe_dump({
        "listen": "nohost", "admin_key": "short",
        "providers": {"a": {"type": "openai", "base_url": "http://a/v1", "api_key": "${UNSET_FOR_TEST}",
                            "timeout": "abc"},
                      "b": {"type": "openai", "base_url": "http://b/v1", "api_key": "k"}},
        "models": [{"id": "v/m", "endpoints": [{"provider": "nosuch", "model": "m"},
                                               {"provider": "a", "model": "m", "pricing": {"prompt": "0.1",
                                                                                         "completion": "0.2"}}]}],
        "keys": [{"name": "x", "key": "sk-sp-v1-" + "a" * 40}, {"name": "x", "key": "sk-sp-v1-" + "b" * 40}],
    }))
    result = run(["config", "check"], {**clean_env(), "COLUMNS": "40"}, cwd=str(tmp_path))
    assert result.returncode == 1
    assert [line.split(":")[0] for line in result.stderr.splitlines()] == [
        "warning models[0].endpoints[0]", "warning admin_key", "error providers.a.api_key",
        "error providers.a.timeout", "error models[0].endpoints[0].provider", "error keys[1].name", "error listen"]
    assert "no pricing, so requests to v/m via nosuch cost nothing" in result.stderr
    assert "admin_key: 5 characters; use at least 32" in result.stderr
