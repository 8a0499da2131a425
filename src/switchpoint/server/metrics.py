"""Prometheus metrics, derived from ledger rows in the ledger writer's batches (off the request
path, and always in agreement with the ledger). Labels are the catalogue's model ids and the
configured provider names only, so their cardinality is bounded by the configuration."""

from __future__ import annotations

from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from .http import Request, Response, Send

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120)
OVERHEAD_BUCKETS = (0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25)
_ERROR_TYPES = {400: "bad_request", 401: "auth", 402: "payment", 403: "forbidden", 404: "no_endpoint",
                408: "timeout", 413: "too_large", 429: "rate_limited", 499: "cancelled", 502: "provider",
                503: "unavailable"}


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
        self.backlog = Gauge("switchpoint_ledger_backlog", "Ledger rows queued, not yet written",
                             registry=self.registry)

    def observe(self, rows: list[dict[str, Any]]) -> None:
        for row in rows:
            model = row["model"] if row["model"] in self.known_models else "other"
            provider = row["provider"] or "none"
            self.requests.labels(model, provider, row["status"]).inc()
            if row["status"] != "success":
                self.errors.labels(_ERROR_TYPES.get(row["http_status"], str(row["http_status"]))).inc()
            if row["prompt_tokens"]:
                self.tokens.labels(model, provider, "prompt").inc(row["prompt_tokens"])
            if row["completion_tokens"]:
                self.tokens.labels(model, provider, "completion").inc(row["completion_tokens"])
            if row["cost_nanos"]:
                self.cost.labels(model, provider).inc(row["cost_nanos"] / 1e9)
            if row["latency_ms"] is not None:
                self.latency.labels(model, provider).observe(row["latency_ms"] / 1000)
                self.overhead.observe(row.get("overhead_ms", 0.0) / 1000)
            if row.get("ttft_ms") is not None and row["streamed"]:
                self.ttft.labels(model, provider).observe(row["ttft_ms"] / 1000)
            attempts_ms = row.get("upstream_ms")
            if attempts_ms:
                self.upstream.labels(model, provider).observe(attempts_ms / 1000)

    def render(self, backlog: int) -> bytes:
        self.backlog.set(backlog)
        return generate_latest(self.registry)


async def metrics_endpoint(services: Any, request: Request, send: Send) -> Response:
    return Response(services.metrics.render(services.ledger.backlog), content_type=CONTENT_TYPE_LATEST.encode())
