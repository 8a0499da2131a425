"""CORS on the API: preflights answered, allowed origins named on every response, nothing for the
dashboard or for origins that are not allowed."""

from __future__ import annotations

import http.client
import json
from typing import Any

from ..conftest import TEST_KEY, Gateway
from ..upstream import Reply, Upstream

CHAT = {"model": "test/gpt", "messages": [{"role": "user", "content": "hi"}]}


def exchange(gateway: Gateway, method: str, path: str, headers: dict[str, str],
             body: dict[str, Any] | None = None) -> tuple[int, dict[str, str]]:
    conn = http.client.HTTPConnection("127.0.0.1", gateway.port, timeout=10)
    conn.request(method, path, body=json.dumps(body).encode() if body else None, headers=headers)
    response = conn.getresponse()
    response.read()
    conn.close()
    return response.status, {k.lower(): v for k, v in response.getheaders()}


def test_preflight_and_responses_carry_cors_headers(gateway: Gateway, upstream: Upstream) -> None:
    upstream.always("/v1/chat/completions", Reply.file("openai/chat_text.response.json"))
    status, headers = exchange(gateway, "OPTIONS", "/api/v1/chat/completions", {
        "Origin": "https://app.example", "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization, content-type, x-title"})
    assert status == 204
    assert headers["access-control-allow-origin"] == "*"
    assert headers["access-control-allow-headers"] == "authorization, content-type, x-title"
    assert "POST" in headers["access-control-allow-methods"] and headers["access-control-max-age"] == "86400"

    browser = {"Origin": "https://app.example", "Authorization": f"Bearer {TEST_KEY}",
               "Content-Type": "application/json"}
    status, headers = exchange(gateway, "POST", "/api/v1/chat/completions", browser, CHAT)
    assert status == 200 and headers["access-control-allow-origin"] == "*"
    assert "x-generation-id" in headers["access-control-expose-headers"]
    status, headers = exchange(gateway, "POST", "/api/v1/chat/completions", {**browser, "Authorization": "Bearer no"},
                               CHAT)
    assert status == 401 and headers["access-control-allow-origin"] == "*"  # errors are readable too

    status, headers = exchange(gateway, "POST", "/api/v1/chat/completions",
                               {"Authorization": f"Bearer {TEST_KEY}", "Content-Type": "application/json"}, CHAT)
    assert status == 200 and "access-control-allow-origin" not in headers  # not a browser: no CORS headers
    status, headers = exchange(gateway, "GET", "/dashboard", {"Origin": "https://app.example"})
    assert "access-control-allow-origin" not in headers  # the dashboard is not shared


def test_only_the_configured_origins_are_allowed(make_gateway: Any, upstream: Upstream) -> None:
    upstream.always("/v1/chat/completions", Reply.file("openai/chat_text.response.json"))
    gateway = make_gateway(server={"cors_origins": ["https://app.example/"]})
    asked = {"Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "authorization"}
    status, headers = exchange(gateway, "OPTIONS", "/v1/chat/completions", {"Origin": "https://app.example", **asked})
    assert status == 204 and headers["access-control-allow-origin"] == "https://app.example"
    assert headers["vary"] == "origin"
    status, headers = exchange(gateway, "OPTIONS", "/v1/chat/completions", {"Origin": "https://evil.example", **asked})
    assert status == 404 and "access-control-allow-origin" not in headers
    none = make_gateway(server={"cors_origins": []})
    status, headers = exchange(none, "GET", "/api/v1/models", {"Origin": "https://app.example"})
    assert status == 200 and "access-control-allow-origin" not in headers
