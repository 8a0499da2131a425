"""Model variants that change the endpoints: `:extended` keeps the extended-context endpoints, `:exacto`
orders by tool-calling quality. Pure table tests (fake clock, seeded randomness)."""

from __future__ import annotations

import random
from dataclasses import replace

import pytest

from switchpoint.errors import NotFoundError
from switchpoint.routing import explain, parse_preferences, plan
from switchpoint.routing.health import Health

from .support import FakeClock, endpoint, live, model, providers, request

LONG = model("vendor/model", endpoint("A", 1), replace(endpoint("B", 2), extended_context=True),
             replace(endpoint("C", 3), extended_context=True))
SHORT = model("vendor/short", endpoint("A", 1))


def route(variant: str | None, m: object = LONG, *, health: Health | None = None, seed: int = 1,
          provider: dict[str, object] | None = None) -> list[str]:
    return providers(plan([(m, variant)], request(provider), random.Random(seed),
                          live=live(FakeClock(), health=health)))


def test_extended_keeps_only_the_extended_context_endpoints() -> None:
    assert {tuple(route("extended", seed=s)) for s in range(50)} == {("B", "C"), ("C", "B")}
    assert {route(None, seed=s)[0] for s in range(100)} == {"A", "B", "C"}


def test_extended_without_such_an_endpoint_is_a_404_saying_so() -> None:
    assert route("extended", SHORT) == []
    err = explain([(SHORT, "extended")], request(), parse_preferences(None), live(FakeClock()))
    assert isinstance(err, NotFoundError)
    assert err.message == "No endpoints found for vendor/short:extended with an extended context window " \
                          "(extended_context)."
    assert err.metadata["excluded_by"] == ["extended"]


@pytest.mark.parametrize(("qualities", "expected"), [
    ({"A": 0.2, "B": 0.9, "C": 0.5}, ["B", "C", "A"]),
    ({"C": 0.7}, ["C", "A", "B"]),           # configured quality leads, the rest by the default ordering
    ({"A": 0.8, "B": 0.8}, ["A", "B", "C"]),  # equal quality: cheaper first
])
def test_exacto_orders_by_the_configured_tool_quality(qualities: dict[str, float], expected: list[str]) -> None:
    m = model("vendor/model", *(replace(endpoint(p, price), tool_quality=qualities.get(p))
                                for p, price in (("A", 1), ("B", 2), ("C", 3))))
    for seed in range(20):  # deterministic: no load balancing
        assert route("exacto", m, seed=seed) == expected


def test_exacto_without_quality_uses_error_rate_then_throughput() -> None:
    clock, health = FakeClock(), Health()
    health.observe("A:A-model", True, clock.now, tokens_per_second=50)
    health.observe("A:A-model", False, clock.now)
    health.observe("B:B-model", True, clock.now, tokens_per_second=40)
    health.observe("C:C-model", True, clock.now, tokens_per_second=90)
    m = model("vendor/model", endpoint("A", 1), endpoint("B", 2), endpoint("C", 3))
    assert route("exacto", m, health=health) == ["C", "B", "A"]
    assert route(None, m, health=health, provider={"sort": "exacto"}) == ["C", "B", "A"]


def test_an_explicit_sort_wins_over_the_variant() -> None:
    m = model("vendor/model", *(replace(endpoint(p, price), tool_quality=q)
                                for p, price, q in (("A", 1, 0.1), ("B", 2, 0.9))))
    assert route("exacto", m, provider={"sort": "price"}) == ["A", "B"]
