"""/metrics (Prometheus) and the overhead header."""

from __future__ import annotations

import urllib.request

import openai
import pytest

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
