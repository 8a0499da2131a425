"""Teams and key policies in switchpoint.yaml: accepted, and every mistake reported with its path."""

from __future__ import annotations

import pytest

from switchpoint.config import load_config
from switchpoint.errors import ConfigError


def write(tmp_path, text: str):
    path = tmp_path / "switchpoint.yaml"
    path.write_text(text)
    return str(path)


def test_teams_and_key_policies_are_read(tmp_path):
    config = load_config(write(tmp_path, """
teams:
  - name: platform
    limit: 50
    limit_reset: monthly
    rate_limit: {requests: 600, interval: 1m}
    token_limit: {tokens: 2000000, interval: 1h}
    models: ["openai/*", "anthropic/claude-*"]
    providers: [openai, anthropic]
    max_price: {prompt: 5, completion: 15}
keys:
  - name: ci
    key: sk-sp-v1-ci-0123456789abcdef
    team: platform
    models: [openai/gpt-4o-mini]
    max_price: {completion: 1}
"""), env={})
    team = config.teams[0]
    assert (team.name, team.limit, team.limit_reset, team.rate_limit.requests, team.token_limit.interval) == \
        ("platform", 50, "monthly", 600, 3600)
    assert team.models == ["openai/*", "anthropic/claude-*"] and team.max_price.completion == 15
    key = config.keys[0]
    assert (key.team, key.models, key.providers, key.max_price.prompt, key.max_price.completion) == \
        ("platform", ["openai/gpt-4o-mini"], None, None, 1)


def test_team_mistakes_are_reported_with_their_paths(tmp_path):
    text = """
teams:
  - {name: ops, budget: 5, max_price: {prompt: 1, input: 2}, limit_reset: yearly}
  - {name: ops}
  - {name: "bad name"}
keys:
  - {name: a, key: sk-sp-v1-a-0123456789abcdef, team: nobody, allowed_models: [x/y]}
"""
    with pytest.raises(ConfigError) as caught:
        load_config(write(tmp_path, text), env={})
    problems = dict(caught.value.problems)
    assert problems["teams[0].budget"] == "unknown setting"
    assert problems["teams[0].max_price.input"] == "unknown setting"
    assert "teams[0].limit_reset" in problems
    assert "teams[2].name" in problems
    assert problems["keys[0].allowed_models"] == "unknown setting"


def test_a_key_must_name_a_team_of_the_file(tmp_path):
    text = """
teams: [{name: ops}, {name: ops}]
keys: [{name: a, key: sk-sp-v1-a-0123456789abcdef, team: web}]
"""
    with pytest.raises(ConfigError) as caught:
        load_config(write(tmp_path, text), env={})
    problems = dict(caught.value.problems)
    assert problems["teams[1].name"] == "duplicate team name 'ops'"
    assert problems["keys[0].team"] == "unknown team 'web' (teams: ops, ops)"
