"""Every failure is the OpenRouter error envelope with the right status; never a bare 500."""

from __future__ import annotations

import json
import urllib.error
import urllib.request

import pytest

from ..conftest import TEST_KEY
from ..upstream import Reply, fixture

CHAT = "/v1/chat/completions"


def post(gateway, body: bytes | dict, key: str | None = TEST_KEY, path: str = "/api/v1/chat/completions",
         headers: dict | None = None) -> tuple[int, dict, dict]:
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    all_headers = {"content-type": "application/json", **(headers or {})}
    if key:
        all_headers["authorization"] = f"Bearer {key}"
    request = urllib.request.Request(gateway.url + path, data=data, headers=all_headers)
    try:
        with urllib.request.urlopen(request, timeout=20) as response:
            return response.status, response.headers, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers, json.loads(exc.read())


def assert_envelope(status: int, body: dict, expected: int) -> dict:
    assert status == expected, body
    assert set(body) == {"error"}
    assert body["error"]["code"] == expected
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]
    assert isinstance(body["error"]["metadata"], dict)
    assert "Traceback" not in json.dumps(body)
    return body["error"]


HI = {"model": "test/gpt", "messages": [{"role": "user", "content": "hi"}]}


@pytest.mark.parametrize(("body", "field"), [
    (b"{not json", "not valid JSON"),
    (b"[1,2]", "must be a JSON object"),
    ({"messages": [{"role": "user", "content": "hi"}]}, "model"),
    ({"model": "test/gpt"}, "messages"),
    ({"model": "test/gpt", "messages": []}, "messages"),
    ({"model": "test/gpt", "messages": [{"role": "wizard", "content": "x"}]}, "messages[0].role"),
    ({"model": "test/gpt", "messages": [{"role": "user", "content": 5}]}, "messages[0].content"),
    ({**HI, "temperature": "hot"}, "temperature"),
    ({**HI, "temperature": 3}, "temperature"),
    ({**HI, "max_tokens": 0}, "max_tokens"),
    ({**HI, "stream": "yes"}, "stream"),
    ({**HI, "tools": [{"type": "function", "function": {}}]}, "tools[0].function.name"),
    ({**HI, "tool_choice": "sometimes"}, "tool_choice"),
    ({**HI, "provider": "fast"}, "provider"),
    ({**HI, "models": ["a/b", "c/d", "e/f", "g/h"]}, "models"),
    ({"model": "test/gpt", "messages": [{"role": "tool", "content": "x"}]}, "messages[0].tool_call_id"),
])
def test_bad_requests_name_the_field(gateway, upstream, body, field):
    status, _, payload = post(gateway, body)
    error = assert_envelope(status, payload, 400)
    assert field in error["message"]
    assert upstream.received == []


def test_unknown_model(gateway):
    status, _, payload = post(gateway, {**HI, "model": "nobody/nothing"})
    assert assert_envelope(status, payload, 400)["message"] == "nobody/nothing is not a valid model ID"


def test_model_without_configured_endpoint(gateway):
    status, _, payload = post(gateway, {**HI, "model": "openai/gpt-4o"})  # catalogued; openai not configured
    assert assert_envelope(status, payload, 404)["message"] == "No endpoints found for openai/gpt-4o."


def test_body_too_large(make_gateway, upstream):
    gateway = make_gateway(server={"keepalive_interval": 0.3, "max_body_bytes": 2000})
    status, _, payload = post(gateway, {**HI, "messages": [{"role": "user", "content": "x" * 5000}]})
    assert_envelope(status, payload, 413)
    assert upstream.received == []


@pytest.mark.parametrize(("key", "expected", "message"), [
    (None, 401, "No auth credentials found"),
    ("sk-sp-v1-not-a-real-key", 401, "Invalid API key"),
])
def test_auth_failures(gateway, key, expected, message):
    status, _, payload = post(gateway, HI, key=key)
    assert assert_envelope(status, payload, expected)["message"] == message


@pytest.mark.parametrize(("upstream_status", "body_fixture", "client_status"), [
    (401, "openai/error_401_invalid_api_key.json", 502),
    (500, "openai/error_500_server_error.json", 502),
    (429, "openai/error_429_rate_limit_tokens.json", 429),
    (400, "openai/error_400_unsupported_value.json", 400),
])
def test_upstream_errors_are_mapped(gateway, upstream, upstream_status, body_fixture, client_status):
    upstream.queue(CHAT, Reply.file(body_fixture, status=upstream_status, headers={"retry-after": "7"}))
    status, headers, payload = post(gateway, HI)
    error = assert_envelope(status, payload, client_status)
    recorded = json.loads(fixture(body_fixture))
    assert error["message"] == recorded["error"]["message"]
    assert error["metadata"]["provider_name"] == "up"
    assert error["metadata"]["upstream_status"] == upstream_status
    assert json.loads(error["metadata"]["raw"]) == recorded
    assert "upstream-key" not in json.dumps(payload)  # our provider key never leaks
    if client_status == 429:
        assert headers["Retry-After"] == "7"


def test_upstream_timeout_is_408(make_gateway, upstream):
    gateway = make_gateway(providers={"up": {"type": "openai", "base_url": f"{upstream.url}/v1", "api_key": "k",
                                             "max_retries": 0, "timeout": 0.3}})
    upstream.queue(CHAT, Reply.file("openai/chat_text.response.json", delay=1.0))
    status, _, payload = post(gateway, HI)
    assert assert_envelope(status, payload, 408)["metadata"]["error_type"] == "timeout"


def test_upstream_unreachable_is_502(make_gateway, upstream):
    from ..conftest import free_port

    gateway = make_gateway(providers={"up": {"type": "openai", "base_url": f"http://127.0.0.1:{free_port()}/v1",
                                             "api_key": "k", "max_retries": 0}})
    status, _, payload = post(gateway, HI)
    assert "could not reach" in assert_envelope(status, payload, 502)["message"]


def test_malformed_upstream_json_is_502(gateway, upstream):
    upstream.queue(CHAT, Reply(body=b'{"id": "x", "choices": [', status=200))
    status, _, payload = post(gateway, HI)
    assert "invalid JSON" in assert_envelope(status, payload, 502)["message"]


def test_unknown_route_is_enveloped_404(gateway):
    status, _, payload = post(gateway, HI, path="/api/v1/nothing-here")
    assert_envelope(status, payload, 404)


def test_failures_are_in_the_ledger(gateway, upstream):
    upstream.queue(CHAT, Reply.file("openai/error_500_server_error.json", status=500))
    post(gateway, HI)
    rows = gateway.ledger()
    assert len(rows) == 1
    row = rows[0]
    assert row["status"] == "error" and row["http_status"] == 502 and row["cost_nanos"] == 0
    assert json.loads(row["attempts"])[0]["status"] == 500
