"""Non-streaming chat through the real openai SDK, against the upstream stand-in."""

from __future__ import annotations

import asyncio
import json

import openai
import pytest

from ..conftest import TEST_KEY
from ..upstream import Reply, fixture

CHAT = "/v1/chat/completions"


def test_text_answer_has_openrouter_fields(gateway, upstream, client):
    upstream.queue(CHAT, Reply.file("openai/chat_text.response.json"))
    response = client.chat.completions.create(
        model="test/gpt", messages=[{"role": "user", "content": "What's the weather like in SF?"}])

    recorded = json.loads(fixture("openai/chat_text.response.json"))
    assert response.choices[0].message.content == recorded["choices"][0]["message"]["content"]
    assert response.id.startswith("gen-") and len(response.id.split("-")[2]) == 20
    assert response.model == "test/gpt"
    assert response.provider == "up"
    assert response.choices[0].finish_reason == "stop"
    assert response.choices[0].native_finish_reason == "stop"
    assert response.usage.prompt_tokens == recorded["usage"]["prompt_tokens"]
    assert response.usage.completion_tokens == recorded["usage"]["completion_tokens"]
    # 14 prompt tokens at $0.15/M + 37 completion tokens at $0.60/M
    assert response.usage.cost == pytest.approx(14 * 0.00000015 + 37 * 0.0000006, abs=1e-12)


def test_upstream_receives_clean_openai_body(gateway, upstream, client):
    upstream.queue(CHAT, Reply.file("openai/chat_text.response.json"))
    client.chat.completions.create(
        model="test/gpt", messages=[{"role": "user", "content": "hi"}], temperature=0.2, seed=7,
        extra_body={"provider": {"sort": "price"}, "transforms": [], "usage": {"include": True},
                    "some_vendor_flag": {"x": 1}, "models": ["test/gpt"]},
    )
    sent = upstream.hits(CHAT)[-1]
    body = sent.json
    assert sent.headers["authorization"] == "Bearer upstream-key"
    assert body["model"] == "gpt-4o-mini"
    assert body["messages"] == [{"role": "user", "content": "hi"}]
    assert body["temperature"] == 0.2 and body["seed"] == 7
    assert body["some_vendor_flag"] == {"x": 1}  # unknown parameters pass through
    for gateway_only in ("provider", "transforms", "usage", "models", "stream"):
        assert gateway_only not in body


def test_v1_alias_serves_the_same_api(gateway, upstream):
    upstream.queue(CHAT, Reply.file("openai/chat_text.response.json"))
    alias = openai.OpenAI(base_url=f"{gateway.url}/v1", api_key=TEST_KEY, max_retries=0)
    response = alias.chat.completions.create(model="test/gpt", messages=[{"role": "user", "content": "hi"}])
    assert response.provider == "up"


def test_async_client(gateway, upstream):
    upstream.always(CHAT, Reply.file("openai/chat_text.response.json"))

    async def go() -> list[str]:
        client = openai.AsyncOpenAI(base_url=f"{gateway.url}/api/v1", api_key=TEST_KEY, max_retries=0)
        results = await asyncio.gather(*[
            client.chat.completions.create(model="test/gpt", messages=[{"role": "user", "content": str(i)}])
            for i in range(8)])
        await client.close()
        return [r.id for r in results]

    ids = asyncio.run(go())
    assert len(set(ids)) == 8
    assert len(upstream.hits(CHAT)) == 8


def test_tool_calls_round_trip(gateway, upstream, client):
    upstream.queue(CHAT, Reply.file("openai/chat_parallel_tool_calls.response.json"),
                   Reply.file("openai/chat_text.response.json"))
    tools = [{"type": "function", "function": {"name": "get_weather", "parameters": {
        "type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}]
    first = client.chat.completions.create(model="test/gpt", tools=tools, tool_choice="required",
                                           messages=[{"role": "user", "content": "Weather in Edinburgh and Shanghai?"}])
    calls = first.choices[0].message.tool_calls
    recorded = json.loads(fixture("openai/chat_parallel_tool_calls.response.json"))["choices"][0]["message"]
    assert [c.id for c in calls] == [c["id"] for c in recorded["tool_calls"]]
    assert [json.loads(c.function.arguments) for c in calls] == [
        json.loads(c["function"]["arguments"]) for c in recorded["tool_calls"]]
    assert first.choices[0].finish_reason == "tool_calls"
    assert first.choices[0].message.content is None

    history = [{"role": "user", "content": "Weather in Edinburgh and Shanghai?"},
               first.choices[0].message.model_dump(exclude_none=True),
               *({"role": "tool", "tool_call_id": c.id, "content": "sunny"} for c in calls)]
    second = client.chat.completions.create(model="test/gpt", tools=tools, messages=history)
    assert second.choices[0].message.content
    sent = upstream.hits(CHAT)[-1].json
    assert [m["role"] for m in sent["messages"]] == ["user", "assistant", "tool", "tool"]
    assert sent["messages"][1]["tool_calls"][0]["id"] == calls[0].id
    assert sent["tools"] == tools


def test_json_mode_and_images_are_forwarded(gateway, upstream, client):
    upstream.queue(CHAT, Reply.file("openai/chat_text.response.json"))
    schema = {"type": "json_schema", "json_schema": {"name": "answer", "strict": True, "schema": {
        "type": "object", "properties": {"a": {"type": "string"}}, "required": ["a"], "additionalProperties": False}}}
    parts = [{"type": "text", "text": "What is in this image?"},
             {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo=", "detail": "low"}}]
    client.chat.completions.create(model="test/gpt", response_format=schema, messages=[{"role": "user", "content": parts}])
    sent = upstream.hits(CHAT)[-1].json
    assert sent["response_format"] == schema
    assert sent["messages"][0]["content"] == parts


def test_openrouter_upstream_gets_attribution_headers(gateway, upstream, client):
    upstream.queue("/or/api/v1/chat/completions", Reply.file("openrouter/chat_usage_cost.response.json"))
    response = client.chat.completions.create(
        model="test/routed", messages=[{"role": "user", "content": "hi"}],
        extra_headers={"HTTP-Referer": "https://example.app", "X-Title": "Example"},
        extra_body={"reasoning": {"effort": "low"}})
    sent = upstream.hits("/or/api/v1/chat/completions")[-1]
    assert sent.headers["http-referer"] == "https://example.app"
    assert sent.headers["x-title"] == "Example"
    assert sent.headers["authorization"] == "Bearer or-key"
    assert sent.json["model"] == "anthropic/claude-sonnet-4.5"
    assert sent.json["reasoning"] == {"effort": "low"}
    assert response.provider == "router"
    recorded = json.loads(fixture("openrouter/chat_usage_cost.response.json"))
    assert response.choices[0].message.content == recorded["choices"][0]["message"]["content"]


def test_legacy_completions_endpoint(gateway, upstream, client):
    upstream.queue(CHAT, Reply.file("openai/chat_text.response.json"))
    response = client.completions.create(model="test/gpt", prompt="Say hi")
    assert response.object == "text_completion"
    assert response.choices[0].text.startswith("I'm unable")
    assert upstream.hits(CHAT)[-1].json["messages"] == [{"role": "user", "content": "Say hi"}]


def test_embeddings_float_and_base64(gateway, upstream, client):
    upstream.always("/v1/embeddings", Reply.file("openai/embeddings_base64.response.json"))
    as_float = client.embeddings.create(model="test/embed", input="hello", encoding_format="float")
    as_default = client.embeddings.create(model="test/embed", input=["hello"])  # the SDK asks for base64
    assert len(as_float.data[0].embedding) == 128
    assert as_default.data[0].embedding == pytest.approx(as_float.data[0].embedding, rel=1e-6)
    assert upstream.hits("/v1/embeddings")[-1].json["model"] == "text-embedding-3-small"
    assert as_float.usage.prompt_tokens > 0


def test_reasoning_exclude_hides_reasoning_but_bills_it(gateway, upstream, client):
    upstream.queue("/or/api/v1/chat/completions", Reply.file("openrouter/chat_usage_cost.response.json"),
                   Reply.file("openrouter/chat_usage_cost.response.json"))
    shown = client.chat.completions.create(model="test/routed", messages=[{"role": "user", "content": "hello"}])
    assert shown.choices[0].message.reasoning and shown.choices[0].message.reasoning_details
    hidden = client.chat.completions.create(model="test/routed", messages=[{"role": "user", "content": "hello"}],
                                            extra_body={"reasoning": {"effort": "low", "exclude": True}})
    message = hidden.choices[0].message
    assert message.reasoning is None and not getattr(message, "reasoning_details", None)
    assert message.content == shown.choices[0].message.content
    assert hidden.usage.completion_tokens_details.reasoning_tokens == 64  # still counted and billed
    assert hidden.usage.cost == shown.usage.cost
