"""Budgets end to end: a real gateway, the upstream stand-in and the openai SDK."""

from __future__ import annotations

import asyncio
import json
import time
from decimal import Decimal
from typing import Any

import httpx2 as httpx
import openai
import pytest

from switchpoint.accounting.keys import hash_key

from .. import replies
from ..conftest import TEST_KEY
from ..upstream import Reply
from .conftest import admin, chat, get, key_config, sdk, spent_counter

PROMPT, COMPLETION = Decimal("0.00000015"), Decimal("0.0000006")


def nanos(prompt: int, completion: int, markup: Decimal = Decimal(0)) -> int:
    upstream = (prompt * PROMPT + completion * COMPLETION) * 1_000_000_000
    return int(upstream) + int(upstream * markup / 100)


def test_usage_cost_generation_and_ledger_agree(gateway: Any, client: openai.OpenAI, upstream: Any) -> None:
    upstream.always("/v1/chat/completions", replies.chat(1200, 345, reasoning=100))
    response = client.chat.completions.create(model="test/gpt", messages=[{"role": "user", "content": "hi"}])
    expected = nanos(1200, 345)
    usage: Any = response.usage
    assert usage.cost == expected / 1e9
    prompt_side, completion_side = nanos(1200, 0), nanos(0, 345)
    assert usage.cost_details == {"upstream_inference_cost": expected / 1e9,
                                  "upstream_inference_prompt_cost": prompt_side / 1e9,
                                  "upstream_inference_completions_cost": completion_side / 1e9, "markup": 0.0}
    assert prompt_side + completion_side == expected
    assert usage.completion_tokens_details.reasoning_tokens == 100
    [row] = gateway.ledger()
    assert (row["cost_nanos"], row["markup_nanos"], row["reasoning_tokens"]) == (expected, 0, 100)
    stats = get(gateway, "/generation", id=response.id).json()["data"]
    assert stats["total_cost"] == stats["usage"] == expected / 1e9
    assert stats["upstream_inference_cost"] == expected / 1e9 and stats["markup"] == 0


def test_markup_is_charged_and_shown_apart(make_gateway: Any, upstream: Any) -> None:
    backup = {"type": "openai", "base_url": f"{upstream.url}/backup/v1", "api_key": "k", "max_retries": 0, "markup": 25}
    gateway = make_gateway(markup=10, providers={"backup": backup})
    upstream.always("/v1/chat/completions", replies.chat(1000, 1000))
    response: Any = sdk(gateway).chat.completions.create(model="test/gpt",
                                                          messages=[{"role": "user", "content": "hi"}])
    upstream_nanos = nanos(1000, 1000)
    assert response.usage.cost_details == {"upstream_inference_cost": upstream_nanos / 1e9,
                                           "upstream_inference_prompt_cost": nanos(1000, 0) / 1e9,
                                           "upstream_inference_completions_cost": nanos(0, 1000) / 1e9,
                                           "markup": upstream_nanos / 10 / 1e9}
    assert response.usage.cost == pytest.approx(upstream_nanos * 1.1 / 1e9)
    [row] = gateway.ledger()
    assert row["markup_nanos"] == upstream_nanos // 10 and row["cost_nanos"] == upstream_nanos + upstream_nanos // 10
    # the backup provider has its own markup
    upstream.always("/v1/chat/completions", Reply.json({"error": {"message": "down"}}, status=500))
    upstream.always("/backup/v1/chat/completions", replies.chat(1000, 1000))
    response = sdk(gateway).chat.completions.create(model="test/fallback", messages=[{"role": "user", "content": "x"}])
    backup = (1000 * Decimal("0.0000003") + 1000 * Decimal("0.0000012")) * 1_000_000_000
    assert response.usage.cost_details["markup"] == float(backup / 4 / Decimal(1e9))


def test_embeddings_are_priced(gateway: Any, client: openai.OpenAI, upstream: Any) -> None:
    upstream.always("/v1/embeddings", replies.embeddings(prompt=5000))
    response: Any = client.embeddings.create(model="test/embed", input="some text")
    assert response.usage.cost == 5000 * 0.00000002
    [row] = gateway.ledger()
    assert row["api_type"] == "embeddings" and row["cost_nanos"] == 100_000


def test_402_names_max_tokens_and_403_once_spent(make_gateway: Any, upstream: Any) -> None:
    # $0.0001 covers one request of max_tokens 100 (≤ $0.00006 + prompt), not one of 1000
    gateway = make_gateway(keys=key_config(limit=0.0001))
    upstream.always("/v1/chat/completions", replies.chat(10, 100))
    refused = chat(gateway, max_tokens=1000)
    assert refused.status_code == 402
    error = refused.json()["error"]
    assert error["message"].startswith("This request requires more credits, or fewer max_tokens. You requested up "
                                       "to 1000 tokens, but can only afford ")
    affordable = error["metadata"]["affordable_tokens"]
    assert 100 < affordable < 1000 and f"afford {affordable}." in error["message"]
    assert chat(gateway, max_tokens=affordable).status_code == 200
    assert chat(gateway, max_tokens=100).status_code == 402  # 61,500 of 100,000 nano-USD spent
    spent = sum(r["cost_nanos"] for r in gateway.ledger())
    assert spent == 61_500
    assert get(gateway, "/key").json()["data"]["limit_remaining"] == pytest.approx((100_000 - spent) / 1e9)
    # lowered below what was spent: the limit is exceeded
    assert admin(gateway, "PATCH", f"/keys/{hash_key(TEST_KEY)}", json={"limit": 0.00005}).status_code == 200
    response = chat(gateway, max_tokens=1)
    assert response.status_code == 403
    assert response.json()["error"]["message"] == "Key limit exceeded (total limit). Raise the key's limit."
    assert [r["http_status"] for r in gateway.ledger()] == [402, 200, 402, 403]


def test_without_max_tokens_the_endpoint_maximum_is_reserved(make_gateway: Any, upstream: Any) -> None:
    # test/gpt may write 4096 tokens: $0.0025 worst case; a $0.002 limit cannot cover it
    gateway = make_gateway(keys=key_config(limit=0.002))
    upstream.always("/v1/chat/completions", replies.chat(10, 10))
    refused = chat(gateway)
    assert refused.status_code == 402 and "You requested up to 4096 tokens" in refused.json()["error"]["message"]
    assert chat(gateway, max_tokens=2000).status_code == 200


async def test_no_overspend_under_concurrency(make_gateway: Any, upstream: Any) -> None:
    gateway = make_gateway(keys=key_config(limit=0.001))
    upstream.always("/v1/chat/completions", replies.chat(40, 150))  # ~$0.000096 each, ~$0.00013 reserved

    async def burst() -> list[int]:
        async with httpx.AsyncClient(timeout=20) as http:
            async def one() -> int:
                response = await http.post(f"{gateway.url}/api/v1/chat/completions",
                                           json={"model": "test/gpt", "max_tokens": 200,
                                                 "messages": [{"role": "user", "content": "hi"}]},
                                           headers={"authorization": f"Bearer {TEST_KEY}"})
                return response.status_code
            return await asyncio.gather(*(one() for _ in range(60)))

    statuses = gateway.loop.run(burst())  # the gateway's own loop: requests really overlap
    assert set(statuses) <= {200, 402, 403}
    rows = gateway.ledger()
    spent = sum(r["cost_nanos"] for r in rows)
    assert statuses.count(200) == sum(r["status"] == "success" for r in rows) >= 7
    assert spent <= 1_000_000
    assert spent_counter(gateway) == spent


def test_failed_attempts_release_their_reservations(make_gateway: Any, upstream: Any) -> None:
    gateway = make_gateway(keys=key_config(limit=0.01))
    upstream.always("/v1/chat/completions", Reply.json({"error": {"message": "boom"}}, status=500))
    upstream.always("/backup/v1/chat/completions", replies.chat(20, 100))
    for _ in range(3):  # sorted by price: up first every time, though it just failed
        assert chat(gateway, model="test/fallback", max_tokens=100, provider={"sort": "price"}).status_code == 200
    rows = gateway.ledger()
    assert len(rows) == 3 and all([a["status"] for a in json.loads(r["attempts"])] == [500, 200] for r in rows)
    spent = spent_counter(gateway)
    assert spent == sum(r["cost_nanos"] for r in rows)
    assert get(gateway, "/key").json()["data"]["limit_remaining"] == pytest.approx(0.01 - spent / 1e9)


def test_a_cancelled_stream_is_settled_and_recorded(make_gateway: Any, upstream: Any) -> None:
    gateway = make_gateway(keys=key_config(limit=1.0))
    upstream.always("/v1/chat/completions", replies.stream(["word "] * 200, pause=0.02))
    with httpx.stream("POST", f"{gateway.url}/api/v1/chat/completions",
                      json={"model": "test/gpt", "stream": True, "max_tokens": 500,
                            "messages": [{"role": "user", "content": "hi"}]},
                      headers={"authorization": f"Bearer {TEST_KEY}"}, timeout=20) as response:
        received = 0
        for line in response.iter_lines():
            received += line.startswith("data:")
            if received == 10:
                break
    deadline = time.monotonic() + 5
    while not (rows := gateway.ledger()) and time.monotonic() < deadline:
        time.sleep(0.05)
    [row] = rows
    assert row["status"] == "cancelled" and row["usage_estimated"] and row["completion_tokens"] > 0
    assert row["cost_nanos"] > 0
    assert spent_counter(gateway) == row["cost_nanos"]
    time.sleep(0.3)
    assert upstream.disconnects == 1  # the upstream generation was abandoned too


def test_spend_survives_a_restart(make_gateway: Any, upstream: Any, tmp_path: Any) -> None:
    database = f"sqlite:///{tmp_path / 'shared.db'}"
    upstream.always("/v1/chat/completions", replies.chat(10, 100))
    first = make_gateway(database=database, keys=key_config(limit=0.0002, limit_reset="daily"))
    while chat(first, max_tokens=100).status_code == 200:
        pass
    spent = sum(r["cost_nanos"] for r in first.ledger())
    first.stop()
    second = make_gateway(database=database, keys=key_config(limit=0.0002, limit_reset="daily"))
    info = get(second, "/key").json()["data"]
    assert info["usage_daily"] == info["usage"] == spent / 1e9
    assert chat(second, max_tokens=100).status_code in (402, 403)
    assert sum(r["cost_nanos"] for r in second.ledger()) == spent
