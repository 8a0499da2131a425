"""Per-endpoint rows for the dashboard: the upstream attempts each endpoint was asked (its requests,
failed ones included, from the attempts rollup), what it served (cost, tokens, percentiles) from the
ledger, and the live routing health (attempts since start, circuit-breaker state) of this replica."""

from __future__ import annotations

from typing import Any

from ...routing.breaker import CLOSED, BreakerState
from ...routing.health import EndpointHealth
from ..services import Services


def circuit_state(breaker: BreakerState | None) -> str:
    """The breaker's state as routing reports it ('closed', 'open', 'half_open'), or 'closed' for an
    endpoint without a breaker record."""
    return breaker.state if breaker is not None else CLOSED


def live(health: EndpointHealth | None, breaker: BreakerState | None = None) -> dict[str, Any]:
    if health is None:
        return {"attempts": 0, "failures": 0, "error_rate": None, "consecutive_failures": 0,
                "circuit": circuit_state(breaker), "latency_ms": None, "ttft_ms": None}
    return {"attempts": health.requests, "failures": health.failures, "error_rate": health.error_rate,
            "consecutive_failures": health.consecutive_failures, "circuit": circuit_state(breaker),
            "latency_ms": health.latency_ms, "ttft_ms": health.ttft_ms}


def endpoint_rows(services: Services, usage: list[dict[str, Any]], latency: dict[tuple[str, str], dict[str, Any]],
                  attempts: dict[tuple[str, str], tuple[int, int]]) -> list[dict[str, Any]]:
    """Every configured endpoint, busiest first, plus any the ledger knows that are no longer configured.
    Requests and errors are upstream attempts: an endpoint that failed every attempt shows them all."""
    by_endpoint = {(r["provider"], r["model"]): r for r in usage if r["provider"]}
    rows: list[dict[str, Any]] = []
    seen: set[tuple[str, str]] = set()
    for model in services.catalogue.servable():
        for endpoint in model.endpoints:
            ident = (endpoint.provider, model.id)
            if ident in seen:
                continue
            seen.add(ident)
            rows.append(_row(ident, endpoint.model, by_endpoint.get(ident), latency.get(ident), attempts.get(ident),
                             services.health.endpoints.get(endpoint.key), configured=True,
                             breaker=services.engine.breakers.get(endpoint.key)))
    for ident in [*by_endpoint, *attempts]:
        if ident not in seen:
            seen.add(ident)
            rows.append(_row(ident, None, by_endpoint.get(ident), latency.get(ident), attempts.get(ident), None,
                             configured=False))
    rows.sort(key=lambda r: (-r["requests"], r["model"], r["provider"]))
    return rows


def _row(ident: tuple[str, str], upstream: str | None, usage: dict[str, Any] | None,
         latency: dict[str, Any] | None, attempts: tuple[int, int] | None, health: EndpointHealth | None, *,
         configured: bool, breaker: BreakerState | None = None) -> dict[str, Any]:
    usage = usage or {}
    requests, failures = attempts or (0, 0)
    return {
        "provider": ident[0], "model": ident[1], "upstream_model": upstream, "configured": configured,
        "requests": requests, "errors": failures, "error_rate": failures / requests if requests else 0.0,
        "served": usage.get("requests", 0), "cost": usage.get("cost", 0.0),
        "prompt_tokens": usage.get("prompt_tokens", 0), "completion_tokens": usage.get("completion_tokens", 0),
        "percentiles": latency, "live": live(health, breaker),
    }
