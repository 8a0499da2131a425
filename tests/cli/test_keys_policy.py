"""`switchpoint keys create/update` with a team and an access policy, and `switchpoint usage --by team`,
run as a user would (subprocesses), against the database a gateway uses."""

from __future__ import annotations

import json

import openai
import pytest
import yaml

from ..upstream import Reply
from .test_cli_core import run

ASK = [{"role": "user", "content": "x"}]


def test_keys_create_and_update_set_team_and_policy(gateway, upstream, tmp_path):
    from ..server.test_keys_api import call

    upstream.always("/v1/chat/completions", Reply.file("openai/chat_text.response.json"))
    assert call(gateway, "POST", "/api/v1/teams", {"name": "ops"})[0] == 201
    config = tmp_path / "switchpoint.yaml"
    config.write_text(yaml.safe_dump({"database": gateway.config.database, "providers": {}}))
    base = ["--config", str(config)]

    created = run(["keys", "create", "alice", "--team", "ops", "--model", "test/fall*", "--model", "test/gpt",
                   "--provider", "backup", "--max-prompt-price", "0.5", "--json", *base])
    assert created.returncode == 0, created.stderr
    made = json.loads(created.stdout)
    assert (made["team"], made["models"], made["providers"], made["max_price"]) == \
        ("ops", ["test/fall*", "test/gpt"], ["backup"], {"prompt": 0.5})
    key = made["key"]
    client = openai.OpenAI(base_url=f"{gateway.url}/api/v1", api_key=key, max_retries=0)
    with pytest.raises(openai.PermissionDeniedError):  # test/gpt has no endpoint on `backup`
        client.chat.completions.create(model="test/gpt", messages=ASK)

    missing = run(["keys", "create", "bob", "--team", "nope", *base])
    assert missing.returncode == 1 and "unknown team 'nope'" in missing.stderr

    updated = run(["keys", "update", "alice", "--any-provider", "--no-max-price", "--model", "test/gpt", "--json",
                   *base])
    assert updated.returncode == 0, updated.stderr
    after = json.loads(updated.stdout)
    assert (after["team"], after["models"], after["providers"], after["max_price"]) == \
        ("ops", ["test/gpt"], None, None)
    # the gateway's key cache lives 5 s; the change reaches it through the database
    gateway.call(_forget, gateway, made["hash"])
    assert client.chat.completions.create(model="test/gpt", messages=ASK).provider == "up"

    limited = json.loads(run(["keys", "update", made["hash"][:10], "--limit", "2", "--limit-reset", "daily",
                              "--no-team", "--json", *base]).stdout)
    assert (limited["limit"], limited["limit_reset"], limited["team"]) == (2, "daily", None)
    listing = json.loads(run(["keys", "list", "--json", *base]).stdout)
    assert {r["name"]: r["team"] for r in listing} == {"alice": None, "test": None}
    assert run(["keys", "update", "nobody", "--limit", "1", *base]).returncode == 1


def test_keys_update_sets_and_clears_end_user_limits(gateway, tmp_path):
    from ..server.test_keys_api import call

    config = tmp_path / "switchpoint.yaml"
    config.write_text(yaml.safe_dump({"database": gateway.config.database, "providers": {}}))
    base = ["--config", str(config)]
    made = json.loads(run(["keys", "create", "reseller", "--json", *base]).stdout)
    set_ = run(["keys", "update", "reseller", "--user-limit", "0.25", "--user-rate-limit", "10/1m", "--json", *base])
    assert set_.returncode == 0, set_.stderr
    after = json.loads(set_.stdout)
    assert (after["user_limit"], after["user_rate_limit"]) == (0.25, {"requests": 10, "interval": 60.0})
    gateway.call(_forget, gateway, made["hash"])
    status, body = call(gateway, "GET", f"/api/v1/keys/{made['hash']}")
    assert status == 200
    assert (body["data"]["user_limit"], body["data"]["user_rate_limit"]) == (0.25, {"requests": 10, "interval": "60s"})
    cleared = json.loads(run(["keys", "update", "reseller", "--no-user-limit", "--user-rate-limit", "0", "--json",
                              *base]).stdout)
    assert (cleared["user_limit"], cleared["user_rate_limit"]) == (None, None)
    bad = run(["keys", "update", "reseller", "--user-rate-limit", "ten", *base])
    assert bad.returncode == 2 and "N/INTERVAL" in bad.stderr


async def _forget(gateway, key_hash: str) -> None:
    gateway.services.keys.forget(key_hash)


def test_usage_by_team(gateway, upstream, tmp_path):
    from ..server.test_keys_api import call

    upstream.always("/v1/chat/completions", Reply.file("openai/chat_text.response.json"))
    call(gateway, "POST", "/api/v1/teams", {"name": "ops"})
    keys = [call(gateway, "POST", "/api/v1/keys", {"name": f"k{i}", "team": "ops"})[1]["key"] for i in range(2)]
    for key in (*keys, keys[0]):
        openai.OpenAI(base_url=f"{gateway.url}/api/v1", api_key=key, max_retries=0).chat.completions.create(
            model="test/gpt", messages=ASK)
    gateway.flush()
    config = tmp_path / "switchpoint.yaml"
    config.write_text(yaml.safe_dump({"database": gateway.config.database, "providers": {}}))
    report = json.loads(run(["usage", "--by", "team", "--json", "--config", str(config)]).stdout)
    assert [(r["team"], r["requests"]) for r in report] == [("ops", 3)]
    table = run(["usage", "--by", "team", "--config", str(config)]).stdout
    assert "ops" in table and "3" in table
    only = json.loads(run(["usage", "--by", "model", "--team", "ops", "--json", "--config", str(config)]).stdout)
    assert [(r["model"], r["requests"]) for r in only] == [("test/gpt", 3)]
    none = json.loads(run(["usage", "--by", "model", "--team", "web", "--json", "--config", str(config)]).stdout)
    assert none == []
