"""Model variants through the HTTP API: what each does to the upstream request or the endpoint chosen."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from ..conftest import Gateway, base_config
from ..upstream import Reply, Upstream
from .conftest import CHAT, USER, ep, post, routing_providers, sdk, tried

OK = Reply.file("openai/chat_text.response.json")
MODELS = [
    {"id": "var/long", "name": "Long", "context_length": 128000,
     "endpoints": [ep("up", 1), ep("backup", 2, context_length=1000000, extended_context=True)]},
    {"id": "var/tools", "name": "Tools",
     "endpoints": [ep("up", 1, tool_quality=0.4), ep("backup", 2), ep("third", 3, tool_quality=0.9)]},
]


@pytest.fixture
def varied(make_gateway: Callable[..., Gateway], upstream: Upstream, tmp_path: Path) -> Gateway:
    for path in ("/v1", "/backup/v1", "/third/v1", "/or/api/v1"):
        upstream.always(path + CHAT, OK)
    return make_gateway(providers=routing_providers(upstream),
                        models=[*base_config(upstream, tmp_path)["models"], *MODELS])


def test_thinking_turns_reasoning_on_upstream(varied: Gateway, upstream: Upstream) -> None:
    reply = sdk(varied).chat.completions.create(model="test/routed:thinking", messages=USER)
    assert reply.model == "test/routed"
    sent = upstream.hits("/or/api/v1" + CHAT)[-1].json
    assert sent["reasoning"] == {"enabled": True}
    sdk(varied).chat.completions.create(model="test/routed:thinking", messages=USER,
                                        extra_body={"reasoning": {"max_tokens": 2000}})
    assert upstream.hits("/or/api/v1" + CHAT)[-1].json["reasoning"] == {"max_tokens": 2000, "enabled": True}
    sdk(varied).chat.completions.create(model="test/routed:thinking", messages=USER,
                                        extra_body={"reasoning": {"effort": "none", "exclude": True}})
    assert upstream.hits("/or/api/v1" + CHAT)[-1].json["reasoning"] == {"exclude": True, "enabled": True}
    sdk(varied).chat.completions.create(model="test/routed", messages=USER)
    assert "reasoning" not in upstream.hits("/or/api/v1" + CHAT)[-1].json


def test_thinking_applies_to_its_own_model_only(varied: Gateway, upstream: Upstream) -> None:
    upstream.queue("/or/api/v1" + CHAT, Reply.json({"error": {"message": "down"}}, status=500))
    reply = sdk(varied).chat.completions.create(model="test/routed", messages=USER,
                                                extra_body={"models": ["test/routed", "test/gpt:thinking"]})
    assert reply.model == "test/gpt"
    assert "reasoning" not in upstream.hits("/or/api/v1" + CHAT)[-1].json


def test_extended_routes_to_the_extended_context_endpoint(varied: Gateway, upstream: Upstream) -> None:
    for _ in range(6):
        assert sdk(varied).chat.completions.create(model="var/long:extended", messages=USER).model == "var/long"
    assert set(tried(upstream)) == {"backup"}
    missing = post(varied, {"model": "test/gpt:extended", "messages": USER})
    assert missing.status_code == 404
    assert missing.json()["error"]["metadata"]["excluded_by"] == ["extended"]


def test_exacto_orders_by_tool_quality(varied: Gateway, upstream: Upstream) -> None:
    for _ in range(4):
        sdk(varied).chat.completions.create(model="var/tools:exacto", messages=USER)
    assert tried(upstream) == ["third"] * 4
    upstream.queue("/third/v1" + CHAT, Reply.json({"error": {"message": "bad"}}, status=500))
    upstream.received.clear()
    sdk(varied).chat.completions.create(model="var/tools:exacto", messages=USER)
    assert tried(upstream) == ["third", "up"]  # then the next best quality, not the cheapest
