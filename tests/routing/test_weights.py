"""Operator weights on endpoints, pure with seeded randomness: a weight scales the share of the default
price-weighted pick, and weight 0 drains an endpoint (last in every order but `provider.order`, and
still a fallback)."""

from __future__ import annotations

import random
from collections import Counter
from typing import Any

import pytest

from switchpoint.routing import parse_preferences, plan
from switchpoint.routing.order import weighted_pick

from .support import FakeClock, endpoint, live, model, providers, request


def firsts(m: Any, draws: int = 10_000, seed: int = 42) -> Counter[str]:
    rng = random.Random(seed)
    state = live(FakeClock())
    return Counter(plan([(m, None)], request(), rng, live=state)[0].endpoint.provider for _ in range(draws))


def test_weight_scales_the_share_of_the_price_weighted_pick() -> None:
    # Same price: 3:1 by weight alone.
    counts = firsts(model("vendor/model", endpoint("A", 1, weight=3), endpoint("B", 1)))
    assert counts["A"] / 10_000 == pytest.approx(0.75, abs=0.015)
    # A at $1/M and C at $3/M lead 9:1 by price; weight 9 on C evens them.
    counts = firsts(model("vendor/model", endpoint("A", 1), endpoint("C", 3, weight=9)))
    assert counts["A"] / 10_000 == pytest.approx(0.5, abs=0.015)


def test_default_weights_keep_the_inverse_square_price_shares() -> None:
    counts = firsts(model("vendor/model", endpoint("A", 1), endpoint("B", 2), endpoint("C", 3)))
    total = 1 + 1 / 4 + 1 / 9
    assert counts["A"] / 10_000 == pytest.approx(1 / total, abs=0.015)
    assert counts["C"] / 10_000 == pytest.approx((1 / 9) / total, abs=0.015)


def test_a_drained_endpoint_is_never_picked_while_another_is_usable_but_stays_a_fallback() -> None:
    m = model("vendor/model", endpoint("A", 1, weight=0), endpoint("B", 5), endpoint("C", 9))
    state = live(FakeClock())
    for seed in range(300):
        order = providers(plan([(m, None)], request(), random.Random(seed), live=state))
        assert order[-1] == "A" and sorted(order) == ["A", "B", "C"]
    # The only endpoint left (the others filtered out) still serves.
    only_a = parse_preferences({"only": ["A"]})
    assert providers(plan([(m, None)], request(), random.Random(1), prefs=only_a, live=state)) == ["A"]


def test_drained_endpoints_go_last_in_sorted_orders_but_the_clients_order_wins() -> None:
    m = model("vendor/model", endpoint("A", 1, weight=0), endpoint("B", 2))
    state = live(FakeClock())
    by_price = parse_preferences({"sort": "price"})
    assert providers(plan([(m, None)], request(), random.Random(1), prefs=by_price, live=state)) == ["B", "A"]
    ordered = parse_preferences({"order": ["A"]})
    assert providers(plan([(m, None)], request(), random.Random(1), prefs=ordered, live=state)) == ["A", "B"]


def test_free_endpoints_are_picked_by_weight_among_themselves() -> None:
    counts = firsts(model("vendor/model", endpoint("F1", 0, weight=1), endpoint("F2", 0, weight=3),
                          endpoint("P", 1)))
    assert counts["P"] == 0
    assert counts["F2"] / 10_000 == pytest.approx(0.75, abs=0.015)
    drained_free = model("vendor/model", endpoint("F", 0, weight=0), endpoint("P", 1))
    assert providers(plan([(drained_free, None)], request(), random.Random(3), live=live(FakeClock()))) == ["P", "F"]


def test_weighted_pick_with_every_weight_zero_takes_the_first() -> None:
    m = model("vendor/model", endpoint("A", 1, weight=0), endpoint("B", 2, weight=0))
    cands = list(plan([(m, None)], request(), random.Random(1), live=live(FakeClock())))
    assert providers(cands) == ["A", "B"]
    assert weighted_pick(cands, random.Random(5)) == 0
