"""/metrics (Prometheus) and the overhead header."""

from __future__ import annotations

import logging
import time
import urllib.error
import urllib.request

import openai
import pytest

from switchpoint.accounting.keys import key_label

from ..conftest import TEST_KEY
from ..upstream import Reply

CHAT = "/v1/chat/completions"


def scrape(gateway) -> dict[str, float]:
    gateway.flush()
    text = urllib.request.urlopen(f"{gateway.url}/metrics", timeout=5).read().decode()
    values = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.rpartition(" ")
            values[name] = float(value)
    return values


def test_metrics_follow_the_ledger(gateway, upstream, client):
    upstream.queue(CHAT, Reply.file("openai/chat_text.response.json"),
                   Reply.file("openai/error_500_server_error.json", status=500))
    raw = client.chat.completions.with_raw_response.create(model="test/gpt",
                                                           messages=[{"role": "user", "content": "x"}])
    assert float(raw.headers["x-switchpoint-overhead-ms"]) >= 0
    with pytest.raises(openai.InternalServerError):
        client.chat.completions.create(model="test/gpt", messages=[{"role": "user", "content": "x"}])
    values = scrape(gateway)
    assert values['switchpoint_requests_total{model="test/gpt",provider="up",status="success"}'] == 1
    assert values['switchpoint_requests_total{model="test/gpt",provider="none",status="error"}'] == 1
    assert values['switchpoint_errors_total{type="provider"}'] == 1
    assert values['switchpoint_tokens_total{kind="prompt",model="test/gpt",provider="up"}'] == 14
    assert values['switchpoint_tokens_total{kind="completion",model="test/gpt",provider="up"}'] == 37
    assert abs(values['switchpoint_cost_usd_total{model="test/gpt",provider="up"}'] - 2.43e-05) < 1e-12
    assert values["switchpoint_overhead_seconds_count"] == 2
    assert values['switchpoint_request_duration_seconds_count{model="test/gpt",provider="up"}'] == 1
    assert values['switchpoint_upstream_seconds_count{model="test/gpt",provider="up"}'] == 1
    assert values["switchpoint_ledger_backlog"] == 0


def test_every_request_is_counted_by_route_and_status(gateway, upstream):
    """Requests refused before the engine (no key, a bad key, no such route, an unknown model) are
    counted by their path template, however many distinct paths clients send."""
    def call(method: str, path: str, key: str | None = TEST_KEY, body: bytes | None = None) -> int:
        request = urllib.request.Request(f"{gateway.url}{path}", data=body, method=method)
        if key:
            request.add_header("Authorization", f"Bearer {key}")
        request.add_header("Content-Type", "application/json")
        try:
            return urllib.request.urlopen(request, timeout=5).status
        except urllib.error.HTTPError as err:
            return err.code

    unknown = b'{"model": "nobody/nothing", "messages": [{"role": "user", "content": "x"}]}'
    assert call("POST", "/api/v1/chat/completions", key=None, body=unknown) == 401
    assert call("POST", "/v1/chat/completions", key="sk-sp-v1-" + "0" * 64, body=unknown) == 401
    assert call("POST", "/api/v1/chat/completions", body=unknown) == 400
    assert call("GET", "/api/v1/keys/abc", key=None) == 401
    assert call("GET", "/api/v1/keys/def", key=None) == 401
    for n in range(3):
        assert call("GET", f"/nothing/here/{n}") == 404
    values = scrape(gateway)
    http = {k: v for k, v in values.items() if k.startswith("switchpoint_http_requests_total")}
    assert http['switchpoint_http_requests_total{method="POST",route="/api/v1/chat/completions",status="401"}'] == 2
    assert http['switchpoint_http_requests_total{method="POST",route="/api/v1/chat/completions",status="400"}'] == 1
    assert http['switchpoint_http_requests_total{method="GET",route="/api/v1/keys/{hash}",status="401"}'] == 2
    assert http['switchpoint_http_requests_total{method="GET",route="unmatched",status="404"}'] == 3


def test_access_log_has_one_line_per_request(make_gateway, caplog):
    gateway = make_gateway()
    with caplog.at_level(logging.INFO, logger="switchpoint.access"):
        request = urllib.request.Request(f"{gateway.url}/api/v1/key", headers={
            "Authorization": f"Bearer {TEST_KEY}", "X-Request-Id": "req-access-1"})
        assert urllib.request.urlopen(request, timeout=5).status == 200
        with pytest.raises(urllib.error.HTTPError):
            urllib.request.urlopen(f"{gateway.url}/api/v1/credits", timeout=5)
        lines = access_lines(caplog, 2)
    assert len(lines) == 2
    method, path, status, key, latency, request_id = lines[0].split(" ")
    assert (method, path, status, key, request_id) == ("GET", "/api/v1/key", "200", f"key={key_label(TEST_KEY)}",
                                                       "id=req-access-1")
    assert latency.endswith("ms") and float(latency[:-2]) >= 0
    assert lines[1].startswith("GET /api/v1/credits 401 key=- ")


def access_lines(caplog, count: int) -> list[str]:
    """The access log's lines, once there are `count` (a line is written just after its response)."""
    deadline = time.monotonic() + 5
    while True:
        lines = [r.getMessage() for r in caplog.records if r.name == "switchpoint.access"]
        if len(lines) >= count or time.monotonic() > deadline:
            return lines
        time.sleep(0.01)


def test_access_log_can_be_turned_off(make_gateway, caplog):
    gateway = make_gateway(server={"access_log": False})
    with caplog.at_level(logging.INFO, logger="switchpoint.access"):
        urllib.request.urlopen(f"{gateway.url}/healthz", timeout=5)
    assert not [r for r in caplog.records if r.name == "switchpoint.access"]
    assert scrape(gateway)['switchpoint_http_requests_total{method="GET",route="/healthz",status="200"}'] == 1
