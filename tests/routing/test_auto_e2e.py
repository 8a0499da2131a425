"""switchpoint/auto through the gateway: listed, classified, served by the tier's models, and explained."""

from __future__ import annotations

from typing import Any

import openai
import pytest

from ..conftest import Gateway
from ..upstream import Reply, Upstream
from .conftest import CHAT, USER, call, generation, sdk, tried
from .test_stream_failover import sse

OK = Reply.file("openai/chat_text.response.json")
AUTO = {"tiers": {"simple": {"models": ["test/gpt"]}, "complex": {"models": ["rt/other", "test/gpt"]},
                  "standard": {"models": ["rt/trio", "no/such-model"]}}}
CODE = "Refactor this:\n```python\ndef f(x):\n    return x\n\nclass A:\n    pass\n```"


@pytest.fixture
def auto(make_routed: Any, upstream: Upstream) -> Gateway:
    for path in ("/v1", "/third/v1", "/backup/v1"):
        upstream.always(path + CHAT, OK)
    return make_routed(auto=AUTO)


def test_listed_in_models_with_its_tiers(auto: Gateway) -> None:
    models = {m["id"]: m for m in call(auto, "GET", "/api/v1/models").json()["data"]}
    router = models["switchpoint/auto"]
    assert router["pricing"] == {"prompt": "-1", "completion": "-1"}
    assert router["router"]["tiers"]["simple"] == ["test/gpt"]
    assert router["router"]["tiers"]["standard"] == ["rt/trio"]  # unknown ids are left out
    assert router["architecture"]["tokenizer"] == "Router"
    details = call(auto, "GET", "/api/v1/models/switchpoint/auto/endpoints").json()["data"]
    assert (details["id"], details["endpoints"]) == ("switchpoint/auto", [])


def test_simple_prompt_goes_to_the_simple_tier_and_says_why(auto: Gateway, upstream: Upstream) -> None:
    completion = sdk(auto).chat.completions.create(model="switchpoint/auto", messages=USER)
    assert tried(upstream) == ["up"]
    assert (completion.model, completion.model_extra["provider"]) == ("test/gpt", "up")
    expected = {"router": "switchpoint/auto", "model": "test/gpt", "tier": "simple",
                "reason": "short prompt (~1 tokens)"}
    assert completion.model_extra["router"] == expected
    record = generation(auto, completion.id)
    assert record["router"] == "switchpoint/auto" and record["router_choice"] == expected
    assert record["model"] == "test/gpt"


def test_code_prompt_goes_to_the_complex_tier_and_falls_back_within_it(auto: Gateway, upstream: Upstream) -> None:
    upstream.queue("/third/v1" + CHAT, Reply.file("openai/error_500_server_error.json", status=500))
    completion = sdk(auto).chat.completions.create(model="switchpoint/auto",
                                                   messages=[{"role": "user", "content": CODE}])
    assert tried(upstream) == ["third", "up"]
    assert completion.model == "test/gpt"
    assert completion.model_extra["router"] == {"router": "switchpoint/auto", "model": "test/gpt", "tier": "complex",
                                                "reason": "code-heavy prompt (6 code lines)"}


def test_reasoning_borrows_the_complex_tier(auto: Gateway, upstream: Upstream) -> None:
    completion = sdk(auto).chat.completions.create(model="switchpoint/auto", messages=USER,
                                                   extra_body={"reasoning": {"effort": "high"}})
    assert completion.model == "rt/other"
    assert completion.model_extra["router"]["reason"] == (
        "reasoning was requested; no 'reasoning' tier, using 'complex'")


def test_streamed_auto_names_the_choice_in_the_final_chunk(auto: Gateway, upstream: Upstream) -> None:
    upstream.always("/v1" + CHAT, sse())
    chunks = list(sdk(auto).chat.completions.create(model="switchpoint/auto", messages=USER, stream=True))
    assert {c.model for c in chunks} == {"test/gpt"}
    assert chunks[-1].model_extra["router"]["tier"] == "simple"
    assert all("router" not in c.model_extra for c in chunks[:-1])


def test_default_tiers_come_from_the_catalogue(routed: Gateway) -> None:
    models = {m["id"]: m for m in call(routed, "GET", "/api/v1/models").json()["data"]}
    tiers = models["switchpoint/auto"]["router"]["tiers"]
    assert set(tiers) == {"simple", "standard", "complex", "reasoning"}
    assert all(tiers.values())
    servable = {m for m in models if m != "switchpoint/auto"}
    assert {m for ids in tiers.values() for m in ids} <= servable


def test_disabled_auto_is_not_listed_and_refused(make_routed: Any) -> None:
    gateway = make_routed(auto={"enabled": False})
    assert "switchpoint/auto" not in {m["id"] for m in call(gateway, "GET", "/api/v1/models").json()["data"]}
    with pytest.raises(openai.BadRequestError) as info:
        sdk(gateway).chat.completions.create(model="switchpoint/auto", messages=USER)
    assert info.value.body["message"] == "switchpoint/auto is not enabled or has no models to choose from"
