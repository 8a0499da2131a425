"""Provider secrets never leave the gateway in upstream text: an upstream that quotes the request's
credentials back in its errors reaches the client, the ledger and the logs with them redacted."""

from __future__ import annotations

import json
import logging
import urllib.request

import pytest

from ..upstream import Reply
from .test_errors import HI, post

CHAT = "/v1/chat/completions"
KEY = "operator-provider-secret-0042"            # no credential shape: found because it is configured
HEADER = "org-header-secret-77"                  # a configured extra header value
PROXY_PASSWORD = "proxy-pass-9f8e7d"             # credentials of a configured proxy (loopback goes direct)
FOREIGN = "sk-live-abcdefghijklmnopqrstuvwxyz12"  # not ours, but shaped like a key
SECRETS = (KEY, HEADER, PROXY_PASSWORD, FOREIGN)
ECHO = ('{"error": {"message": "request refused; you sent Authorization: {authorization}, X-Org-Secret: '
        '{x-org-secret}, via http://bob:' + PROXY_PASSWORD + '@proxy; also saw ' + FOREIGN + '", '
        '"type": "invalid_request_error", "code": "echo", "param": "{authorization}"}}')


@pytest.fixture
def leaky(make_gateway, upstream, tmp_path):
    log_path = tmp_path / "generations.jsonl"
    gateway = make_gateway(
        providers={"up": {"type": "openai", "base_url": f"{upstream.url}/v1", "api_key": KEY, "max_retries": 0,
                          "timeout": 5, "headers": {"X-Org-Secret": HEADER}}},
        proxy={"http": f"http://bob:{PROXY_PASSWORD}@127.0.0.1:3128"},
        models=[{"id": "test/gpt", "name": "Test GPT", "context_length": 128000,
                 "endpoints": [{"provider": "up", "model": "gpt-4o-mini",
                                "pricing": {"prompt": "0.00000015", "completion": "0.0000006"}}]},
                {"id": "test/embed", "name": "Embed", "context_length": 8192, "output_modalities": ["embeddings"],
                 "endpoints": [{"provider": "up", "model": "text-embedding-3-small",
                                "pricing": {"prompt": "0.00000002"}}]}],
        telemetry={"generation_log": str(log_path)})
    gateway.log_path = log_path
    return gateway


def assert_clean(text: str) -> None:
    for secret in SECRETS:
        assert secret not in text
    assert "bob:" not in text


def assert_ledger_and_log_clean(gateway, rows: int = 1) -> None:
    ledger = gateway.ledger()
    assert len(ledger) == rows
    assert "[REDACTED]" in json.dumps(ledger, default=str)
    assert_clean(json.dumps(ledger, default=str))
    gateway.call(lambda: gateway.services.observers[0].drain())
    logged = gateway.log_path.read_text()
    assert logged.count("\n") == rows
    assert_clean(logged)


@pytest.mark.parametrize("status", [400, 401, 403, 404, 422, 429, 500, 503])
def test_upstream_error_echoing_the_key(leaky, upstream, caplog, status):
    caplog.set_level(logging.DEBUG)
    upstream.queue(CHAT, Reply(status=status, body=ECHO.encode(), echo=True))
    code, _, payload = post(leaky, HI)
    assert code >= 400
    sent = upstream.hits(CHAT)[0].headers
    assert sent["authorization"] == f"Bearer {KEY}" and sent["x-org-secret"] == HEADER  # the echo is real
    text = json.dumps(payload)
    assert "[REDACTED]" in payload["error"]["metadata"]["raw"]
    assert_clean(text)
    assert_ledger_and_log_clean(leaky)
    assert_clean(caplog.text)


def test_embeddings_error_echoing_the_key(leaky, upstream):
    upstream.queue("/v1/embeddings", Reply(status=401, body=ECHO.encode(), echo=True))
    code, _, payload = post(leaky, {"model": "test/embed", "input": "x"}, path="/api/v1/embeddings")
    assert code == 502
    assert_clean(json.dumps(payload))
    assert_ledger_and_log_clean(leaky)


def stream(gateway) -> bytes:
    from ..conftest import TEST_KEY

    request = urllib.request.Request(gateway.url + "/api/v1/chat/completions",
                                     data=json.dumps({**HI, "stream": True}).encode(),
                                     headers={"authorization": f"Bearer {TEST_KEY}", "content-type": "application/json"})
    with urllib.request.urlopen(request, timeout=20) as response:
        assert response.status == 200
        return response.read()


def test_mid_stream_error_echoing_the_key(leaky, upstream, caplog):
    caplog.set_level(logging.DEBUG)
    first = (b'data: {"id":"c1","object":"chat.completion.chunk","created":1,"model":"gpt-4o-mini",'
             b'"choices":[{"index":0,"delta":{"role":"assistant","content":"Hel"},"finish_reason":null}]}\n\n')
    error = b'data: ' + ECHO.encode() + b"\n\n"
    upstream.queue(CHAT, Reply(chunks=[first, 0.3, error], content_type="text/event-stream", echo=True))
    body = stream(leaky)
    assert b'"finish_reason":"error"' in body and b"[REDACTED]" in body
    assert b"Hel" in body
    assert_clean(body.decode())
    assert_ledger_and_log_clean(leaky)
    assert_clean(caplog.text)


def test_stream_refused_before_the_first_byte(leaky, upstream):
    upstream.queue(CHAT, Reply(status=401, body=ECHO.encode(), echo=True))
    from ..conftest import TEST_KEY

    request = urllib.request.Request(leaky.url + "/api/v1/chat/completions",
                                     data=json.dumps({**HI, "stream": True}).encode(),
                                     headers={"authorization": f"Bearer {TEST_KEY}", "content-type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=20) as response:
            body = response.read()
    except urllib.error.HTTPError as exc:
        body = exc.read()
    assert b"[REDACTED]" in body
    assert_clean(body.decode())
    assert_ledger_and_log_clean(leaky)


@pytest.mark.parametrize(("text", "expected"), [
    ("Incorrect API key provided: my-operator-key-1.", "Incorrect API key provided: [REDACTED]."),
    ("Authorization: Bearer abc.def-ghi_jkl", "Authorization: Bearer [REDACTED]"),
    ('{"x-api-key": "k-123456789", "x-goog-api-key": "AIzaSyA1234567890abcdefghijklmnopqrstu"}',
     '{"x-api-key": "[REDACTED]", "x-goog-api-key": "[REDACTED]"}'),
    ("key sk-ant-api03-abcdefghijklmnop and gsk_abcdefghijklmnopqrstuv", "key [REDACTED] and [REDACTED]"),
    ("GET https://host/v1/models?key=AIzaSyXX&alt=sse", "GET https://host/v1/models?key=[REDACTED]&alt=sse"),
    ("via http://bob:hunter22@proxy:3128", "via http://[REDACTED]@proxy:3128"),
    ("Proxy-Authorization: Basic Ym9iOmh1bnRlcjIy", "Proxy-Authorization: Basic [REDACTED]"),
    # ordinary error text is left alone
    ("token limit exceeded: 70000 > 65536 tokens", "token limit exceeded: 70000 > 65536 tokens"),
    ("Basic authentication required", "Basic authentication required"),
    ("The model `gpt-4o` does not exist", "The model `gpt-4o` does not exist"),
])
def test_redaction_shapes(text, expected):
    from switchpoint.redact import Redactor

    assert Redactor(["my-operator-key-1", "short"]).text(text) == expected
