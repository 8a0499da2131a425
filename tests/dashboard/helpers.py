"""Shared by the dashboard tests: traffic through a real gateway, and a logged-in HTTP session."""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

import openai
import pytest

from ..conftest import ADMIN_KEY, TEST_KEY, Gateway
from ..upstream import Reply, Upstream

CHAT = "/v1/chat/completions"


def make_traffic(gateway: Gateway, upstream: Upstream, *, ok: int = 5, failed: int = 1) -> list[str]:
    """`ok` successful and `failed` failed generations through the gateway; returns their ids."""
    client = openai.OpenAI(base_url=f"{gateway.url}/api/v1", api_key=TEST_KEY, max_retries=0, timeout=20)
    ids = []
    for _ in range(ok):
        upstream.queue(CHAT, Reply.file("openai/chat_text.response.json"))
        ids.append(client.chat.completions.create(model="test/gpt", messages=[{"role": "user", "content": "hi"}]).id)
    for _ in range(failed):
        upstream.queue(CHAT, Reply.file("openai/error_500_server_error.json", status=500))
        with pytest.raises(openai.InternalServerError):
            client.chat.completions.create(model="test/gpt", messages=[{"role": "user", "content": "hi"}])
    gateway.flush()
    return ids


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


def http(gateway: Gateway, method: str, path: str, body: bytes | None = None,
         headers: dict[str, str] | None = None) -> tuple[int, Any, bytes]:
    """Status, headers (`headers["x"]`, and `headers.get_all("set-cookie")` for repeated ones) and body."""
    request = urllib.request.Request(gateway.url + path, data=body, method=method, headers=headers or {})
    opener = urllib.request.build_opener(NoRedirect)
    try:
        with opener.open(request, timeout=20) as response:
            return response.status, response.headers, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers, exc.read()


def login(gateway: Gateway, key: str = ADMIN_KEY) -> str:
    """Log in through the form; returns the Cookie header value."""
    status, headers, _ = http(gateway, "POST", "/dashboard/login", urllib.parse.urlencode({"key": key}).encode(),
                              {"content-type": "application/x-www-form-urlencoded"})
    assert status == 303, status
    return headers["set-cookie"].split(";")[0]


def get_json(gateway: Gateway, path: str, cookie: str) -> Any:
    status, _, body = http(gateway, "GET", path, headers={"cookie": cookie})
    assert status == 200, (status, body)
    return json.loads(body)


def csrf_token(gateway: Gateway, cookie: str) -> str:
    """The session's CSRF token, as the dashboard page carries it."""
    status, _, page = http(gateway, "GET", "/dashboard", headers={"cookie": cookie})
    assert status == 200, status
    found = re.search(rb'<meta name="sp-csrf" content="([^"]+)">', page)
    assert found, page[:500]
    return found.group(1).decode()
