"""OpenRouter's official Python SDK (PyPI `openrouter`) against the gateway: it validates every
response against OpenRouter's published schema, so a field the gateway leaves out fails here."""

from __future__ import annotations

import datetime as dt
from typing import Any

import httpx
import pytest
from openrouter import OpenRouter, errors, utils

from ..conftest import ADMIN_KEY, PRICE, TEST_KEY, Gateway
from ..upstream import Reply, Upstream

USER = [{"role": "user", "content": "What is the capital of France?"}]
NO_RETRY = utils.RetryConfig("none", utils.BackoffStrategy(10, 10, 1.0, 10), False)


def sdk(gateway: Gateway, key: str = TEST_KEY) -> OpenRouter:
    return OpenRouter(api_key=key, server_url=f"{gateway.url}/api/v1", retry_config=NO_RETRY,
                      client=loopback_only(gateway))


def loopback_only(gateway: Gateway) -> httpx.Client:
    """An HTTP client that fails any request not to the gateway (the SDK's default server is openrouter.ai)."""
    def check(request: httpx.Request) -> None:
        if f"{request.url.host}:{request.url.port}" != f"127.0.0.1:{gateway.port}":
            raise AssertionError(f"the SDK tried to reach {request.url}")

    return httpx.Client(event_hooks={"request": [check]}, timeout=20)


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


LIMITED_KEY = "sk-sp-v1-limited-key-0123456789abcdef"
SDK_MODELS = [
    {"id": "test/gpt", "name": "Test GPT", "context_length": 128000, "max_completion_tokens": 4096,
     "endpoints": [{"provider": "up", "model": "gpt-4o-mini", "pricing": PRICE}]},
    # configured with neither a context length nor a name: the endpoint list must still give a number
    {"id": "test/bare", "endpoints": [{"provider": "backup", "model": "bare-model", "pricing": PRICE}]},
    {"id": "test/embed", "name": "Test embeddings", "context_length": 8192, "output_modalities": ["embeddings"],
     "endpoints": [{"provider": "up", "model": "text-embedding-3-small", "pricing": {"prompt": "0.00000002"}}]},
]


def sdk_gateway(make_gateway: Any, upstream: Upstream) -> tuple[Gateway, str]:
    """A gateway with an unlimited and a limited key, a model configured without a context length,
    a generation that no provider served (its id is returned), and replies queued for one chat, one
    stream and one embedding: the states each SDK method must accept."""
    gateway: Gateway = make_gateway(
        keys=[{"name": "test", "key": TEST_KEY},
              {"name": "limited", "key": LIMITED_KEY, "limit": 2.5, "limit_reset": "daily"}],
        models=SDK_MODELS, aliases={"mini": "test/gpt"})  # an alias is listed as a model row of its own
    upstream.queue("/backup/v1/chat/completions", Reply.json({"error": {"message": "down"}}, status=500))
    with pytest.raises(errors.OpenRouterError):
        sdk(gateway).chat.send(model="test/bare", messages=USER)
    (failed,) = [row["id"] for row in gateway.ledger() if row["model"] == "test/bare"]
    upstream.queue("/v1/chat/completions", Reply.file("openai/chat_text.response.json"),
                   Reply.sse("openai/chat_stream_text_usage.sse"))
    upstream.queue("/v1/embeddings", Reply.file("openai/embeddings_base64.response.json"))
    return gateway, failed


def pages(first: Any) -> list[Any]:
    out = []
    while first is not None:
        out.append(first.result)
        assert len(out) < 50, "pagination does not end"
        first = first.next()
    return out


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # the SDK warns on reading `rate_limit`
def test_every_method_of_the_python_sdk(make_gateway: Any, upstream: Upstream) -> None:
    """Each SDK method that maps to a route the gateway serves; the SDK raises on any schema error."""
    gateway, failed = sdk_gateway(make_gateway, upstream)

    def client(key: str) -> OpenRouter:
        return sdk(gateway, key)

    user, limited, admin = client(TEST_KEY), client(LIMITED_KEY), client(ADMIN_KEY)
    reply = user.chat.send(model="test/gpt", messages=USER)
    with user.chat.send(model="test/gpt", messages=USER, stream=True) as events:
        assert [chunk for chunk in events][-1].usage is not None
    assert user.embeddings.generate(model="test/embed", input="hello").data[0].embedding

    listed = [m.id for page in pages(user.models.list()) for m in page.data]
    assert "mini" in listed  # an alias row passes the SDK's schema
    assert [m.id for page in pages(user.models.list(limit=1)) for m in page.data] == listed
    assert user.models.count().data.count == len(listed)
    assert [m.id for page in pages(user.models.list_for_user(security={"bearer": TEST_KEY})) for m in page.data] \
        == listed
    assert [m.id for page in pages(user.embeddings.list_models()) for m in page.data] == ["test/embed"]
    assert user.models.get(author="test", slug="bare").data.context_length is None
    bare = user.endpoints.list(author="test", slug="bare").data.endpoints[0]
    assert bare.context_length > 0 and bare.provider_name == "backup"
    assert {p.slug for p in user.providers.list().data} == {"up", "backup", "router"}
    assert user.endpoints.list(author="test", slug="embed").data.endpoints[0].context_length == 8192
    assert user.models.get(author="switchpoint", slug="auto").data.pricing.prompt == "-1"
    assert user.endpoints.list(author="switchpoint", slug="auto").data.endpoints == []

    generation = user.generations.get_generation(id=reply.id).data
    assert generation.id == reply.id and generation.workspace_id == user.api_keys.get_current_key_metadata().data.workspace_id
    unserved = user.generations.get_generation(id=failed).data
    assert unserved.provider_name is None and unserved.provider_responses[0].provider_name == "backup"
    assert user.api_keys.get_current_key_metadata().data.limit is None
    assert limited.api_keys.get_current_key_metadata().data.limit == 2.5
    spend = user.credits.get_credits().data
    assert spend.total_credits == spend.total_usage > 0  # no limit: credits are what was spent
    assert (limited.credits.get_credits().data.total_credits, limited.credits.get_credits().data.total_usage) == (2.5, 0)
    assert admin.credits.get_credits().data.total_usage >= spend.total_usage
    gateway.flush()
    rows = admin.analytics.get_user_activity().data
    assert sum(r.requests for r in rows) == 4 and {r.provider_name for r in rows} == {"up", ""}
    assert {r.endpoint_id for r in rows if r.provider_name} == {"up:gpt-4o-mini", "up:text-embedding-3-small"}
    assert user.analytics.get_user_activity(request={"date": rows[0].date_}).data

    created = admin.api_keys.create(name="from the Python SDK", limit=3, limit_reset="weekly")
    assert created.key.startswith("sk-sp-v1-") and created.data.updated_at is None
    assert client(created.key).api_keys.get_current_key_metadata().data.label == created.data.label
    assert admin.api_keys.get(hash=created.data.hash).data.last_used_at is None  # no generation yet
    used = {k.name: k for k in admin.api_keys.list().data}["test"]
    assert used.last_used_at is not None and used.workspace_id == created.data.workspace_id
    assert admin.api_keys.create(name="no limit").data.limit is None
    own = "partner-chosen-key-" + "0123456789abcdef" * 2
    partner = admin.api_keys.create(name="partner", external={"user": "end-user-7", "api_key": own},
                                    expires_at=dt.datetime.now(dt.UTC) + dt.timedelta(days=1))
    assert (partner.key, partner.data.external_user, partner.data.expires_at is not None) == (own, "end-user-7", True)
    assert client(own).api_keys.get_current_key_metadata().data.label == partner.data.label
    with pytest.raises(errors.BadRequestResponseError):  # a key already in use is never handed out twice
        admin.api_keys.create(name="again", external={"user": "someone", "api_key": own})
    assert {k.name for k in admin.api_keys.list().data} >= {"test", "limited", "from the Python SDK", "no limit"}
    updated = admin.api_keys.update(hash=created.data.hash, name="renamed", disabled=True, limit=4).data
    assert (updated.name, updated.disabled, updated.limit) == ("renamed", True, 4) and updated.updated_at
    assert created.data.hash not in {k.hash for k in admin.api_keys.list(include_disabled=False).data}
    assert admin.api_keys.delete(hash=created.data.hash).DELETED is True
    with pytest.raises(errors.NotFoundResponseError):
        admin.api_keys.get(hash=created.data.hash)
