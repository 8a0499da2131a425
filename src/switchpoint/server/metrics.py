"""Prometheus metrics, derived from ledger rows in the ledger writer's batches (off the request
path, and always in agreement with the ledger). Labels are the catalogue's model ids and the
configured provider names only, so their cardinality is bounded by the configuration."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from .http import Request, Response, Send

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120)
OVERHEAD_BUCKETS = (0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25)
_ERROR_TYPES = {400: "bad_request", 401: "auth", 402: "payment", 403: "forbidden", 404: "no_endpoint",
                408: "timeout", 413: "too_large", 429: "rate_limited", 499: "cancelled", 502: "provider",
                503: "unavailable"}


@dataclass(slots=True)
class Series:
    requests: Any
    prompt_tokens: Any
    completion_tokens: Any
    cost: Any
    latency: Any
    upstream: Any
    ttft: Any


class Metrics:
    def __init__(self, known_models: set[str]) -> None:
        self.known_models = known_models
        self.registry = CollectorRegistry()
        labels = ("model", "provider")
        self.requests = Counter("switchpoint_requests", "Generations by outcome", (*labels, "status"),
                                registry=self.registry)
        self.errors = Counter("switchpoint_errors", "Failed generations by error type", ("type",),
                              registry=self.registry)
        self.tokens = Counter("switchpoint_tokens", "Tokens counted", (*labels, "kind"), registry=self.registry)
        self.cost = Counter("switchpoint_cost_usd", "Cost charged, USD", labels, registry=self.registry)
        self.latency = Histogram("switchpoint_request_duration_seconds", "Whole request duration", labels,
                                 buckets=LATENCY_BUCKETS, registry=self.registry)
        self.upstream = Histogram("switchpoint_upstream_seconds", "Time waiting on upstream attempts", labels,
                                  buckets=LATENCY_BUCKETS, registry=self.registry)
        self.ttft = Histogram("switchpoint_time_to_first_token_seconds", "Time to first token (streams)", labels,
                              buckets=LATENCY_BUCKETS, registry=self.registry)
        self.overhead = Histogram("switchpoint_overhead_seconds",
                                  "The gateway's own time: total minus time waiting on upstreams",
                                  buckets=OVERHEAD_BUCKETS, registry=self.registry)
        self._series: dict[tuple[str, str | None, str], Series] = {}
        self.backlog = Gauge("switchpoint_ledger_backlog", "Ledger rows queued, not yet written",
                             registry=self.registry)

    def observe(self, rows: list[dict[str, Any]]) -> None:
        for row in rows:
            model = row["model"] if row["model"] in self.known_models else "other"
            series = self._series.get((model, row["provider"], row["status"]))
            if series is None:
                series = self._new_series(model, row["provider"], row["status"])
            series.requests.inc()
            if row["status"] != "success":
                self.errors.labels(_ERROR_TYPES.get(row["http_status"], str(row["http_status"]))).inc()
            if row["prompt_tokens"]:
                series.prompt_tokens.inc(row["prompt_tokens"])
            if row["completion_tokens"]:
                series.completion_tokens.inc(row["completion_tokens"])
            if row["cost_nanos"]:
                series.cost.inc(row["cost_nanos"] / 1e9)
            if row["latency_ms"] is not None:
                series.latency.observe(row["latency_ms"] / 1000)
                self.overhead.observe(row.get("overhead_ms", 0.0) / 1000)
            if row.get("ttft_ms") is not None and row["streamed"]:
                series.ttft.observe(row["ttft_ms"] / 1000)
            attempts_ms = row.get("upstream_ms")
            if attempts_ms:
                series.upstream.observe(attempts_ms / 1000)

    def _new_series(self, model: str, provider: str | None, status: str) -> Series:
        """The labelled children for one (model, provider, status), looked up once: `labels()` costs
        more than the increment it leads to."""
        name = provider or "none"
        series = Series(
            self.requests.labels(model, name, status), self.tokens.labels(model, name, "prompt"),
            self.tokens.labels(model, name, "completion"), self.cost.labels(model, name),
            self.latency.labels(model, name), self.upstream.labels(model, name), self.ttft.labels(model, name))
        self._series[(model, provider, status)] = series
        return series

    def render(self, backlog: int) -> bytes:
        self.backlog.set(backlog)
        return generate_latest(self.registry)


async def metrics_endpoint(services: Any, request: Request, send: Send) -> Response:
    return Response(services.metrics.render(services.ledger.backlog), content_type=CONTENT_TYPE_LATEST.encode())
