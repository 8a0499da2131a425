"""Governance through the admin API: strict bodies (a 400 naming every unknown field), OpenRouter's
optional key fields honoured or listed in `metadata.ignored`, key access policies enforced before any
upstream call and reflected in the model listings, and teams (CRUD, shared budget, rate limits,
policy, reports)."""

from __future__ import annotations

import openai
import pytest

from ..conftest import TEST_KEY
from ..upstream import Reply
from .test_keys_api import call, chat

ASK = [{"role": "user", "content": "hi"}]


def make_key(gateway, **fields) -> tuple[str, dict]:
    status, created = call(gateway, "POST", "/api/v1/keys", {"name": "k", **fields})
    assert status == 201, created
    return created["key"], created["data"]


def test_unknown_fields_are_400s_naming_them(gateway):
    status, body = call(gateway, "POST", "/api/v1/keys", {"name": "x", "allowed_models": ["test/gpt"]})
    assert status == 400
    assert body["error"]["message"] == "Unknown field: allowed_models"
    assert body["error"]["metadata"]["unknown_fields"] == ["allowed_models"]
    status, body = call(gateway, "POST", "/api/v1/keys", {"name": "x", "limitt": 5, "modles": [],
                                                          "external": {"user": "u", "emial": "e"}})
    assert status == 400
    assert set(body["error"]["metadata"]["unknown_fields"]) == {"limitt", "modles", "external.emial"}
    assert call(gateway, "GET", "/api/v1/keys")[1]["data"][0]["name"] == "test"  # nothing was created

    _, data = make_key(gateway)
    status, body = call(gateway, "PATCH", f"/api/v1/keys/{data['hash']}", {"allowed_models": ["x/y"]})
    assert (status, body["error"]["metadata"]["unknown_fields"]) == (400, ["allowed_models"])
    status, body = call(gateway, "POST", "/api/v1/keys", {"name": "x", "max_price": {"prompt": 1, "input": 2}})
    assert (status, body["error"]["metadata"]["unknown_fields"]) == (400, ["max_price.input"])
    status, body = call(gateway, "POST", "/api/v1/teams", {"name": "t", "budget": 5})
    assert (status, body["error"]["message"]) == (400, "Unknown field: budget")
    status, body = call(gateway, "POST", "/api/v1/teams", {"name": "t", "rate_limit": {"requests": 5, "per": "1m"}})
    assert (status, body["error"]["metadata"]["unknown_fields"]) == (400, ["rate_limit.per"])


def test_openrouters_optional_key_fields_are_honoured_or_listed_as_ignored(gateway):
    status, created = call(gateway, "POST", "/api/v1/keys", {
        "name": "or", "limit": 3, "limit_reset": "weekly", "expires_at": "2099-01-01T00:00:00Z",
        "include_byok_in_limit": True, "creator_user_id": "user_123",
        "workspace_id": "00000000-0000-0000-0000-000000000000"})
    assert status == 201
    assert created["metadata"] == {"ignored": ["include_byok_in_limit", "creator_user_id"]}
    data = created["data"]
    assert (data["limit"], data["limit_reset"], data["expires_at"]) == (3, "weekly", "2099-01-01T00:00:00.000Z")
    status, patched = call(gateway, "PATCH", f"/api/v1/keys/{data['hash']}",
                           {"include_byok_in_limit": False, "expires_at": None, "name": "or2"})
    assert status == 200 and patched["metadata"] == {"ignored": ["include_byok_in_limit"]}
    assert patched["data"]["expires_at"] is None and patched["data"]["name"] == "or2"
    status, plain = call(gateway, "POST", "/api/v1/keys", {"name": "plain"})
    assert status == 201 and "metadata" not in plain


def test_a_key_policy_refuses_before_any_upstream_call(gateway, upstream):
    upstream.always("/v1/chat/completions", Reply.file("openai/chat_text.response.json"))
    key, data = make_key(gateway, models=["test/fall*"], providers=["backup"], max_price={"prompt": 0.5})
    assert (data["models"], data["providers"], data["max_price"]) == (["test/fall*"], ["backup"], {"prompt": 0.5})
    with pytest.raises(openai.PermissionDeniedError) as refused:
        chat(gateway, key).chat.completions.create(model="test/gpt", messages=ASK)
    error = refused.value.body
    assert error["message"] == "Key is not allowed to use model test/gpt."
    assert error["metadata"]["excluded_by"] == ["key_policy"]
    assert upstream.hits("/v1/chat/completions") == []
    # test/fallback is allowed, but only its backup endpoint
    upstream.always("/backup/v1/chat/completions", Reply.file("openai/chat_text.response.json"))
    answer = chat(gateway, key).chat.completions.create(model="test/fallback", messages=ASK)
    assert answer.provider == "backup"
    assert upstream.hits("/v1/chat/completions") == []
    # a price cap the allowed endpoints exceed: the same 403, naming the constraint
    call(gateway, "PATCH", f"/api/v1/keys/{data['hash']}", {"max_price": {"prompt": 0.2}})
    with pytest.raises(openai.PermissionDeniedError) as capped:
        chat(gateway, key).chat.completions.create(model="test/fallback", messages=ASK)
    assert capped.value.body["metadata"]["constraint"] == "max_price"
    rows = gateway.ledger()
    assert [r["http_status"] for r in rows if r["status"] == "refused"] == [403, 403]
    # lifting the policy (null) lets the key use everything again
    call(gateway, "PATCH", f"/api/v1/keys/{data['hash']}", {"models": None, "providers": None, "max_price": None})
    assert chat(gateway, key).chat.completions.create(model="test/gpt", messages=ASK).provider == "up"


def test_model_listings_show_a_key_only_what_it_may_use(gateway):
    key, _ = make_key(gateway, models=["test/fallback", "test/gpt"], providers=["backup"])
    everyone = {m.id for m in chat(gateway, TEST_KEY).models.list()}
    assert {"test/gpt", "test/fallback", "test/routed"} <= everyone
    assert {m.id for m in chat(gateway, key).models.list()} == {"test/fallback"}
    assert [m["id"] for m in call(gateway, "GET", "/api/v1/models/user", key=key)[1]["data"]] == ["test/fallback"]
    assert call(gateway, "GET", "/api/v1/models/count", key=key)[1]["data"]["count"] == 1
    status, endpoints = call(gateway, "GET", "/api/v1/models/test/fallback/endpoints", key=key)
    assert status == 200 and [e["tag"] for e in endpoints["data"]["endpoints"]] == ["backup"]
    assert call(gateway, "GET", "/api/v1/models/test/gpt/endpoints", key=key)[0] == 404
    assert len(call(gateway, "GET", "/api/v1/models/test/fallback/endpoints")[1]["data"]["endpoints"]) == 2


def test_teams_crud(gateway):
    assert call(gateway, "POST", "/api/v1/teams", {"name": "ops"}, key=TEST_KEY)[0] == 403
    status, created = call(gateway, "POST", "/api/v1/teams", {
        "name": "ops", "limit": 10, "limit_reset": "monthly", "rate_limit": {"requests": 100, "interval": "1m"},
        "token_limit": {"tokens": 50000, "interval": 60}, "models": ["test/*"], "providers": ["up"],
        "max_price": {"prompt": 1, "completion": 2}})
    assert status == 201
    team = created["data"]
    assert (team["name"], team["limit"], team["limit_reset"], team["limit_remaining"], team["usage"]) == \
        ("ops", 10, "monthly", 10, 0)
    assert team["rate_limit"] == {"requests": 100, "interval": "60s"}
    assert team["token_limit"] == {"tokens": 50000, "interval": "60s"}
    assert (team["models"], team["providers"], team["max_price"], team["keys"]) == \
        (["test/*"], ["up"], {"prompt": 1, "completion": 2}, 0)
    assert call(gateway, "POST", "/api/v1/teams", {"name": "ops"})[0] == 400  # exists
    assert [t["name"] for t in call(gateway, "GET", "/api/v1/teams")[1]["data"]] == ["ops"]
    status, patched = call(gateway, "PATCH", "/api/v1/teams/ops", {"limit": None, "models": None})
    assert status == 200 and patched["data"]["limit"] is None and patched["data"]["models"] is None
    assert patched["data"]["providers"] == ["up"]
    assert call(gateway, "GET", "/api/v1/teams/nope")[0] == 404
    assert call(gateway, "POST", "/api/v1/keys", {"name": "k", "team": "nope"})[0] == 400
    _, key = make_key(gateway, team="ops")
    assert key["team"] == "ops"
    status, refused = call(gateway, "DELETE", "/api/v1/teams/ops")
    assert status == 400 and "has 1 key(s)" in refused["error"]["message"]
    assert call(gateway, "PATCH", f"/api/v1/keys/{key['hash']}", {"team": None})[1]["data"]["team"] is None
    assert call(gateway, "DELETE", "/api/v1/teams/ops") == (200, {"deleted": True})
    assert call(gateway, "GET", "/api/v1/teams")[1]["data"] == []


def test_a_team_budget_is_shared_by_its_keys_and_its_policy_applies(gateway, upstream):
    upstream.always("/v1/chat/completions", Reply.file("openai/chat_text.response.json"))
    # one request here reserves about $0.0025 (4096 tokens at $0.0000006) and costs a few micro-dollars
    assert call(gateway, "POST", "/api/v1/teams", {"name": "ops", "limit": 0.004, "models": ["test/gpt"]})[0] == 201
    first, _ = make_key(gateway, team="ops", limit=100)
    second, _ = make_key(gateway, team="ops")
    assert chat(gateway, first).chat.completions.create(model="test/gpt", messages=ASK, max_tokens=4000)
    gateway.flush()
    spent_first = sum(r["cost_nanos"] for r in gateway.ledger()) / 1e9
    assert call(gateway, "GET", "/api/v1/teams/ops")[1]["data"]["usage"] == pytest.approx(spent_first)
    # the team has $0.001 left: a second key of the team cannot reserve what the first did
    call(gateway, "PATCH", "/api/v1/teams/ops", {"limit": spent_first + 0.001})
    with pytest.raises(openai.APIStatusError) as short:
        chat(gateway, second).chat.completions.create(model="test/gpt", messages=ASK, max_tokens=4000)
    assert short.value.status_code == 402
    assert "the limit of team 'ops'" in short.value.body["message"]
    assert short.value.body["metadata"]["team"] == "ops"
    assert chat(gateway, second).chat.completions.create(model="test/gpt", messages=ASK, max_tokens=100)
    with pytest.raises(openai.PermissionDeniedError) as other_model:
        chat(gateway, first).chat.completions.create(model="test/fallback", messages=ASK)
    assert other_model.value.body["message"] == "Key of team 'ops' is not allowed to use model test/fallback."
    gateway.flush()
    status, team = call(gateway, "GET", "/api/v1/teams/ops")
    assert status == 200 and team["data"]["keys"] == 2
    spent = sum(r["cost_nanos"] for r in gateway.ledger()) / 1e9
    assert team["data"]["usage"] == pytest.approx(spent) and spent > 0
    # the key's own object shows the team's budget beside its own
    budgets = call(gateway, "GET", "/api/v1/key", key=first)[1]["data"]["budgets"]
    assert [(b["scope"], b.get("team")) for b in budgets] == [("key_limit", None), ("team_limit", "ops")]
    assert budgets[1]["spend_usd"] == pytest.approx(spent)
    # spent out: 403 naming the team
    call(gateway, "PATCH", "/api/v1/teams/ops", {"limit": spent})
    with pytest.raises(openai.PermissionDeniedError) as spent_out:
        chat(gateway, second).chat.completions.create(model="test/gpt", messages=ASK, max_tokens=10)
    assert spent_out.value.body["message"].startswith("Team limit exceeded (total limit of team 'ops').")


def test_team_rate_limits_count_every_key_of_the_team(gateway, upstream):
    upstream.always("/v1/chat/completions", Reply.file("openai/chat_text.response.json"))
    call(gateway, "POST", "/api/v1/teams", {"name": "ops", "rate_limit": {"requests": 3, "interval": "1m"}})
    keys = [make_key(gateway, team="ops")[0] for _ in range(2)]
    for i in range(3):
        assert chat(gateway, keys[i % 2]).chat.completions.create(model="test/gpt", messages=ASK)
    with pytest.raises(openai.RateLimitError) as limited:
        chat(gateway, keys[1]).chat.completions.create(model="test/gpt", messages=ASK)
    assert limited.value.body["metadata"]["limit"] == "team-requests"
    assert chat(gateway, TEST_KEY).chat.completions.create(model="test/gpt", messages=ASK)  # others unaffected


def test_activity_by_team(gateway, upstream):
    upstream.always("/v1/chat/completions", Reply.file("openai/chat_text.response.json"))
    call(gateway, "POST", "/api/v1/teams", {"name": "ops"})
    call(gateway, "POST", "/api/v1/teams", {"name": "web"})
    ops = [make_key(gateway, team="ops")[0] for _ in range(2)]
    web = make_key(gateway, team="web")[0]
    for key in (*ops, ops[0], web, TEST_KEY):
        chat(gateway, key).chat.completions.create(model="test/gpt", messages=ASK)
    gateway.flush()
    status, grouped = call(gateway, "GET", "/api/v1/activity?group_by=team")
    assert status == 200
    assert {r["team"]: r["requests"] for r in grouped["data"]} == {"ops": 3, "web": 1, None: 1}
    status, one = call(gateway, "GET", "/api/v1/activity?team=ops")
    assert status == 200 and sum(r["requests"] for r in one["data"]) == 3
    assert all("team" not in r for r in one["data"])
    assert call(gateway, "GET", "/api/v1/activity?group_by=teams")[0] == 400


def test_teams_and_policies_from_the_config(make_gateway, upstream):
    upstream.always("/v1/chat/completions", Reply.file("openai/chat_text.response.json"))
    gateway = make_gateway(
        teams=[{"name": "ops", "limit": 5, "limit_reset": "daily", "providers": ["up"],
                "rate_limit": {"requests": 100, "interval": "1m"}}],
        keys=[{"name": "test", "key": TEST_KEY, "team": "ops", "models": ["test/gpt", "test/fallback"]}])
    team = call(gateway, "GET", "/api/v1/teams/ops")[1]["data"]
    assert (team["limit"], team["limit_reset"], team["providers"], team["source"], team["keys"]) == \
        (5, "daily", ["up"], "config", 1)
    assert call(gateway, "DELETE", "/api/v1/teams/ops")[0] == 400  # the config defines it
    info = call(gateway, "GET", "/api/v1/key", key=TEST_KEY)[1]["data"]
    assert info["team"] == "ops" and info["models"] == ["test/gpt", "test/fallback"]
    assert chat(gateway, TEST_KEY).chat.completions.create(model="test/fallback", messages=ASK).provider == "up"
    with pytest.raises(openai.PermissionDeniedError):
        chat(gateway, TEST_KEY).chat.completions.create(model="test/routed", messages=ASK)
