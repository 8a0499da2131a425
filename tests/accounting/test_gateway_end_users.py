"""End users of a key end to end: the request's `user` (and the Messages and Responses APIs' own
fields) in the ledger, the key's per-end-user budget and rate limit, and reports by end user."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import httpx2 as httpx
import yaml
from click.testing import CliRunner

from switchpoint.cli.main import cli

from .. import replies
from ..conftest import ADMIN_KEY, TEST_KEY
from .conftest import admin, chat, get, key_config


def test_every_api_records_the_end_user(gateway: Any, upstream: Any) -> None:
    upstream.always("/v1/chat/completions", replies.chat(10, 20))
    auth = {"authorization": f"Bearer {TEST_KEY}"}
    assert chat(gateway, user="chat-user").status_code == 200
    messages = httpx.post(f"{gateway.url}/api/v1/messages", headers=auth, timeout=20, json={
        "model": "test/gpt", "max_tokens": 50, "metadata": {"user_id": "messages-user"},
        "messages": [{"role": "user", "content": "hi"}]})
    assert messages.status_code == 200, messages.text
    responses = httpx.post(f"{gateway.url}/api/v1/responses", headers=auth, timeout=20, json={
        "model": "test/gpt", "input": "hi", "safety_identifier": "responses-user", "store": False})
    assert responses.status_code == 200, responses.text
    named = httpx.post(f"{gateway.url}/api/v1/responses", headers=auth, timeout=20, json={
        "model": "test/gpt", "input": "hi", "user": "responses-user-field", "store": False})
    assert named.status_code == 200, named.text
    assert chat(gateway, user="x" * 300).status_code == 200  # kept as the ledger keeps it: 256 characters
    assert [r["external_user"] for r in gateway.ledger()] == [
        "chat-user", "messages-user", "responses-user", "responses-user-field", "x" * 256]


def test_user_limit_refuses_an_end_user_with_402_naming_it(make_gateway: Any, upstream: Any) -> None:
    # ~$0.000096 a request, ~$0.00013 reserved with max_tokens 200: $0.0003 lets an end user make two
    gateway = make_gateway(keys=key_config(user_limit=0.0003))
    upstream.always("/v1/chat/completions", replies.chat(40, 150))
    assert [chat(gateway, user="alice", max_tokens=200).status_code for _ in range(3)] == [200, 200, 402]
    refused = chat(gateway, user="alice", max_tokens=200)
    error = refused.json()["error"]
    assert refused.status_code == 402 and error["code"] == 402
    assert "End user 'alice'" in error["message"] and "user_limit" in error["message"]
    assert error["metadata"]["limit"] == "user_limit" and error["metadata"]["user"] == "alice"
    assert chat(gateway, user="bob", max_tokens=200).status_code == 200  # another end user, its own budget
    assert chat(gateway, max_tokens=200).status_code == 200  # a request naming no end user
    shown = get(gateway, "/key").json()["data"]
    assert shown["user_limit"] == 0.0003 and shown["user_rate_limit"] is None


def test_user_limit_holds_under_concurrency(make_gateway: Any, upstream: Any) -> None:
    gateway = make_gateway(keys=key_config(user_limit=0.001, limit_reset="daily"))
    upstream.always("/v1/chat/completions", replies.chat(40, 150))

    async def burst() -> list[tuple[str, int]]:
        async with httpx.AsyncClient(timeout=20) as http:
            async def one(user: str) -> tuple[str, int]:
                response = await http.post(f"{gateway.url}/api/v1/chat/completions", json={
                    "model": "test/gpt", "max_tokens": 200, "user": user,
                    "messages": [{"role": "user", "content": "hi"}]}, headers={"authorization": f"Bearer {TEST_KEY}"})
                return user, response.status_code
            return await asyncio.gather(*(one(("alice", "bob")[i % 2]) for i in range(80)))

    statuses = gateway.loop.run(burst())  # the gateway's own loop: requests really overlap
    assert {status for _, status in statuses} == {200, 402}
    rows = gateway.ledger()
    for user in ("alice", "bob"):
        spent = sum(r["cost_nanos"] for r in rows if r["external_user"] == user)
        assert 0 < spent <= 1_000_000
        served = sum(1 for who, status in statuses if who == user and status == 200)
        assert served == sum(r["status"] == "success" for r in rows if r["external_user"] == user) >= 7


def test_user_rate_limit_counts_each_end_user_apart(make_gateway: Any, upstream: Any) -> None:
    gateway = make_gateway(keys=key_config(user_rate_limit={"requests": 2, "interval": "1m"}))
    upstream.always("/v1/chat/completions", replies.chat(10, 20))
    assert [chat(gateway, user="alice").status_code for _ in range(2)] == [200, 200]
    refused = chat(gateway, user="alice")
    assert refused.status_code == 429 and 0 < int(refused.headers["retry-after"]) <= 60
    error = refused.json()["error"]
    assert error["code"] == 429 and "end user 'alice'" in error["message"] and "user_rate_limit" in error["message"]
    assert error["metadata"]["limit"] == "user-requests" and error["metadata"]["user"] == "alice"
    assert chat(gateway, user="bob").status_code == 200
    assert [chat(gateway).status_code for _ in range(3)] == [200, 200, 200]  # no end user: not limited per user
    assert [r["http_status"] for r in gateway.ledger() if r["external_user"] == "alice"] == [200, 200, 429]


def test_limits_per_end_user_through_the_keys_api(gateway: Any, upstream: Any) -> None:
    created = admin(gateway, "POST", "/keys", json={"name": "reseller", "user_limit": 0.0003, "limit_reset": "daily",
                                                    "user_rate_limit": {"requests": 5, "interval": 60}})
    assert created.status_code == 201, created.text
    data = created.json()["data"]
    assert data["user_limit"] == 0.0003 and data["user_rate_limit"] == {"requests": 5, "interval": "60s"}
    patched = admin(gateway, "PATCH", f"/keys/{data['hash']}", json={"user_rate_limit": {"requests": 1}})
    assert patched.json()["data"]["user_rate_limit"] == {"requests": 1, "interval": "60s"}
    upstream.always("/v1/chat/completions", replies.chat(10, 20))
    key = created.json()["key"]
    assert [chat(gateway, key, user="u", max_tokens=100).status_code for _ in range(2)] == [200, 429]
    bad = admin(gateway, "PATCH", f"/keys/{data['hash']}", json={"user_limit": -1})
    assert bad.status_code == 400 and bad.json()["error"]["metadata"]["param"] == "user_limit"
    cleared = admin(gateway, "PATCH", f"/keys/{data['hash']}", json={"user_limit": None, "user_rate_limit": None})
    assert cleared.json()["data"]["user_limit"] is None and cleared.json()["data"]["user_rate_limit"] is None


def test_reports_by_end_user(gateway: Any, upstream: Any, tmp_path: Path) -> None:
    upstream.always("/v1/chat/completions", replies.chat(10, 20))
    for user in ("alice", "alice", "bob", None):
        assert chat(gateway, **({"user": user} if user else {})).status_code == 200
    gateway.flush()
    one = 10 * 0.00000015 + 20 * 0.0000006

    activity = get(gateway, "/activity", ADMIN_KEY, group_by="user").json()["data"]
    assert {(r["user"], r["requests"], r["model"]) for r in activity} == {
        ("alice", 2, "test/gpt"), ("bob", 1, "test/gpt"), (None, 1, "test/gpt")}
    assert [r["usage"] for r in activity if r["user"] == "alice"] == [round(2 * one, 9)]
    own = get(gateway, "/activity", group_by="user").json()["data"]  # a key sees its own end users
    assert sorted(r["requests"] for r in own) == [1, 1, 2]
    bad = get(gateway, "/activity", ADMIN_KEY, group_by="nobody")
    assert bad.status_code == 400 and "user" in bad.json()["error"]["message"]

    config = tmp_path / "report.yaml"
    config.write_text(yaml.safe_dump({"database": gateway.config.database, "providers": {}}))
    result = CliRunner().invoke(cli, ["usage", "--by", "user", "--json", "--config", str(config)])
    assert result.exit_code == 0, result.output
    report = {row["user"]: row for row in json.loads(result.stdout)}
    assert set(report) == {"alice", "bob", None}
    assert report["alice"]["requests"] == 2 and report["alice"]["cost"] == round(2 * one, 9)
    table = CliRunner().invoke(cli, ["usage", "--by", "user", "--config", str(config)])
    assert "alice" in table.output and "bob" in table.output
