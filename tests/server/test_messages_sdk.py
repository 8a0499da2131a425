"""The Anthropic Messages API through the gateway, driven by the real `anthropic` SDK, against every
provider type of the upstream stand-in: Anthropic (passed through byte for byte), OpenAI-compatible,
Gemini and Ollama (translated both ways)."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from typing import Any

import anthropic
import httpx
import pytest

from ..conftest import TEST_KEY, Gateway
from ..upstream import FIXTURES, Reply, Upstream, fixture

PRICE = {"prompt": "0.000003", "completion": "0.000015"}
ANTHROPIC_KEY = "ant-upstream-key"
PATHS = {
    "anthropic": "/anthropic/v1/messages",
    "openai": "/v1/chat/completions",
    "gemini": "/gemini/v1beta/models/gemini-2.5-flash:generateContent",
    "gemini_stream": "/gemini/v1beta/models/gemini-2.5-flash:streamGenerateContent",
    "ollama": "/ollama/api/chat",
}
WEATHER = {"name": "get_weather", "description": "Weather in a city",
           "input_schema": {"type": "object", "properties": {"location": {"type": "string"}},
                            "required": ["location"]}}
PNG = base64.b64encode((FIXTURES.parent / "fixtures" / "INDEX.md").read_bytes()[:64]).decode()


def _model(model_id: str, provider: str, model: str) -> dict[str, Any]:
    return {"id": model_id, "name": model_id, "context_length": 200000, "max_completion_tokens": 64000,
            "endpoints": [{"provider": provider, "model": model, "pricing": PRICE}]}


@pytest.fixture
def gateway(make_gateway: Callable[..., Gateway], upstream: Upstream) -> Gateway:
    common = {"max_retries": 0, "timeout": 5}
    providers = {
        "anthropic": {"type": "anthropic", "base_url": f"{upstream.url}/anthropic", "api_key": ANTHROPIC_KEY, **common},
        "gemini": {"type": "gemini", "base_url": f"{upstream.url}/gemini", "api_key": "gem-key", **common},
        "ollama": {"type": "ollama", "base_url": f"{upstream.url}/ollama", **common},
    }
    models = [
        _model("anthropic/claude-sonnet-4.5", "anthropic", "claude-sonnet-4-5-20250929"),
        _model("test/gpt", "up", "gpt-4o-mini"),
        _model("test/gemini", "gemini", "gemini-2.5-flash"),
        _model("test/qwen", "ollama", "qwen3:32b"),
    ]
    upstream.require("/anthropic/", "x-api-key", ANTHROPIC_KEY, Reply.json(
        {"type": "error", "error": {"type": "authentication_error", "message": "invalid x-api-key"}}, status=401))
    return make_gateway(providers=providers, models=models,
                        messages={"model_aliases": {"claude-haiku-*": "test/qwen", "local": "test/gemini"}})


def sdk(gateway: Gateway, base: str = "", **kw: Any) -> anthropic.Anthropic:
    return anthropic.Anthropic(base_url=gateway.url + base, api_key=TEST_KEY, max_retries=0, timeout=20, **kw)


# -- Anthropic endpoint: passthrough ---------------------------------------------------------------

@pytest.mark.parametrize("base", ["", "/api", "/api/v1"])
def test_every_base_url_reaches_the_surface(gateway: Gateway, upstream: Upstream, base: str) -> None:
    upstream.queue(PATHS["anthropic"], Reply.file("anthropic/messages_text.response.json"))
    message = sdk(gateway, base).messages.create(model="claude-sonnet-4-5", max_tokens=100,
                                                 messages=[{"role": "user", "content": "Hi"}])
    assert message.content[0].type == "text"


def test_passthrough_is_byte_for_byte_both_ways(gateway: Gateway, upstream: Upstream) -> None:
    raw = fixture("anthropic/messages_web_search.response.json")
    upstream.queue(PATHS["anthropic"], Reply(body=raw))
    body = {"model": "claude-sonnet-4-5-20250929", "max_tokens": 1024,
            "system": [{"type": "text", "text": "Be brief.", "cache_control": {"type": "ephemeral"}}],
            "messages": [{"role": "user", "content": "News?"}],
            "tools": [{"type": "web_search_20250305", "name": "web_search", "max_uses": 3}],
            "context_management": {"edits": [{"type": "clear_tool_uses_20250919"}]},
            "output_config": {"effort": "high"}, "metadata": {"user_id": "u-1"}}
    response = httpx.post(f"{gateway.url}/v1/messages", json=body, timeout=20,
                          headers={"x-api-key": TEST_KEY, "anthropic-version": "2023-06-01",
                                   "anthropic-beta": "context-management-2025-06-27"})
    assert response.status_code == 200
    assert response.content == raw
    assert float(response.headers["x-switchpoint-cost"]) > 0
    [hit] = upstream.hits(PATHS["anthropic"])
    assert hit.json == {**body, "model": "claude-sonnet-4-5-20250929"}
    assert hit.headers["anthropic-beta"] == "context-management-2025-06-27"
    assert hit.headers["x-api-key"] == ANTHROPIC_KEY
    [row] = gateway.ledger()
    assert (row["api_type"], row["model"], row["provider"]) == ("messages", "anthropic/claude-sonnet-4.5", "anthropic")
    assert row["id"] == response.headers["x-generation-id"]
    stats = httpx.get(f"{gateway.url}/api/v1/generation", params={"id": row["id"]},
                      headers={"authorization": f"Bearer {TEST_KEY}"}).json()["data"]
    assert stats["api_type"] == "messages"


def test_passthrough_stream_is_byte_for_byte(gateway: Gateway, upstream: Upstream) -> None:
    raw = fixture("anthropic/stream_thinking_tool_use.sse")
    upstream.queue(PATHS["anthropic"], Reply.sse(raw, split=37))
    body = {"model": "claude-sonnet-4-5", "max_tokens": 2048, "stream": True,
            "thinking": {"type": "enabled", "budget_tokens": 1024}, "tools": [WEATHER],
            "messages": [{"role": "user", "content": "Weather in Florence?"}]}
    with httpx.stream("POST", f"{gateway.url}/v1/messages", json=body, timeout=20,
                      headers={"x-api-key": TEST_KEY}) as response:
        assert response.status_code == 200
        got = b"".join(response.iter_bytes())
    assert got == raw
    [row] = gateway.ledger()
    assert row["api_type"] == "messages" and row["streamed"] and row["completion_tokens"] > 0


def test_sdk_stream_thinking_signature_and_tool_use_from_anthropic(gateway: Gateway, upstream: Upstream) -> None:
    upstream.queue(PATHS["anthropic"], Reply.sse("anthropic/stream_thinking_tool_use.sse"),
                   Reply.sse("anthropic/stream_thinking_tool_result.sse"))
    client = sdk(gateway)
    messages: list[Any] = [{"role": "user", "content": "Weather in Florence?"}]
    with client.messages.stream(model="claude-sonnet-4-5", max_tokens=4096, tools=[WEATHER],
                                thinking={"type": "enabled", "budget_tokens": 2048}, messages=messages) as stream:
        first = stream.get_final_message()
    thinking, *_, call = first.content
    assert thinking.type == "thinking" and thinking.signature.startswith("EsQDCkYICBgC")
    assert call.type == "tool_use" and call.input == {"location": "Florence, Italy"}
    messages += [{"role": "assistant", "content": [b.model_dump(exclude_none=True) for b in first.content]},
                 {"role": "user", "content": [{"type": "tool_result", "tool_use_id": call.id, "content": "25C sunny"}]}]
    with client.messages.stream(model="claude-sonnet-4-5", max_tokens=4096, tools=[WEATHER],
                                thinking={"type": "enabled", "budget_tokens": 2048}, messages=messages) as stream:
        final = stream.get_final_message()
    assert final.stop_reason == "end_turn"
    sent = upstream.hits(PATHS["anthropic"])[1].json
    assert sent["messages"][1]["content"][0]["signature"] == thinking.signature  # the signature round-trips


def test_count_tokens_passes_through_to_anthropic(gateway: Gateway, upstream: Upstream) -> None:
    upstream.queue("/anthropic/v1/messages/count_tokens", Reply.json({"input_tokens": 2095}))
    count = sdk(gateway).messages.count_tokens(model="claude-sonnet-4-5", tools=[WEATHER],
                                               messages=[{"role": "user", "content": "Hello"}])
    assert count.input_tokens == 2095
    [hit] = upstream.hits("/anthropic/v1/messages/count_tokens")
    assert hit.json["model"] == "claude-sonnet-4-5-20250929" and "max_tokens" not in hit.json


@pytest.mark.parametrize(("status", "body", "error"), [
    (429, "anthropic/error_429_rate_limit.json", anthropic.RateLimitError),
    (400, "anthropic/error_400_invalid_request.json", anthropic.BadRequestError),
    (500, "anthropic/error_500_api_error.json", anthropic.InternalServerError),
])
def test_upstream_errors_in_anthropics_envelope(gateway: Gateway, upstream: Upstream, status: int, body: str,
                                                error: type[Exception]) -> None:
    upstream.queue(PATHS["anthropic"], Reply.file(body, status, headers={"retry-after": "7"}))
    with pytest.raises(error) as caught:
        sdk(gateway).messages.create(model="claude-sonnet-4-5", max_tokens=10, messages=[{"role": "user", "content": "x"}])
    assert caught.value.body["type"] == "error"  # type: ignore[attr-defined]
    if status == 429:
        assert caught.value.response.headers["retry-after"] == "7"  # type: ignore[attr-defined]


# -- translated endpoints ---------------------------------------------------------------------------

def test_openai_endpoint_create_with_system_image_and_cache_usage(gateway: Gateway, upstream: Upstream) -> None:
    upstream.queue(PATHS["openai"], Reply.json({
        "id": "chatcmpl-1", "object": "chat.completion", "created": 1, "model": "gpt-4o-mini",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": "A tiny picture."}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 1200, "completion_tokens": 5, "total_tokens": 1205,
                  "prompt_tokens_details": {"cached_tokens": 1000}}}))
    message = sdk(gateway).messages.create(
        model="test/gpt", max_tokens=300, stop_sequences=["END"], extra_body={"temperature": 0.2, "top_p": 0.9},
        system=[{"type": "text", "text": "You describe images.", "cache_control": {"type": "ephemeral"}}],
        metadata={"user_id": "user-7"},
        messages=[{"role": "user", "content": [
            {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": PNG}},
            {"type": "text", "text": "What is this?"}]}])
    assert [b.type for b in message.content] == ["text"] and message.content[0].text == "A tiny picture."
    assert message.stop_reason == "end_turn"
    assert (message.usage.input_tokens, message.usage.cache_read_input_tokens, message.usage.output_tokens) == (200, 1000, 5)
    assert message.usage.model_extra and message.usage.model_extra["cost"] > 0
    sent = upstream.hits(PATHS["openai"])[0].json
    assert sent["messages"][0] == {"role": "system", "content": [{"type": "text", "text": "You describe images."}]}
    assert sent["messages"][1]["content"][0] == {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PNG}"}}
    assert (sent["max_tokens"], sent["temperature"], sent["top_p"], sent["stop"]) == (300, 0.2, 0.9, ["END"])
    assert sent["model"] == "gpt-4o-mini" and "user" in sent


def test_openai_endpoint_tool_round_trip_streamed(gateway: Gateway, upstream: Upstream) -> None:
    upstream.queue(PATHS["openai"], Reply.sse("openai/chat_stream_tool_call.sse"),
                   Reply.file("openai/chat_text.response.json"))
    client = sdk(gateway)
    tool = {"name": "get_capital", "description": "Capital of a country",
            "input_schema": {"type": "object", "properties": {"country": {"type": "string"}}}}
    messages: list[Any] = [{"role": "user", "content": "Capital of France?"}]
    events = []
    with client.messages.stream(model="test/gpt", max_tokens=200, tools=[tool], messages=messages,
                                tool_choice={"type": "any"}) as stream:
        for ev in stream:
            events.append(ev.type)
        first = stream.get_final_message()
    assert events[0] == "message_start" and events[-1] == "message_stop"
    assert "content_block_start" in events and "content_block_stop" in events
    [call] = first.content
    assert call.type == "tool_use" and call.name == "get_capital" and isinstance(call.input, dict) and call.input
    assert first.stop_reason == "tool_use"
    assert first.usage.output_tokens > 0
    messages += [{"role": "assistant", "content": [call.model_dump(exclude_none=True)]},
                 {"role": "user", "content": [{"type": "tool_result", "tool_use_id": call.id, "content": "Paris",
                                               "is_error": False}]}]
    second = client.messages.create(model="test/gpt", max_tokens=200, tools=[tool], messages=messages)
    assert second.content[0].type == "text"
    first_sent, second_sent = (h.json for h in upstream.hits(PATHS["openai"]))
    assert first_sent["tool_choice"] == "required"
    assert first_sent["tools"][0]["function"]["name"] == "get_capital"
    assert second_sent["messages"][1]["tool_calls"][0]["id"] == call.id
    assert second_sent["messages"][2] == {"role": "tool", "tool_call_id": call.id, "content": "Paris"}


def test_gemini_endpoint_tool_use_and_stream(gateway: Gateway, upstream: Upstream) -> None:
    upstream.queue(PATHS["gemini"], Reply.file("gemini/generateContent_functionCall.response.json"))
    upstream.queue(PATHS["gemini_stream"], Reply.events("gemini/streamGenerateContent_text.sse"))
    client = sdk(gateway)
    message = client.messages.create(model="local", max_tokens=200, tools=[WEATHER],
                                     messages=[{"role": "user", "content": "Weather?"}])
    assert message.stop_reason == "tool_use"
    assert any(b.type == "tool_use" and isinstance(b.input, dict) for b in message.content)
    with client.messages.stream(model="test/gemini", max_tokens=200,
                                messages=[{"role": "user", "content": "Hello"}]) as stream:
        text = "".join(stream.text_stream)
        final = stream.get_final_message()
    assert text and final.content[0].text == text and final.stop_reason == "end_turn"
    assert final.usage.input_tokens > 0


def test_ollama_endpoint_thinking_and_tools_streamed_via_alias(gateway: Gateway, upstream: Upstream) -> None:
    upstream.queue(PATHS["ollama"], Reply.ndjson("ollama/api_chat_tool_call_stream.ndjson"))
    with sdk(gateway).messages.stream(model="claude-haiku-4-5-20251001", max_tokens=500, tools=[WEATHER],
                                      thinking={"type": "enabled", "budget_tokens": 1024},
                                      messages=[{"role": "user", "content": "Weather in Paris?"}]) as stream:
        final = stream.get_final_message()
    kinds = [b.type for b in final.content]
    assert kinds == ["thinking", "tool_use", "tool_use"]
    assert final.content[0].thinking == "The user wants the weather in Paris."
    assert final.content[1].input == {"location": "Paris"} and final.content[2].input == {}
    assert final.stop_reason == "tool_use"
    sent = upstream.hits(PATHS["ollama"])[0].json
    assert sent["model"] == "qwen3:32b" and sent.get("think") is True


def test_count_tokens_estimate_without_an_anthropic_endpoint(gateway: Gateway) -> None:
    count = sdk(gateway).messages.count_tokens(model="test/gpt", messages=[{"role": "user", "content": "Hello " * 300}])
    assert count.input_tokens >= 600  # a conservative estimate: never below the real count


def test_server_tools_on_a_non_anthropic_endpoint_are_a_clear_400(gateway: Gateway, upstream: Upstream) -> None:
    with pytest.raises(anthropic.BadRequestError) as caught:
        sdk(gateway).messages.create(model="test/gpt", max_tokens=100,
                                     tools=[{"type": "web_search_20250305", "name": "web_search"}],
                                     messages=[{"role": "user", "content": "News?"}])
    assert "web_search" in str(caught.value) and not upstream.hits(PATHS["openai"])


# -- errors from the gateway itself -----------------------------------------------------------------

def test_gateway_errors_in_anthropics_envelope(gateway: Gateway) -> None:
    with pytest.raises(anthropic.AuthenticationError) as auth:
        anthropic.Anthropic(base_url=gateway.url, api_key="sk-wrong", max_retries=0).messages.create(
            model="test/gpt", max_tokens=10, messages=[{"role": "user", "content": "x"}])
    assert auth.value.body == {"type": "error", "error": {"type": "authentication_error", "message": "Invalid API key"}}  # type: ignore[attr-defined]
    with pytest.raises(anthropic.BadRequestError) as unknown:
        sdk(gateway).messages.create(model="nobody/nothing", max_tokens=10, messages=[{"role": "user", "content": "x"}])
    assert unknown.value.body["error"]["type"] == "invalid_request_error"  # type: ignore[attr-defined]
    response = httpx.post(f"{gateway.url}/v1/messages", content=b"{not json", timeout=10,
                          headers={"authorization": f"Bearer {TEST_KEY}"})
    assert response.status_code == 400 and response.json()["error"]["type"] == "invalid_request_error"
    response = httpx.post(f"{gateway.url}/v1/messages", json={"model": "test/gpt", "messages": []}, timeout=10,
                          headers={"x-api-key": TEST_KEY})
    assert response.json() == {"type": "error", "error": {"type": "invalid_request_error",
                                                          "message": "max_tokens: Field required: a positive integer"}}


def test_mid_stream_failure_is_an_error_event(gateway: Gateway, upstream: Upstream) -> None:
    upstream.queue(PATHS["openai"], Reply.sse("openai/chat_stream_midstream_error.sse", pause=0.05))
    with httpx.stream("POST", f"{gateway.url}/v1/messages", timeout=20, headers={"x-api-key": TEST_KEY},
                      json={"model": "test/gpt", "max_tokens": 50, "stream": True,
                            "messages": [{"role": "user", "content": "hi"}]}) as response:
        text = b"".join(response.iter_bytes()).decode()
    assert text.startswith("event: message_start"), text
    last = text.strip().split("\n\n")[-1]
    assert last.startswith("event: error\ndata: ")
    assert json.loads(last.split("data: ", 1)[1])["type"] == "error"


def test_keepalive_pings_while_upstream_is_silent(gateway: Gateway, upstream: Upstream) -> None:
    upstream.queue(PATHS["openai"], Reply.sse("openai/chat_stream_text_usage.sse", delay=0.8))
    with httpx.stream("POST", f"{gateway.url}/api/v1/messages", timeout=20, headers={"x-api-key": TEST_KEY},
                      json={"model": "test/gpt", "max_tokens": 50, "stream": True,
                            "messages": [{"role": "user", "content": "hi"}]}) as response:
        text = b"".join(response.iter_bytes()).decode()
    assert text.startswith('event: ping\ndata: {"type": "ping"}\n\n')
    assert "event: message_start" in text and text.endswith('event: message_stop\ndata: {"type":"message_stop"}\n\n')
    upstream.queue(PATHS["openai"], Reply.sse("openai/chat_stream_text_usage.sse", delay=0.8))
    with sdk(gateway).messages.stream(model="test/gpt", max_tokens=50,
                                      messages=[{"role": "user", "content": "hi"}]) as stream:
        assert stream.get_final_message().content[0].type == "text"  # the SDK skips pings, even the first


# -- first-class: failover, budgets, rate limits, the response cache ---------------------------------

def test_failover_before_the_first_byte(make_gateway: Callable[..., Gateway], upstream: Upstream) -> None:
    gateway = make_gateway()
    upstream.queue("/v1/chat/completions", Reply.file("openai/error_500_server_error.json", 500))
    upstream.queue("/backup/v1/chat/completions", Reply.sse("openai/chat_stream_text_usage.sse"))
    with sdk(gateway).messages.stream(model="test/fallback", max_tokens=100,
                                      extra_body={"provider": {"order": ["up", "backup"], "sort": None}},
                                      messages=[{"role": "user", "content": "hi"}]) as stream:
        final = stream.get_final_message()
    assert final.content[0].type == "text" and final.content[0].text
    [row] = gateway.ledger()
    assert row["provider"] == "backup" and row["api_type"] == "messages"
    assert [a["provider"] for a in json.loads(row["attempts"])] == ["up", "backup"]


def test_budget_refusal_and_rate_limit(make_gateway: Callable[..., Gateway], upstream: Upstream) -> None:
    gateway = make_gateway(keys=[{"name": "small", "key": TEST_KEY, "limit": 0.001,
                                  "rate_limit": {"requests": 1, "interval": 60}}])
    with pytest.raises(anthropic.APIStatusError) as budget:
        sdk(gateway).messages.create(model="test/gpt", max_tokens=4096, messages=[{"role": "user", "content": "x"}])
    assert budget.value.status_code == 402
    assert budget.value.body["error"]["type"] == "billing_error"  # type: ignore[index]
    assert not upstream.hits(PATHS["openai"])
    with pytest.raises(anthropic.RateLimitError) as limited:
        sdk(gateway).messages.create(model="test/gpt", max_tokens=10, messages=[{"role": "user", "content": "x"}])
    assert limited.value.body["error"]["type"] == "rate_limit_error"  # type: ignore[index]
    assert int(limited.value.response.headers["retry-after"]) >= 1


def test_response_cache_replays_messages_free(gateway: Gateway, upstream: Upstream) -> None:
    upstream.queue(PATHS["openai"], Reply.file("openai/chat_text.response.json"),
                   Reply.sse("openai/chat_stream_text_usage.sse"))
    client = sdk(gateway, default_headers={"x-switchpoint-cache": "true"})
    ask: dict[str, Any] = {"model": "test/gpt", "max_tokens": 50, "messages": [{"role": "user", "content": "hi"}]}
    first = client.messages.with_raw_response.create(**ask)
    again = client.messages.with_raw_response.create(**ask)
    assert again.headers["x-switchpoint-cache-status"] == "HIT" and again.headers["x-switchpoint-cost"] == "0"
    a, b = first.parse(), again.parse()
    assert a.content == b.content and b.id == again.headers["x-generation-id"] != a.id
    assert b.usage.model_extra == {"cost": 0}
    with client.messages.stream(**ask) as stream:
        streamed = stream.get_final_message()
    with client.messages.stream(**ask) as stream:
        replayed = stream.get_final_message()
    assert replayed.content == streamed.content and replayed.id != streamed.id
    assert len(upstream.hits(PATHS["openai"])) == 2
    rows = gateway.ledger()
    assert [(r["api_type"], r["cache_hit"]) for r in rows] == [("messages", False), ("messages", True)] * 2


def test_bearer_auth_as_anthropic_auth_token_sends_it(gateway: Gateway, upstream: Upstream) -> None:
    upstream.queue(PATHS["openai"], Reply.file("openai/chat_text.response.json"))
    client = anthropic.Anthropic(base_url=gateway.url + "/api/v1", auth_token=TEST_KEY, max_retries=0, timeout=20)
    message = client.messages.create(model="test/gpt", max_tokens=20, messages=[{"role": "user", "content": "hi"}])
    assert message.content[0].type == "text"
