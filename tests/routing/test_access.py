"""Access policies in planning, as pure table tests: model ids and globs, providers, max_price, and a
key's policy together with its team's (both must allow)."""

from __future__ import annotations

import random
from typing import Any

import pytest

from switchpoint.config.access import AccessPolicy, policy_from_fields
from switchpoint.errors import ForbiddenError, NotFoundError
from switchpoint.routing import explain, parse_preferences, plan
from switchpoint.routing.access import allowed_models, require_permitted, visible

from .support import FakeClock, endpoint, live, model, providers, request

GPT = model("openai/gpt-4o", endpoint("openai", 2.5, 10), endpoint("azure", 2, 8))
MINI = model("openai/gpt-4o-mini", endpoint("openai", 0.15, 0.6), endpoint("groq", 0.1, 0.5))
CLAUDE = model("anthropic/claude-sonnet-4.5", endpoint("anthropic", 3, 15))
LLAMA = model("meta-llama/llama-3.3-70b", endpoint("groq", 0.59, 0.79), endpoint("together", 0.88, 0.88))
ALL = (GPT, MINI, CLAUDE, LLAMA)


def key(**fields: Any) -> AccessPolicy:
    return policy_from_fields(fields.get("models"), fields.get("providers"), fields.get("max_price"))


def team(**fields: Any) -> AccessPolicy:
    return policy_from_fields(fields.get("models"), fields.get("providers"), fields.get("max_price"), "team 'ops'")


@pytest.mark.parametrize(("policies", "usable"), [
    ((), {"openai/gpt-4o", "openai/gpt-4o-mini", "anthropic/claude-sonnet-4.5", "meta-llama/llama-3.3-70b"}),
    ((key(models=["openai/gpt-4o"]),), {"openai/gpt-4o"}),                      # an exact id is not a prefix
    ((key(models=["openai/*"]),), {"openai/gpt-4o", "openai/gpt-4o-mini"}),
    ((key(models=["*mini", "anthropic/*"]),), {"openai/gpt-4o-mini", "anthropic/claude-sonnet-4.5"}),
    ((key(models=["OpenAI/GPT-4o"]),), {"openai/gpt-4o"}),                      # ids match case-insensitively
    ((key(models=[]),), set()),                                                # an empty list allows nothing
    ((key(providers=["groq"]),), {"openai/gpt-4o-mini", "meta-llama/llama-3.3-70b"}),
    ((key(providers=["Anthropic", "azure"]),), {"openai/gpt-4o", "anthropic/claude-sonnet-4.5"}),
    ((key(max_price={"prompt": 1}),), {"openai/gpt-4o-mini", "meta-llama/llama-3.3-70b"}),
    ((key(max_price={"completion": 8}),), {"openai/gpt-4o", "openai/gpt-4o-mini", "meta-llama/llama-3.3-70b"}),
    ((key(max_price={"prompt": 0.5, "completion": 0.5}),), {"openai/gpt-4o-mini"}),
    # key and team: both must allow
    ((key(models=["openai/*"]), team(providers=["groq"])), {"openai/gpt-4o-mini"}),
    ((key(models=["openai/*", "meta-llama/*"]), team(max_price={"prompt": 0.6})),
     {"openai/gpt-4o-mini", "meta-llama/llama-3.3-70b"}),
    ((key(providers=["openai"]), team(models=["anthropic/*"])), set()),
    ((key(), team(models=["anthropic/*"])), {"anthropic/claude-sonnet-4.5"}),
])
def test_which_models_a_key_may_use(policies: tuple[AccessPolicy, ...], usable: set[str]) -> None:
    assert {m.id for m in ALL if visible(m, policies)} == usable


@pytest.mark.parametrize(("target", "policies", "endpoints"), [
    (GPT, (key(providers=["azure"]),), ["azure"]),
    (MINI, (key(max_price={"prompt": 0.12}),), ["groq"]),
    (MINI, (key(providers=["openai", "groq"]), team(providers=["openai"])), ["openai"]),
    (LLAMA, (key(), team(max_price={"completion": 0.8})), ["groq"]),
    (LLAMA, (key(models=["meta-llama/*"]),), ["groq", "together"]),
])
def test_planning_keeps_only_the_endpoints_the_policies_allow(target: Any, policies: tuple[AccessPolicy, ...],
                                                             endpoints: list[str]) -> None:
    state = live(FakeClock())
    planned = plan([(target, None)], request(provider={"sort": "price"}), random.Random(1), live=state,
                   policies=policies)
    assert providers(planned) == endpoints


@pytest.mark.parametrize(("policies", "constraint", "policy", "words"), [
    ((key(providers=["anthropic"]),), "providers", "key", "Key is not allowed to use model openai/gpt-4o: none of "
                                                         "its endpoints is on an allowed provider (anthropic)."),
    ((key(max_price={"prompt": 1}),), "max_price", "key", "within the max_price {'prompt': 1.0}"),
    ((key(), team(providers=["groq"])), "providers", "team", "Key of team 'ops' is not allowed to use model "
                                                             "openai/gpt-4o"),
])
def test_a_policy_that_leaves_no_endpoint_is_a_403_naming_the_constraint(
        policies: tuple[AccessPolicy, ...], constraint: str, policy: str, words: str) -> None:
    state = live(FakeClock())
    assert plan([(GPT, None)], request(), random.Random(1), live=state, policies=policies) == []
    err = explain([(GPT, None)], request(), parse_preferences(None), state, policies=policies)
    assert isinstance(err, ForbiddenError) and err.status == 403
    assert words in err.message
    assert err.metadata == {"model": "openai/gpt-4o", "excluded_by": ["key_policy"], "constraint": constraint,
                            "policy": policy}


def test_the_requests_own_filters_still_answer_404_within_what_the_policy_allows() -> None:
    state = live(FakeClock())
    policies = (key(providers=["openai", "azure"]),)
    req = request(provider={"only": ["groq"]})
    assert plan([(GPT, None)], req, random.Random(1), live=state, policies=policies) == []
    err = explain([(GPT, None)], req, parse_preferences({"only": ["groq"]}), state, policies=policies)
    assert isinstance(err, NotFoundError) and err.metadata["excluded_by"] == ["allowed_providers"]


def test_requested_models_are_narrowed_to_the_allowed_and_refused_when_none_is() -> None:
    policies = (key(models=["anthropic/*"]),)
    assert allowed_models([(GPT, None), (CLAUDE, None)], policies) == [(CLAUDE, None)]
    assert allowed_models([(GPT, "free")], ()) == [(GPT, "free")]
    with pytest.raises(ForbiddenError) as refused:
        allowed_models([(GPT, "free"), (MINI, None)], policies)
    assert refused.value.message == "Key is not allowed to use model openai/gpt-4o:free."
    assert refused.value.metadata["excluded_by"] == ["key_policy"]
    assert refused.value.metadata["constraint"] == "models"
    with pytest.raises(ForbiddenError) as by_team:
        allowed_models([(GPT, None)], (key(models=["openai/*"]), team(models=["meta-llama/*"])))
    assert by_team.value.message == "Key of team 'ops' is not allowed to use model openai/gpt-4o."


def test_a_router_model_must_be_allowed_by_name() -> None:
    require_permitted("switchpoint/auto", (key(models=["*"]),))
    with pytest.raises(ForbiddenError) as refused:
        require_permitted("switchpoint/auto", (key(models=["openai/*"]),))
    assert refused.value.message == "Key is not allowed to use model switchpoint/auto."
