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

