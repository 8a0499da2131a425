"""Planning: filters, orderings and the explanations of an empty plan. Seeded randomness, fake clock."""

from __future__ import annotations

import random
from collections import Counter
from typing import Any

import pytest

from switchpoint.errors import NotFoundError, ServiceUnavailableError
from switchpoint.routing import RouteTable, explain, parse_preferences, plan
from switchpoint.routing.breaker import BreakerSettings, MemoryBreakers
from switchpoint.routing.health import Health
from switchpoint.routing.order import Live, weighted_pick

from .support import FakeClock, endpoint, live, model, providers, request

# OpenRouter's worked example: A $1/M, B $2/M, C $3/M.
ABC = model("vendor/model", endpoint("C", 3), endpoint("A", 1), endpoint("B", 2))


def route(req: Any, models: list[tuple[Any, str | None]] | None = None, *, state: Live | None = None,
          seed: int = 1) -> list[str]:
    return providers(plan(models or [(ABC, None)], req, random.Random(seed), live=state))


def test_first_pick_is_weighted_by_inverse_square_price() -> None:
    rng = random.Random(42)
    state = live(FakeClock())
    firsts = Counter(plan([(ABC, None)], request(), rng, live=state)[0].endpoint.provider for _ in range(10_000))
    weights = {"A": 1.0, "B": 1 / 4, "C": 1 / 9}
    total = sum(weights.values())
    for name, weight in weights.items():
        assert firsts[name] / 10_000 == pytest.approx(weight / total, abs=0.015)
    assert firsts["A"] / firsts["C"] == pytest.approx(9, rel=0.2)


def test_fallbacks_after_the_pick_go_cheapest_first() -> None:
    orders = {tuple(route(request(), seed=seed)) for seed in range(200)}
    assert orders == {("A", "B", "C"), ("B", "A", "C"), ("C", "A", "B")}


def test_recently_failed_endpoints_go_last_until_the_window_passes() -> None:
    clock, health = FakeClock(), Health()
    health.observe("B:B-model", False, clock.now)
    for seed in range(50):
        assert route(request(), state=live(clock, health=health), seed=seed)[-1] == "B"
    clock.advance(29.9)
    assert route(request(), state=live(clock, health=health), seed=7)[-1] == "B"
    clock.advance(0.2)
    assert {tuple(route(request(), state=live(clock, health=health), seed=s)) for s in range(200)} == {
        ("A", "B", "C"), ("B", "A", "C"), ("C", "A", "B")}


def test_a_rate_limit_keeps_an_endpoint_behind_for_its_retry_after() -> None:
    clock, health = FakeClock(), Health()
    health.observe("A:A-model", False, clock.now, counted=False, retry_after=60)
    clock.advance(45)
    assert route(request(), state=live(clock, health=health))[-1] == "A"
    assert health.get("A:A-model").requests == 0  # a rate limit is not an outage
    clock.advance(16)
    assert route(request(), state=live(clock, health=health), seed=3) == ["A", "B", "C"]


def test_every_endpoint_unhealthy_keeps_price_order() -> None:
    clock, health = FakeClock(), Health()
    for key in ("A:A-model", "B:B-model", "C:C-model"):
        health.observe(key, False, clock.now)
    assert route(request(), state=live(clock, health=health)) == ["A", "B", "C"]


def test_free_endpoints_are_picked_uniformly_among_themselves() -> None:
    m = model("vendor/model", endpoint("paid", 1), endpoint("f1", 0), endpoint("f2", 0))
    rng = random.Random(5)
    firsts = Counter(plan([(m, None)], request(), rng)[0].endpoint.provider for _ in range(4000))
    assert set(firsts) == {"f1", "f2"}
    assert firsts["f1"] / 4000 == pytest.approx(0.5, abs=0.03)


def test_weighted_pick_single_candidate_and_edges() -> None:
    one = plan([(model("x/y", endpoint("solo", 2)), None)], request(), random.Random(1))
    assert weighted_pick(one, random.Random(1)) == 0


@pytest.mark.parametrize(("prefs", "expected"), [
    ({"order": ["c", "A"]}, ["C", "A", "B"]),
    ({"order": ["c", "A"], "allow_fallbacks": False}, ["C", "A"]),
    ({"order": ["unknown", "b"]}, ["B", "A", "C"]),
    ({"allow_fallbacks": False, "sort": "price"}, ["A"]),
    ({"only": ["b", "c"], "sort": "price"}, ["B", "C"]),
    ({"ignore": ["A"], "sort": "price"}, ["B", "C"]),
    ({"only": ["a", "b"], "ignore": ["b"]}, ["A"]),
    ({"sort": "price"}, ["A", "B", "C"]),
    ({"sort": {"by": "price", "partition": "model"}}, ["A", "B", "C"]),
    ({"max_price": {"prompt": 2, "completion": 2}, "sort": "price"}, ["A", "B"]),
    ({"max_price": {"prompt": "1"}}, ["A"]),
    ({"order": ["C"], "sort": "price"}, ["C", "A", "B"]),
])
def test_preferences(prefs: dict[str, Any], expected: list[str]) -> None:
    assert route(request(prefs)) == expected


def test_allow_fallbacks_false_keeps_the_load_balanced_pick_only() -> None:
    picks = Counter(route(request({"allow_fallbacks": False}), seed=s)[0] for s in range(300))
    assert len(route(request({"allow_fallbacks": False}))) == 1
    assert picks["A"] > picks["B"] > picks["C"] > 0


def test_sort_throughput_and_latency_use_live_statistics_unmeasured_last() -> None:
    clock, health = FakeClock(), Health()
    health.observe("C:C-model", True, clock.now, latency_ms=900, ttft_ms=100, tokens_per_second=300)
    health.observe("B:B-model", True, clock.now, latency_ms=500, ttft_ms=400, tokens_per_second=80)
    state = live(clock, health=health)
    assert route(request({"sort": "throughput"}), state=state) == ["C", "B", "A"]
    assert route(request({"sort": "latency"}), state=state) == ["C", "B", "A"]
    assert route(request(), [(ABC, "nitro")], state=state) == ["C", "B", "A"]
    assert route(request(), [(ABC, "floor")], state=state) == ["A", "B", "C"]


def test_sort_latency_falls_back_to_whole_response_latency() -> None:
    clock, health = FakeClock(), Health()
    health.observe("C:C-model", True, clock.now, latency_ms=100)
    health.observe("A:A-model", True, clock.now, latency_ms=300)
    assert route(request({"sort": "latency"}), state=live(clock, health=health)) == ["C", "A", "B"]


def test_sort_exacto_prefers_the_lowest_error_rate() -> None:
    clock, health = FakeClock(), Health()
    for ok in (True, False, True):
        health.observe("A:A-model", ok, clock.now)
    health.observe("C:C-model", True, clock.now)
    assert route(request({"sort": "exacto"}), state=live(clock, health=health)) == ["C", "A", "B"]


def test_soft_preferences_move_slow_endpoints_back_but_keep_them() -> None:
    clock, health = FakeClock(), Health()
    health.observe("A:A-model", True, clock.now, ttft_ms=3000, tokens_per_second=20)
    health.observe("B:B-model", True, clock.now, ttft_ms=200, tokens_per_second=150)
    state = live(clock, health=health)
    assert route(request({"sort": "price", "preferred_min_throughput": 100}), state=state) == ["B", "C", "A"]
    assert route(request({"sort": "price", "preferred_max_latency": {"p50": 1}}), state=state) == ["B", "C", "A"]
    clock.advance(301)  # the soft preferences look at the last five minutes only
    assert route(request({"sort": "price", "preferred_max_latency": 1}), state=live(clock, health=health)) == [
        "A", "B", "C"]


def test_free_variant_keeps_only_zero_priced_endpoints() -> None:
    m = model("vendor/model", endpoint("paid", 1), endpoint("gratis", 0))
    assert route(request(), [(m, "free")]) == ["gratis"]


def test_tools_max_tokens_require_parameters_data_policy_quantization() -> None:
    m = model("vendor/model",
              endpoint("notools", 1, params=("temperature", "max_tokens")),
              endpoint("short", 2, max_output=1000),
              endpoint("private", 3, data_collection="deny", quantization="fp8"),
              endpoint("bare", 4, params=()))
    tools = [{"type": "function", "function": {"name": "f"}}]
    assert route(request({"sort": "price"}, tools=tools), [(m, None)]) == ["short", "private"]
    assert route(request({"sort": "price"}, max_tokens=2000), [(m, None)]) == ["notools", "private", "bare"]
    assert route(request({"sort": "price"}, max_completion_tokens=500), [(m, None)]) == [
        "notools", "short", "private", "bare"]
    assert route(request({"sort": "price", "require_parameters": True}, temperature=0.5), [(m, None)]) == [
        "notools", "short", "private"]
    assert route(request({"sort": "price", "require_parameters": True}, seed=1), [(m, None)]) == [
        "short", "private"]
    assert route(request({"sort": "price", "require_parameters": False}, seed=1), [(m, None)]) == [
        "notools", "short", "private", "bare"]
    assert route(request({"data_collection": "deny"}), [(m, None)]) == ["private"]
    assert route(request({"quantizations": ["fp8"]}), [(m, None)]) == ["private"]
    assert route(request({"quantizations": ["unknown"], "sort": "price"}), [(m, None)]) == [
        "notools", "short", "bare"]


def test_require_parameters_counts_reasoning_and_structured_outputs() -> None:
    m = model("vendor/model", endpoint("plain", 1, params=("response_format",)),
              endpoint("smart", 2, params=("response_format", "structured_outputs", "reasoning")))
    fmt = {"type": "json_schema", "json_schema": {"name": "x", "schema": {}}}
    assert route(request({"require_parameters": True}, response_format=fmt), [(m, None)]) == ["smart"]
    assert route(request({"require_parameters": True, "sort": "price"}, response_format={"type": "json_object"}),
                 [(m, None)]) == ["plain", "smart"]
    req = request({"require_parameters": True})
    req.reasoning = {"effort": "high"}
    assert route(req, [(m, None)]) == ["smart"]


def test_models_are_tried_in_fallback_order_unless_partition_none() -> None:
    first = model("a/first", endpoint("p1", 5), endpoint("p2", 6))
    second = model("b/second", endpoint("p3", 1))
    models = [(first, None), (second, None)]
    assert route(request({"sort": "price"}), models) == ["p1", "p2", "p3"]
    assert route(request({"sort": {"by": "price", "partition": "none"}}), models) == ["p3", "p1", "p2"]
    picked = Counter(route(request({"sort": {"partition": "none"}}), models, seed=s)[0] for s in range(300))
    assert picked.most_common(1)[0][0] == "p3"


def test_open_breakers_are_left_out_and_an_empty_plan_is_a_503() -> None:
    clock = FakeClock()
    breakers = MemoryBreakers(BreakerSettings(consecutive_failures=2, cooldown=30))
    for key in ("A:A-model", "B:B-model"):
        breakers.record(key, False, clock.now)
        breakers.record(key, False, clock.now)
    assert route(request({"sort": "price"}), state=live(clock, breakers=breakers)) == ["C"]
    breakers.record("C:C-model", False, clock.now)
    breakers.record("C:C-model", False, clock.now)
    clock.advance(10)
    state = live(clock, breakers=breakers)
    assert plan([(ABC, None)], request(), random.Random(1), live=state) == []
    err = explain([(ABC, None)], request(), parse_preferences(None), state)
    assert isinstance(err, ServiceUnavailableError)
    assert err.headers == {"Retry-After": "20"}
    assert err.metadata == {"model": "vendor/model", "excluded_by": ["health"]}
    clock.advance(20)  # cool-down over: planned again, for a half-open probe
    assert route(request({"sort": "price"}), state=live(clock, breakers=breakers)) == ["A", "B", "C"]


@pytest.mark.parametrize(("prefs", "params", "variant", "message", "excluded_by"), [
    ({"only": ["nobody"]}, {}, None,
     "No endpoints found for vendor/model among the allowed providers (provider.only / ignore).",
     "allowed_providers"),
    ({}, {"tools": [{"type": "function", "function": {"name": "f"}}]}, None,
     "No endpoints found that support tool use.", "tools"),
    ({}, {"max_tokens": 10_000}, None, "No endpoints found for vendor/model that can return 10000 tokens.",
     "max_tokens"),
    ({"max_price": {"prompt": 0.5}}, {}, None, "No endpoints found for vendor/model within provider.max_price.",
     "max_price"),
    ({"data_collection": "deny"}, {}, None, "No endpoints found matching your data policy (provider.data_collection).",
     "data_policy"),
    ({"quantizations": ["int4"]}, {}, None, "No endpoints found for vendor/model with the requested quantizations.",
     "quantization"),
    ({"require_parameters": True}, {"top_k": 5}, None,
     "No endpoints found for vendor/model that support all the parameters in the request.", "require_parameters"),
    ({}, {}, "free", "No free endpoints found for vendor/model:free.", "free"),
])
def test_explain_names_what_emptied_the_plan(prefs: dict[str, Any], params: dict[str, Any], variant: str | None,
                                             message: str, excluded_by: str) -> None:
    m = model("vendor/model", endpoint("A", 1, max_output=4096, params=("max_tokens",)))
    req = request(prefs, **params)
    state = live(FakeClock())
    assert plan([(m, variant)], req, random.Random(1), live=state) == []
    err = explain([(m, variant)], req, parse_preferences(prefs), state)
    assert isinstance(err, NotFoundError)
    assert (err.status, err.message) == (404, message)
    assert err.metadata["excluded_by"] == [excluded_by]


def test_a_model_without_endpoints_is_not_found() -> None:
    err = explain([(model("x/none"), None)], request(), parse_preferences(None), live(FakeClock()))
    assert (err.status, err.message, err.metadata["excluded_by"]) == (404, "No endpoints found for x/none.", [])


def test_route_table_precomputes_candidates_cheapest_first() -> None:
    table = RouteTable()
    first = table.candidates(ABC)
    assert [c.endpoint.provider for c in first] == ["A", "B", "C"]
    assert table.candidates(ABC) is first
    assert first[0].price == pytest.approx(2e-6) and first[0].provider == "a" and first[0].key == "A:A-model"
