"""Ordering the endpoints that passed the filters: deterministic sorts, OpenRouter's default
price-weighted load balancing (scaled by the operator's endpoint `weight`), `order`, and the soft
throughput / latency preferences.

Weights: an endpoint's chance to lead the default order is weight/price² over the sum of them, so
weight 2 doubles its share and 0.5 halves it, without touching prices. Weight 0 drains it: it goes
behind every other usable endpoint, in every ordering but the client's own `provider.order`, and is
tried only when they all failed (or were filtered out): a drained endpoint is a fallback, never gone."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass

from .breaker import BreakerStore
from .candidate import Candidate
from .health import EndpointHealth, Health
from .preferences import Preferences

UNKNOWN = float("inf")


@dataclass(slots=True)  # not frozen: one is made for every request, and frozen costs 3x to make
class Live:
    """The live state routing reads: endpoint statistics, breakers and the time."""

    health: Health | None = None
    breakers: BreakerStore | None = None
    now: float = 0.0
    healthy_window: float = 30.0

    def stats(self, c: Candidate) -> EndpointHealth | None:
        return self.health.endpoints.get(c.key) if self.health is not None else None

    def healthy(self, c: Candidate) -> bool:
        h = self.stats(c)
        return h is None or not h.recently_failed(self.now, self.healthy_window)

    def available(self, c: Candidate) -> bool:
        return self.breakers is None or self.breakers.available(c.key, self.now)


def arrange(candidates: list[Candidate], prefs: Preferences, sort: str | None, live: Live,
            rng: random.Random, drains: bool = True) -> list[Candidate]:
    """Candidates (cheapest first) in the order they will be tried. `drains`: whether one of them may
    be drained (weight 0); False spares looking."""
    if sort is not None:
        ranked = sorted(candidates, key=sort_key(sort, live))
    elif prefs.order:
        ranked = candidates  # `order` disables load balancing; the rest stay cheapest first
    else:
        ranked = balanced(candidates, live, rng)
    if prefs.min_throughput or prefs.max_latency:
        ranked = _soft(ranked, prefs, live)
    if drains:
        ranked = drained_last(ranked)
    if prefs.order:
        front = [c for name in prefs.order for c in ranked if c.provider == name]
        if not prefs.allow_fallbacks:
            return front
        listed = set(prefs.order)
        return front + [c for c in ranked if c.provider not in listed]
    if not prefs.allow_fallbacks:
        return ranked[:1]
    return ranked


def drained_last(ranked: list[Candidate]) -> list[Candidate]:
    """Drained endpoints (weight 0) behind the others, each group in its order."""
    return [c for c in ranked if not c.drained] + [c for c in ranked if c.drained]


def balanced(candidates: list[Candidate], live: Live, rng: random.Random) -> list[Candidate]:
    """OpenRouter's default: among endpoints without a failure in the healthy window, one picked at
    random with weight 1/price²; then the other healthy ones and then the unhealthy ones, cheapest first.
    Free endpoints outweigh any priced one, so the pick is uniform among the free."""
    if live.health is None or live.health.all_healthy(live.now, live.healthy_window):
        healthy, unhealthy = candidates, list[Candidate]()
    else:
        healthy, unhealthy = [], []
        for c in candidates:
            (healthy if live.healthy(c) else unhealthy).append(c)
    if len(healthy) > 1:
        pick = weighted_pick(healthy, rng)
        if pick:
            healthy = [healthy[pick], *healthy[:pick], *healthy[pick + 1:]]
    return healthy + unhealthy if unhealthy else healthy


def weighted_pick(candidates: list[Candidate], rng: random.Random) -> int:
    """Index drawn with probability proportional to weight/price² (prices in USD per million tokens).
    Free endpoints outweigh any priced one: among them the pick goes by weight alone. Drained
    endpoints (weight 0) are never drawn while another has weight."""
    if candidates[0].price <= 0:  # cheapest first: free endpoints lead
        pool = [c for c in candidates if c.price <= 0]
        if len(pool) == len(candidates) or any(not c.drained for c in pool):
            candidates = pool
    weights = [c.pick_weight for c in candidates]
    total = sum(weights)
    if total <= 0:
        return 0
    if all(w == weights[0] for w in weights) and candidates[0].price <= 0:
        return int(rng.random() * len(candidates))  # uniform among equally weighted free endpoints
    target = rng.random() * total
    for index, weight in enumerate(weights):
        target -= weight
        if target < 0:
            return index
    return len(candidates) - 1


def sort_key(sort: str, live: Live) -> Callable[[Candidate], tuple[float, ...]]:
    """Keys for `sort`; endpoints never measured go after measured ones, cheapest first."""
    if sort == "price":
        return lambda c: (c.price,)

    def key(c: Candidate) -> tuple[float, ...]:
        h = live.stats(c)
        if sort == "throughput":
            value = -h.tokens_per_second if h is not None and h.tokens_per_second is not None else UNKNOWN
        elif sort == "latency":
            value = _latency(h)
        else:
            return _exacto(c, h)
        return (value, c.price)

    return key


def _exacto(c: Candidate, h: EndpointHealth | None) -> tuple[float, ...]:
    """Tool-calling quality first (OpenRouter's Exacto): the configured `tool_quality` (highest first)
    leads; endpoints without one follow in OpenRouter's documented default, the measured error rate
    (its tool-call error rate stands in for it), then throughput; never measured last, cheapest first."""
    quality = c.endpoint.tool_quality
    if quality is not None:
        return (0.0, -quality, c.price)
    if h is None or not h.requests:
        return (2.0, UNKNOWN, UNKNOWN, c.price)
    throughput = -h.tokens_per_second if h.tokens_per_second is not None else UNKNOWN
    return (1.0, h.error_rate, throughput, c.price)


def _latency(h: EndpointHealth | None) -> float:
    if h is None:
        return UNKNOWN
    if h.ttft_ms is not None:
        return h.ttft_ms
    return h.latency_ms if h.latency_ms is not None else UNKNOWN


def _soft(ranked: list[Candidate], prefs: Preferences, live: Live) -> list[Candidate]:
    """preferred_min_throughput / preferred_max_latency: endpoints measured below the bar move to the
    back (never excluded). Percentiles over the last 5 minutes; unmeasured endpoints stay put."""
    keep: list[Candidate] = []
    back: list[Candidate] = []
    for c in ranked:
        (back if _below_bar(c, prefs, live) else keep).append(c)
    return keep + back


def _below_bar(c: Candidate, prefs: Preferences, live: Live) -> bool:
    h = live.stats(c)
    if h is None:
        return False
    if prefs.min_throughput:
        measured = h.percentiles(live.now, 3, 300.0)
        if measured and any(measured[p] < bar for p, bar in prefs.min_throughput.items()):
            return True
    if prefs.max_latency:
        measured = h.percentiles(live.now, 2, 300.0) or h.percentiles(live.now, 1, 300.0)
        if measured and any(measured[p] > bar * 1000 for p, bar in prefs.max_latency.items()):
            return True
    return False
