"""Dashboard sign-in and the JSON API over HTTP: cookie flags, signatures, logout, origin checks."""

from __future__ import annotations

import json
import urllib.parse

import openai
import pytest

from switchpoint.server.dashboard import session

from ..conftest import ADMIN_KEY, TEST_KEY
from ..upstream import Reply
from .helpers import CHAT, get_json, http, login, make_traffic


def test_signed_tokens() -> None:
    token = session.issue(ADMIN_KEY, now=1000.0)
    assert session.verify(ADMIN_KEY, token, now=1001.0) is not None
    assert session.verify("another-admin-key-000", token, now=1001.0) is None
    assert session.verify(ADMIN_KEY, token, now=1000.0 + session.LIFETIME + 1) is None
    body, _, sig = token.partition(".")
    assert session.verify(ADMIN_KEY, body[:-2] + "AA." + sig, now=1001.0) is None
    assert session.verify(ADMIN_KEY, "garbage", now=1001.0) is None


def test_login_flow_and_cookie(gateway) -> None:
    status, headers, _ = http(gateway, "GET", "/dashboard")
    assert status == 303 and headers["location"] == "/dashboard/login"
    status, _, page = http(gateway, "GET", "/dashboard/login")
    assert status == 200 and b'type="password"' in page
    status, _, page = http(gateway, "POST", "/dashboard/login", b"key=wrong",
                           {"content-type": "application/x-www-form-urlencoded"})
    assert status == 401 and b"not the admin key" in page
    status, headers, _ = http(gateway, "POST", "/dashboard/login", urllib.parse.urlencode({"key": ADMIN_KEY}).encode(),
                              {"content-type": "application/x-www-form-urlencoded"})
    assert status == 303
    flags = {part.strip().split("=")[0] for part in headers["set-cookie"].split(";")}
    assert {"HttpOnly", "Secure", "SameSite", "Path"} <= flags and "SameSite=Strict" in headers["set-cookie"]
    cookie = headers["set-cookie"].split(";")[0]
    assert ADMIN_KEY not in cookie
    status, headers, page = http(gateway, "GET", "/dashboard", headers={"cookie": cookie})
    assert status == 200 and b"chart.umd.min.js" in page
    assert "default-src 'self'" in headers["content-security-policy"]


def test_api_needs_a_session_or_the_admin_key(gateway) -> None:
    assert http(gateway, "GET", "/dashboard/api/overview")[0] == 401
    assert http(gateway, "GET", "/dashboard/api/overview", headers={"authorization": f"Bearer {TEST_KEY}"})[0] == 401
    status, _, body = http(gateway, "GET", "/dashboard/api/overview?window=7d",
                           headers={"authorization": f"Bearer {ADMIN_KEY}"})
    assert status == 200 and json.loads(body)["bucket"] == "hour"
    assert http(gateway, "GET", "/dashboard/api/overview?window=1y",
                headers={"authorization": f"Bearer {ADMIN_KEY}"})[0] == 400


def test_logout_revokes_the_session(gateway) -> None:
    cookie = login(gateway)
    assert http(gateway, "GET", "/dashboard/api/keys", headers={"cookie": cookie})[0] == 200
    status, headers, _ = http(gateway, "POST", "/dashboard/logout", headers={"cookie": cookie})
    assert status == 303 and "Max-Age=0" in headers["set-cookie"]
    assert http(gateway, "GET", "/dashboard/api/keys", headers={"cookie": cookie})[0] == 401


def test_cross_origin_writes_are_refused(gateway) -> None:
    cookie = login(gateway)
    body = json.dumps({"name": "x"}).encode()
    status, _, _ = http(gateway, "POST", "/dashboard/api/keys", body,
                        {"cookie": cookie, "origin": "https://evil.example", "content-type": "application/json"})
    assert status == 403
    status, _, created = http(gateway, "POST", "/dashboard/api/keys", body,
                              {"cookie": cookie, "origin": gateway.url, "content-type": "application/json"})
    assert status == 201 and json.loads(created)["key"].startswith("sk-sp-v1-")


def test_overview_endpoints_generations_keys(gateway, upstream) -> None:
    ids = make_traffic(gateway, upstream, ok=3, failed=1)
    cookie = login(gateway)
    overview = get_json(gateway, "/dashboard/api/overview?window=24h", cookie)
    assert overview["totals"]["requests"] == 4 and overview["totals"]["errors"] == 1
    assert len(overview["series"]) == 24 and sum(b["requests"] for b in overview["series"]) == 4
    assert overview["by_model"][0]["group"] == "test/gpt"
    assert overview["by_key"][0]["name"] == "test"
    assert abs(overview["totals"]["cost"] - 3 * (14 * 0.00000015 + 37 * 0.0000006)) < 1e-12
    endpoints = get_json(gateway, "/dashboard/api/endpoints", cookie)["endpoints"]
    gpt = next(e for e in endpoints if e["model"] == "test/gpt")
    assert (gpt["requests"], gpt["errors"], gpt["served"]) == (4, 1, 3)  # the failed attempt counts
    assert gpt["percentiles"]["sample"] == 3 and gpt["live"]["attempts"] == 4
    assert gpt["live"]["circuit"] in ("closed", "open", "half_open")
    recent = get_json(gateway, "/dashboard/api/generations?limit=10", cookie)["generations"]
    assert [g["id"] for g in recent[1:]] == ids[::-1]
    assert recent[0]["status"] == "error" and recent[0]["attempts"][0]["status"] == 500
    keys = get_json(gateway, "/dashboard/api/keys", cookie)["keys"]
    assert keys[0]["name"] == "test" and keys[0]["usage_total"] == overview["totals"]["cost"]


def test_endpoints_count_failed_attempts(gateway, upstream) -> None:
    """An endpoint failing every attempt shows them all, 100% errors; a failed attempt before a
    failover counts against the endpoint that failed it, not the one that served."""
    upstream.always(CHAT, Reply.file("openai/error_500_server_error.json", status=500))
    upstream.always("/backup" + CHAT, Reply.file("openai/chat_text.response.json"))
    client = openai.OpenAI(base_url=f"{gateway.url}/api/v1", api_key=TEST_KEY, max_retries=0, timeout=20)
    for _ in range(2):
        with pytest.raises(openai.InternalServerError):
            client.chat.completions.create(model="test/gpt", messages=[{"role": "user", "content": "hi"}])
    client.chat.completions.create(model="test/fallback", messages=[{"role": "user", "content": "hi"}],
                                   extra_body={"provider": {"order": ["up", "backup"]}})
    gateway.flush()
    endpoints = get_json(gateway, "/dashboard/api/endpoints?window=24h", login(gateway))["endpoints"]
    figures = {(e["provider"], e["model"]): (e["requests"], e["errors"], e["error_rate"], e["served"])
               for e in endpoints if e["requests"]}
    assert figures == {("up", "test/gpt"): (2, 2, 1.0, 0), ("up", "test/fallback"): (1, 1, 1.0, 0),
                       ("backup", "test/fallback"): (1, 0, 0.0, 1)}
