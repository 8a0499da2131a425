"""Per-endpoint rows for the dashboard: ledger totals and percentiles joined with the live routing
health (attempt counts since start, error rate, circuit-breaker state) of this replica."""

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


def endpoint_rows(services: Services, usage: list[dict[str, Any]],
                  latency: dict[tuple[str, str], dict[str, Any]]) -> list[dict[str, Any]]:
    """Every configured endpoint, busiest first, plus any the ledger knows that are no longer configured."""
    by_endpoint = {(r["provider"], r["model"]): r for r in usage if r["provider"]}
    rows: list[dict[str, Any]] = []
    seen: set[tuple[str, str]] = set()
    for model in services.catalogue.servable():
        for endpoint in model.endpoints:
            ident = (endpoint.provider, model.id)
            if ident in seen:
                continue
            seen.add(ident)
            rows.append(_row(ident, endpoint.model, by_endpoint.get(ident), latency.get(ident),
                             services.health.endpoints.get(endpoint.key), configured=True,
                             breaker=services.engine.breakers.get(endpoint.key)))
    for ident, usage_row in by_endpoint.items():
        if ident not in seen:
            rows.append(_row(ident, None, usage_row, latency.get(ident), None, configured=False))
    rows.sort(key=lambda r: (-r["requests"], r["model"], r["provider"]))
    return rows


def _row(ident: tuple[str, str], upstream: str | None, usage: dict[str, Any] | None,
         latency: dict[str, Any] | None, health: EndpointHealth | None, *, configured: bool,
         breaker: BreakerState | None = None) -> dict[str, Any]:
    usage = usage or {}
    return {
        "provider": ident[0], "model": ident[1], "upstream_model": upstream, "configured": configured,
        "requests": usage.get("requests", 0), "errors": usage.get("errors", 0),
        "error_rate": usage.get("error_rate", 0.0), "cost": usage.get("cost", 0.0),
        "prompt_tokens": usage.get("prompt_tokens", 0), "completion_tokens": usage.get("completion_tokens", 0),
        "percentiles": latency, "live": live(health, breaker),
    }
