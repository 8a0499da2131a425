from __future__ import annotations

import json

from ..upstream import Reply
from .conftest import PATHS, answer_everywhere


def test_status_all_up(invoke, upstream) -> None:
    answer_everywhere(upstream)
    result = invoke("status", "--json")
    assert result.exit_code == 0, result.output
    statuses = {s["provider"]: s for s in json.loads(result.output)}
    assert set(statuses) == {"up", "backup", "router"}
    assert all(s["up"] and s["key"] == "accepted" and s["circuit"] == "closed" for s in statuses.values())
    assert [m["model"] for m in statuses["up"]["models"]] == ["test/gpt", "test/fallback"]
    assert statuses["up"]["latency_s"] > 0
    # each probe was pinned to its provider and asked for one token
    backup = upstream.hits(PATHS["backup"])
    assert len(backup) == 1 and backup[0].json["max_tokens"] == 1


def test_status_exits_1_when_a_provider_is_down(invoke, upstream) -> None:
    answer_everywhere(upstream)
    upstream.always(PATHS["backup"], Reply.file("openai/error_401_invalid_api_key.json", status=401))
    result = invoke("status", "--json")
    assert result.exit_code == 1
    statuses = {s["provider"]: s for s in json.loads(result.output)}
    assert not statuses["backup"]["up"] and statuses["backup"]["key"] == "rejected"
    assert statuses["up"]["up"] and statuses["router"]["up"]
    table = invoke("status")
    assert table.exit_code == 1 and "down" in table.output and "rejected" in table.output


def test_status_with_a_wrong_gateway_key_says_so(invoke, upstream, monkeypatch) -> None:
    answer_everywhere(upstream)
    monkeypatch.setenv("SWITCHPOINT_API_KEY", "sk-sp-v1-" + "0" * 64)
    result = invoke("status")
    assert result.exit_code == 1
    assert "refused SWITCHPOINT_API_KEY (401: Invalid API key)" in result.output
    assert "not of a provider" in result.output and "rejected" not in result.output
    assert not upstream.received  # no provider was probed


def test_status_of_an_unknown_provider_fails(invoke, upstream) -> None:
    answer_everywhere(upstream)
    result = invoke("status", "-p", "nosuch", "-p", "up")
    assert result.exit_code == 1
    assert "no provider nosuch with models on the gateway; it has backup, router, up" in result.output
    assert not upstream.received
