"""Prompt-cache stickiness end to end: two gateway replicas sharing a real Redis keep a conversation on
the endpoint that served it, until the client orders its own way or the endpoint fails; the generation
says when stickiness chose the endpoint."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from ..conftest import Gateway, base_config
from ..upstream import Reply, Upstream
from .conftest import CHAT, call, ep, generation, post, routing_providers

OK = Reply.file("openai/chat_text.response.json")
STREAM = Reply.sse("openai/chat_stream_text_usage.sse")
CACHED = {"input_cache_read": "0.0000001"}
MODELS = [
    {"id": "st/cached", "name": "Cached", "endpoints": [
        {**ep("up", 1), "pricing": {**ep("up", 1)["pricing"], **CACHED}},
        {**ep("backup", 1), "pricing": {**ep("backup", 1)["pricing"], **CACHED}}]},
]
SYSTEM = {"role": "system", "content": "You are a terse assistant. " * 20}


@pytest.fixture
def replicas(make_gateway: Callable[..., Gateway], upstream: Upstream, tmp_path: Path,
             redis_url: str) -> tuple[Gateway, Gateway]:
    for path in ("/v1", "/backup/v1"):
        upstream.always(path + CHAT, OK)
    models = [*base_config(upstream, tmp_path)["models"], *MODELS]
    return tuple(make_gateway(providers=routing_providers(upstream), models=models, state=redis_url)
                 for _ in range(2))  # type: ignore[return-value]


def turn(gateway: Gateway, n: int, **extra: Any) -> tuple[str, bool]:
    """Turn `n` of the same conversation: (provider that served, whether stickiness chose it)."""
    messages = [SYSTEM, {"role": "user", "content": "Plan my week."}]
    for i in range(n):
        messages += [{"role": "assistant", "content": f"Step {i}."}, {"role": "user", "content": "And then?"}]
    answer = post(gateway, {"model": "st/cached", "messages": messages, **extra})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    gen = generation(gateway, body["id"])
    assert gen["sticky"] is bool((body.get("router") or {}).get("sticky"))
    return body["provider"], gen["sticky"]


def served_by(upstream: Upstream) -> list[str]:
    return ["backup" if r.path.startswith("/backup/") else "up" for r in upstream.received if r.path.endswith(CHAT)]


def test_a_conversation_stays_on_its_endpoint_across_replicas(replicas: tuple[Gateway, Gateway],
                                                               upstream: Upstream) -> None:
    first, second = replicas
    assert turn(first, 0, provider={"ignore": ["up"]}) == ("backup", False)  # filters keep stickiness
    for n in range(1, 9):  # both replicas, growing conversation: always the same endpoint
        assert turn(replicas[n % 2], n) == ("backup", True)
    assert served_by(upstream) == ["backup"] * 9
    # the client's own order wins, and does not move the conversation
    assert turn(second, 9, provider={"sort": "price", "allow_fallbacks": True}) == ("up", False)
    assert turn(first, 9, provider={"order": ["up"]}) == ("up", False)
    assert turn(first, 10) == ("backup", True)


def test_an_unhealthy_endpoint_is_left_and_the_conversation_moves(replicas: tuple[Gateway, Gateway],
                                                                  upstream: Upstream) -> None:
    first, second = replicas
    assert turn(first, 0, provider={"ignore": ["up"]}) == ("backup", False)
    upstream.queue("/backup/v1" + CHAT, Reply.json({"error": {"message": "overloaded"}}, status=500))
    assert turn(first, 1) == ("up", False)  # the remembered endpoint failed: normal routing served it
    for n in range(2, 6):
        assert turn(replicas[n % 2], n) == ("up", True)


def test_a_session_id_names_the_conversation_and_streams_stick_too(replicas: tuple[Gateway, Gateway],
                                                                    upstream: Upstream) -> None:
    first, second = replicas
    upstream.always("/backup/v1" + CHAT, STREAM)
    upstream.always("/v1" + CHAT, STREAM)

    def ask(gateway: Gateway, text: str, **extra: Any) -> str:
        answer = call(gateway, "POST", "/api/v1/chat/completions",
                      {"model": "st/cached", "messages": [{"role": "user", "content": text}], "stream": True,
                       "session_id": "conversation-7", **extra})
        assert answer.status_code == 200, answer.text
        return served_by(upstream)[-1]

    assert ask(first, "hello", provider={"ignore": ["up"]}) == "backup"
    assert {ask(replicas[i % 2], f"question {i}") for i in range(8)} == {"backup"}


def test_no_state_call_for_a_model_without_a_cheaper_cached_price(make_gateway: Callable[..., Gateway],
                                                                   upstream: Upstream, tmp_path: Path) -> None:
    upstream.always("/v1" + CHAT, OK)
    upstream.always("/backup/v1" + CHAT, OK)
    gateway = make_gateway(providers=routing_providers(upstream),
                           models=[*base_config(upstream, tmp_path)["models"], *MODELS])
    state, reads = gateway.services.state, []
    lookup = state.sticky_get

    async def counted(key: str) -> str | None:
        reads.append(key)
        return await lookup(key)

    state.sticky_get = counted
    messages = [SYSTEM, {"role": "user", "content": "hi"}]
    assert post(gateway, {"model": "test/fallback", "messages": messages}).status_code == 200
    assert post(gateway, {"model": "st/cached", "messages": messages, "provider": {"sort": "price"}}).status_code == 200
    assert reads == []
    assert post(gateway, {"model": "st/cached", "messages": messages}).status_code == 200
    assert len(reads) == 1
