"""OpenRouter's official Python SDK (PyPI `openrouter`) against the gateway: it validates every
response against OpenRouter's published schema, so a field the gateway leaves out fails here."""

from __future__ import annotations

from typing import Any

import pytest
from openrouter import OpenRouter, errors, utils

from ..conftest import TEST_KEY, Gateway
from ..upstream import Reply, Upstream

USER = [{"role": "user", "content": "What is the capital of France?"}]
NO_RETRY = utils.RetryConfig("backoff", utils.BackoffStrategy(10, 10, 1.0, 10), False)


def sdk(gateway: Gateway, key: str = TEST_KEY) -> OpenRouter:
    return OpenRouter(api_key=key, server_url=f"{gateway.url}/api/v1", retry_config=NO_RETRY)


def test_chat_and_stream_with_the_cost_split(gateway: Gateway, upstream: Upstream) -> None:
    upstream.queue("/v1/chat/completions", Reply.file("openai/chat_text.response.json"),
                   Reply.sse("openai/chat_stream_text_usage.sse"))
    client = sdk(gateway)
    reply = client.chat.send(model="test/gpt", messages=USER)
    assert reply.choices[0].message.content and reply.id.startswith("gen-")
    details: Any = reply.usage.cost_details  # the SDK drops the whole object when a field is missing
    assert details.upstream_inference_prompt_cost + details.upstream_inference_completions_cost == pytest.approx(
        details.upstream_inference_cost)
    assert details.upstream_inference_completions_cost > 0 and reply.usage.cost == details.upstream_inference_cost
    text, usage = "", None
    with client.chat.send(model="test/gpt", messages=USER, stream=True) as events:
        for chunk in events:
            if chunk.choices and chunk.choices[0].delta.content:
                text += chunk.choices[0].delta.content
            usage = chunk.usage or usage
    assert text and usage is not None and usage.cost_details.upstream_inference_completions_cost > 0

    generation = client.generations.get_generation(id=reply.id).data
    assert (generation.id, generation.model, generation.provider_name) == (reply.id, "test/gpt", "up")
    assert generation.total_cost == reply.usage.cost and generation.data_region == "global"


def test_models_endpoints_and_embedding_models(gateway: Gateway) -> None:
    client = sdk(gateway)
    listed = [m.id for m in client.models.list().result.data]
    assert "test/gpt" in listed and "test/embed" not in listed
    assert client.models.count().data.count == len(listed)
    assert client.models.get(author="test", slug="gpt").data.name == "Test GPT"
    endpoints = client.endpoints.list(author="test", slug="gpt").data.endpoints
    assert [(e.provider_name, e.tag) for e in endpoints] == [("up", "up")]
    assert endpoints[0].supports_tool_choice.auto is True
    assert [m.id for m in client.embeddings.list_models().result.data] == ["test/embed"]
    with pytest.raises(errors.NotFoundResponseError):
        client.models.get(author="no", slug="such-model")


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # the SDK warns on reading `rate_limit`
def test_key_metadata_credits_and_errors(make_gateway: Any, upstream: Upstream) -> None:
    limited = "sk-sp-v1-limited-key-0123456789abcdef"
    gateway = make_gateway(keys=[{"name": "test", "key": TEST_KEY},
                                 {"name": "limited", "key": limited, "limit": 2.5, "limit_reset": "daily",
                                  "rate_limit": {"requests": 30, "interval": 60}}])
    key = sdk(gateway, limited).api_keys.get_current_key_metadata().data
    assert (key.limit, key.limit_remaining, key.limit_reset, key.usage_daily) == (2.5, 2.5, "daily", 0)
    assert key.rate_limit.requests == 30 and key.free_model_daily_requests.remaining == 1000
    assert key.effective_budget is not None and key.effective_budget.remaining_usd == 2.5
    assert key.effective_budget.resets_at is not None and key.effective_budget.reset_interval == "daily"
    unlimited = sdk(gateway).api_keys.get_current_key_metadata().data
    assert unlimited.limit is None and unlimited.rate_limit.requests == -1 and unlimited.budgets == []
    credits = sdk(gateway, limited).credits.get_credits().data
    assert (credits.total_credits, credits.total_usage) == (2.5, 0)

    with pytest.raises(errors.UnauthorizedResponseError):
        sdk(gateway, "sk-sp-v1-wrong-key-0000000000000000").chat.send(model="test/gpt", messages=USER)
    with pytest.raises(errors.BadRequestResponseError) as caught:
        sdk(gateway).chat.send(model="nope/nothing", messages=USER)
    assert "not a valid model ID" in str(caught.value)
    assert upstream.received == []
