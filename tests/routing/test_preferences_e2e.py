"""Provider preferences and variants through the HTTP API."""

from __future__ import annotations

from typing import Any

import openai
import pytest

from ..conftest import Gateway
from ..upstream import Reply, Upstream
from .conftest import CHAT, USER, call, post, sdk, tried

OK = Reply.file("openai/chat_text.response.json")
TOOLS = [{"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object"}}}]


@pytest.fixture(autouse=True)
def _answers(upstream: Upstream) -> None:
    for path in ("/v1", "/backup/v1", "/third/v1"):
        upstream.always(path + CHAT, OK)


def served(gateway: Gateway, model: str, provider: dict[str, Any] | None = None, **params: Any) -> str:
    body: dict[str, Any] = dict(params)
    if provider is not None:
        body["provider"] = provider
    return sdk(gateway).chat.completions.create(model=model, messages=USER, extra_body=body).model_extra["provider"]


def test_invalid_provider_object_is_a_400_naming_the_field(routed: Gateway, upstream: Upstream) -> None:
    with pytest.raises(openai.BadRequestError) as info:
        served(routed, "rt/trio", {"sort": "fastest"})
    assert info.value.body["message"] == "provider.sort: must be 'price', 'throughput', 'latency' or 'exacto'"
    assert info.value.body["metadata"]["param"] == "provider.sort"
    with pytest.raises(openai.BadRequestError) as info:
        served(routed, "rt/trio", {"prefer": ["up"]})
    assert info.value.body["metadata"]["param"] == "provider.prefer"
    assert tried(upstream) == []


@pytest.mark.parametrize(("model", "provider", "params", "expected"), [
    ("rt/trio", {"only": ["BACKUP", "third"], "sort": "price"}, {}, "backup"),
    ("rt/trio", {"ignore": ["up"], "sort": "price"}, {}, "backup"),
    ("rt/trio", {"max_price": {"prompt": 2.5, "completion": 2.5}, "sort": {"by": "price"}}, {}, "up"),
    ("rt/trio", {"max_price": {"prompt": 2.5}, "order": ["third", "backup"]}, {}, "backup"),
    ("rt/tools", None, {"tools": TOOLS}, "backup"),
    ("rt/tools", None, {"max_tokens": 2000}, "backup"),
    ("rt/tools", {"require_parameters": True}, {"seed": 7}, "backup"),
    ("rt/tools", {"require_parameters": True, "sort": "price"}, {"temperature": 0.2}, "up"),
    ("rt/private", {"data_collection": "deny"}, {}, "third"),
    ("rt/private", {"zdr": True}, {}, "third"),
    ("rt/mixed:free", None, {}, "third"),
    ("rt/trio:floor", None, {}, "up"),
])
def test_preferences_pick_the_endpoint(routed: Gateway, model: str, provider: dict[str, Any] | None,
                                       params: dict[str, Any], expected: str) -> None:
    assert served(routed, model, provider, **params) == expected


@pytest.mark.parametrize(("provider", "route", "expected"), [
    ({"sort": "price"}, None, "third"),                                       # rt/other's endpoints first
    ({"sort": "price"}, "fallback", "third"),
    ({"sort": "price"}, "sort", "up"),                                        # both models' endpoints together
    ({"sort": {"by": "price", "partition": "model"}}, "sort", "third"),     # an explicit partition wins
])
def test_deprecated_route_is_the_sort_partition(routed: Gateway, provider: dict[str, Any] | None,
                                                route: str | None, expected: str) -> None:
    extra: dict[str, Any] = {"models": ["rt/other", "rt/trio"]}
    if route is not None:
        extra["route"] = route
    assert served(routed, "rt/other", provider, **extra) == expected


def test_unknown_route_is_a_400(routed: Gateway, upstream: Upstream) -> None:
    with pytest.raises(openai.BadRequestError) as info:
        served(routed, "rt/trio", None, route="random")
    assert info.value.body["metadata"]["param"] == "route"
    assert tried(upstream) == []


def test_floor_variant_fails_over_in_price_order(routed: Gateway, upstream: Upstream) -> None:
    upstream.queue("/v1" + CHAT, Reply.file("openai/error_500_server_error.json", status=500))
    upstream.queue("/backup/v1" + CHAT, Reply.file("openai/error_500_server_error.json", status=500))
    completion = sdk(routed).chat.completions.create(model="rt/trio:floor", messages=USER)
    assert tried(upstream) == ["up", "backup", "third"]
    assert (completion.model, completion.model_extra["provider"]) == ("rt/trio", "third")


@pytest.mark.parametrize(("body", "status", "message", "excluded_by"), [
    ({"model": "rt/trio", "provider": {"max_price": {"prompt": 0.5}}}, 404,
     "No endpoints found for rt/trio within provider.max_price.", ["max_price"]),
    ({"model": "rt/tools", "provider": {"only": ["up"]}, "tools": TOOLS}, 404,
     "No endpoints found that support tool use.", ["tools"]),
    ({"model": "rt/trio", "provider": {"only": ["nobody"]}}, 404,
     "No endpoints found for rt/trio among the allowed providers (provider.only / ignore).", ["allowed_providers"]),
    ({"model": "rt/trio", "provider": {"data_collection": "deny"}}, 404,
     "No endpoints found matching your data policy (provider.data_collection).", ["data_policy"]),
    ({"model": "rt/trio:free"}, 404, "No free endpoints found for rt/trio:free.", ["free"]),
    ({"model": "rt/trio", "max_tokens": 100_000}, 404,
     "No endpoints found for rt/trio that can return 100000 tokens.", ["max_tokens"]),
])
def test_constraints_that_leave_nothing_are_404s(routed: Gateway, upstream: Upstream, body: dict[str, Any],
                                                status: int, message: str, excluded_by: list[str]) -> None:
    response = post(routed, {"messages": USER, **body})
    assert response.status_code == status
    error = response.json()["error"]
    assert (error["code"], error["message"], error["metadata"]["excluded_by"]) == (status, message, excluded_by)
    assert tried(upstream) == []


def test_embeddings_honour_provider_preferences(routed: Gateway) -> None:
    response = call(routed, "POST", "/api/v1/embeddings",
                    {"model": "test/embed", "input": "hi", "provider": {"ignore": ["up"]}})
    assert response.status_code == 404
    assert response.json()["error"]["metadata"]["excluded_by"] == ["allowed_providers"]
