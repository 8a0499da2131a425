"""Dashboard sign-in and the JSON API over HTTP: cookie flags, signatures, logout, origin checks."""

from __future__ import annotations

import json
import time
import urllib.parse
from concurrent.futures import ThreadPoolExecutor
from http.client import HTTPConnection
from typing import Any

import openai
import pytest

from switchpoint.server.auth import session
from switchpoint.server.auth.principal import ADMIN_KEY as ADMIN

from ..conftest import ADMIN_KEY, TEST_KEY
from ..upstream import Reply
from .helpers import CHAT, csrf_token, get_json, http, login, make_traffic

KEY, OTHER = b"k" * 32, b"o" * 32
LIFETIME = 12 * 3600


def test_signed_tokens() -> None:
    token = session.issue(KEY, ADMIN, LIFETIME, now=1000.0)
    found = session.verify(KEY, token, now=1001.0)
    assert found is not None and found.principal.role == "admin" and found.principal.via == "session"
    assert session.verify(OTHER, token, now=1001.0) is None
    assert session.verify(KEY, token, now=1000.0 + LIFETIME + 1) is None
    body, _, sig = token.partition(".")
    assert session.verify(KEY, body[:-2] + "AA." + sig, now=1001.0) is None
    assert session.verify(KEY, "garbage", now=1001.0) is None


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
    status, headers, _ = http(gateway, "POST", "/dashboard/logout", f"csrf={csrf_token(gateway, cookie)}".encode(),
                              {"cookie": cookie, "content-type": "application/x-www-form-urlencoded"})
    assert status == 303 and "Max-Age=0" in headers["set-cookie"]
    assert http(gateway, "GET", "/dashboard/api/keys", headers={"cookie": cookie})[0] == 401


def test_cross_origin_writes_are_refused(gateway) -> None:
    cookie = login(gateway)
    body = json.dumps({"name": "x"}).encode()
    status, _, _ = http(gateway, "POST", "/dashboard/api/keys", body,
                        {"cookie": cookie, "origin": "https://evil.example", "content-type": "application/json"})
    assert status == 403
    status, _, created = http(gateway, "POST", "/dashboard/api/keys", body,
                              {"cookie": cookie, "origin": gateway.url, "content-type": "application/json",
                               "x-csrf-token": csrf_token(gateway, cookie)})
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


def attempt_login(gateway: Any, key: str, source: str = "127.0.0.1") -> tuple[int, dict[str, str], bytes]:
    """POST the login form from `source` (any 127.x.y.z address reaches the gateway on Linux)."""
    connection = HTTPConnection("127.0.0.1", gateway.port, timeout=20, source_address=(source, 0))
    try:
        connection.request("POST", "/dashboard/login", urllib.parse.urlencode({"key": key}),
                           {"content-type": "application/x-www-form-urlencoded"})
        response = connection.getresponse()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
    finally:
        connection.close()


def test_failed_logins_are_limited_per_client_address(make_gateway: Any) -> None:
    gateway = make_gateway(server={"login_failures": 3, "login_window": 60})
    for _ in range(5):  # successes are not counted
        assert attempt_login(gateway, ADMIN_KEY)[0] == 303
    assert [attempt_login(gateway, "guess")[0] for _ in range(3)] == [401, 401, 401]
    status, headers, page = attempt_login(gateway, "guess")
    assert status == 429 and b"Too many failed attempts" in page
    assert 55 <= int(headers["retry-after"]) <= 60
    assert attempt_login(gateway, ADMIN_KEY)[0] == 429  # the right key too: no oracle past the limit
    assert attempt_login(gateway, ADMIN_KEY, source="127.0.0.2")[0] == 303  # other clients are not locked out
    assert attempt_login(gateway, "guess", source="127.0.0.2")[0] == 401


def test_concurrent_guesses_cannot_overrun_the_limit(make_gateway: Any) -> None:
    gateway = make_gateway(server={"login_failures": 3, "login_window": 1})
    with ThreadPoolExecutor(20) as pool:
        statuses = list(pool.map(lambda _: attempt_login(gateway, "guess")[0], range(20)))
    assert sorted(statuses) == [401] * 3 + [429] * 17
    time.sleep(1.1)  # the window slides: the address may try again
    assert attempt_login(gateway, ADMIN_KEY)[0] == 303


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
