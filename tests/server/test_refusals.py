"""Requests refused before any upstream attempt leave a trace: a ledger row (status `refused` or, for
a stream the client left before its first token, `cancelled`, with the reason and no cost) that
/api/v1/activity, /generation and the dashboard show, without changing token or cost sums."""

from __future__ import annotations

import socket
import time
from typing import Any

import httpx2 as httpx

from switchpoint.accounting.keys import hash_key

from .. import replies
from ..conftest import ADMIN_KEY, TEST_KEY, Gateway
from ..dashboard.helpers import get_json, login
from ..upstream import Reply

CHAT = "/v1/chat/completions"
USER = [{"role": "user", "content": "hi"}]


def post(gateway: Gateway, key: str = TEST_KEY, **body: Any) -> httpx.Response:
    return httpx.post(f"{gateway.url}/api/v1/chat/completions", json={"model": "test/gpt", "messages": USER, **body},
                      headers={"authorization": f"Bearer {key}"}, timeout=20)


def rows_by_status(gateway: Gateway) -> list[tuple[str, int, str, int, int, int]]:
    return [(r["status"], r["http_status"], r["model"], r["cost_nanos"], r["prompt_tokens"], r["completion_tokens"])
            for r in gateway.ledger()]


def test_refusals_are_in_the_ledger_activity_and_dashboard(make_gateway: Any, upstream: Any) -> None:
    gateway = make_gateway(keys=[{"name": "test", "key": TEST_KEY, "limit": 0.0001,
                                  "rate_limit": {"requests": 2, "interval": "1m"}}])
    upstream.always(CHAT, replies.chat(10, 20))
    assert post(gateway, max_tokens=10).status_code == 200
    assert post(gateway, model="nobody/nothing").status_code == 400          # unknown model
    assert post(gateway, max_tokens=1000).status_code == 402                   # the budget cannot cover it
    assert post(gateway, messages="not a list").status_code == 400            # invalid body
    assert post(gateway).status_code == 429                                   # the 3rd counted in a minute
    served = gateway.ledger()[0]
    assert rows_by_status(gateway) == [
        ("success", 200, "test/gpt", served["cost_nanos"], 10, 20),
        ("refused", 400, "nobody/nothing", 0, 0, 0),
        ("refused", 402, "test/gpt", 0, 0, 0),
        ("refused", 400, "test/gpt", 0, 0, 0),
        ("refused", 429, "test/gpt", 0, 0, 0),
    ]
    reasons = [r["error"] for r in gateway.ledger()[1:]]
    assert reasons[0] == "nobody/nothing is not a valid model ID"
    assert reasons[2].startswith("messages:") and reasons[3] == "Rate limit exceeded: requests."
    activity = httpx.get(f"{gateway.url}/api/v1/activity", headers={"authorization": f"Bearer {ADMIN_KEY}"},
                         params={"by": "model"}, timeout=10).json()["data"]
    by_model: dict[str, dict[str, float]] = {}
    for row in activity:  # one row per day, model and provider
        sums = by_model.setdefault(row["model"], {})
        for name in ("requests", "errors", "prompt_tokens", "completion_tokens", "usage"):
            sums[name] = sums.get(name, 0) + row[name]
    assert by_model["test/gpt"] == {"requests": 4, "errors": 3, "prompt_tokens": 10, "completion_tokens": 20,
                                    "usage": served["cost_nanos"] / 1e9}
    assert by_model["nobody/nothing"] == {"requests": 1, "errors": 1, "prompt_tokens": 0, "completion_tokens": 0,
                                          "usage": 0}
    shown = get_json(gateway, "/dashboard/api/generations?status=refused", login(gateway))["generations"]
    assert sorted(g["http_status"] for g in shown) == [400, 400, 402, 429]
    assert all(g["errors"] == 1 and g["cost"] == 0 for g in shown)


def test_disabled_key_and_open_circuit_are_recorded(make_gateway: Any, upstream: Any) -> None:
    gateway = make_gateway(routing={"breaker": {"consecutive_failures": 1, "cooldown": 60}})
    upstream.always(CHAT, Reply.file("openai/error_500_server_error.json", status=500))
    assert post(gateway).status_code == 502       # the upstream failed: its circuit opens
    assert post(gateway).status_code == 503       # refused: no endpoint is healthy
    response = httpx.patch(f"{gateway.url}/api/v1/keys/{hash_key(TEST_KEY)}", json={"disabled": True},
                           headers={"authorization": f"Bearer {ADMIN_KEY}"}, timeout=10)
    assert response.status_code == 200
    gateway.services.keys.forget(hash_key(TEST_KEY))
    assert post(gateway).status_code == 403
    assert [(s, h) for s, h, *_ in rows_by_status(gateway)] == [("error", 502), ("refused", 503), ("refused", 403)]
    assert {r["key_hash"] for r in gateway.ledger()} == {hash_key(TEST_KEY)}


def test_stream_cancelled_before_the_first_token_is_recorded(gateway: Gateway, upstream: Any) -> None:
    upstream.always(CHAT, Reply.sse("openai/chat_stream_text_usage.sse", delay=3))
    body = b'{"model": "test/gpt", "stream": true, "messages": [{"role": "user", "content": "hi"}]}'
    with socket.create_connection(("127.0.0.1", gateway.port), timeout=5) as sock:
        sock.sendall(b"POST /api/v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                     b"Authorization: Bearer " + TEST_KEY.encode() + b"\r\n"
                     b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body)
        assert sock.recv(4096).startswith(b"HTTP/1.1 200")  # the keep-alive comments opened the stream
    deadline = time.monotonic() + 5
    while not gateway.ledger() and time.monotonic() < deadline:
        time.sleep(0.05)
    [row] = gateway.ledger()
    assert (row["status"], row["http_status"], row["cost_nanos"], row["prompt_tokens"]) == ("cancelled", 499, 0, 0)
    assert row["error"] == "client disconnected before the first token"
