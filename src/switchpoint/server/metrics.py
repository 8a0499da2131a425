"""Prometheus metrics. Every HTTP request is counted by route and status as it ends (server/access.py);
the generation metrics are derived from ledger rows in the ledger writer's batches (off the request
path, and always in agreement with the ledger). Labels are the catalogue's model ids, the configured
provider names, the routes' path templates, a fixed set of methods and the HTTP statuses, so their
cardinality is bounded by the configuration and the code, never by what clients send."""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterator
from itertools import accumulate
from typing import Any

from prometheus_client import CollectorRegistry, Gauge, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from prometheus_client.metrics_core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.utils import floatToGoString

from .http import Request, Response, Send

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120)
OVERHEAD_BUCKETS = (0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25)
_ERROR_TYPES = {400: "bad_request", 401: "auth", 402: "payment", 403: "forbidden", 404: "no_endpoint",
                408: "timeout", 413: "too_large", 429: "rate_limited", 499: "cancelled", 502: "provider",
                503: "unavailable"}


class Counters:
    """A labelled counter kept as plain sums and rendered when scraped. prometheus_client's own
    takes a lock on every increment, and the metrics cost 4.4 µs a generation with them."""

    def __init__(self, name: str, doc: str, labels: tuple[str, ...], registry: CollectorRegistry,
                 per_unit: int = 1) -> None:
        self.name, self.doc, self.labels, self.per_unit = name, doc, labels, per_unit
        self.values: dict[tuple[str, ...], int] = {}  # in 1/per_unit: exact, however many are added
        registry.register(self)

    def inc(self, labels: tuple[str, ...], amount: int = 1) -> None:
        self.values[labels] = self.values.get(labels, 0) + amount

    def collect(self) -> Iterator[Metric]:
        family = CounterMetricFamily(self.name, self.doc, labels=self.labels)
        for labels, value in self.values.items():
            family.add_metric(labels, value / self.per_unit if self.per_unit != 1 else value)
        yield family


class Histograms:
    """A labelled histogram kept as bucket counts and a sum, rendered when scraped."""

    def __init__(self, name: str, doc: str, labels: tuple[str, ...], buckets: tuple[float, ...],
                 registry: CollectorRegistry) -> None:
        self.name, self.doc, self.labels, self.bounds = name, doc, labels, buckets
        self.series: dict[tuple[str, ...], tuple[list[int], list[float]]] = {}
        registry.register(self)

    def observe(self, labels: tuple[str, ...], value: float) -> None:
        series = self.series.get(labels)
        if series is None:
            series = self.series[labels] = ([0] * (len(self.bounds) + 1), [0.0])
        series[0][bisect_left(self.bounds, value)] += 1  # the first bucket whose bound is >= value
        series[1][0] += value

    def collect(self) -> Iterator[Metric]:
        family = HistogramMetricFamily(self.name, self.doc, labels=self.labels)
        for labels, (counts, total) in self.series.items():
            cumulative = list(accumulate(counts))
            buckets = [(floatToGoString(b), c) for b, c in zip(self.bounds, cumulative, strict=False)]
            family.add_metric(labels, [*buckets, ("+Inf", cumulative[-1])], total[0])
        yield family


class Metrics:
    def __init__(self, known_models: set[str]) -> None:
        self.known_models = known_models
        self.registry = CollectorRegistry()
        labels = ("model", "provider")
        registry = self.registry
        self.http = Counters("switchpoint_http_requests", "HTTP requests by route (path template), method and "
                             "status, refused ones included", ("route", "method", "status"), registry)
        self.requests = Counters("switchpoint_requests", "Generations by outcome", (*labels, "status"), registry)
        self.errors = Counters("switchpoint_errors", "Failed generations by error type", ("type",), registry)
        self.tokens = Counters("switchpoint_tokens", "Tokens counted", (*labels, "kind"), registry)
        self.cost = Counters("switchpoint_cost_usd", "Cost charged, USD", labels, registry, per_unit=10**9)
        self.latency = Histograms("switchpoint_request_duration_seconds", "Whole request duration", labels,
                                  LATENCY_BUCKETS, registry)
        self.upstream = Histograms("switchpoint_upstream_seconds", "Time waiting on upstream attempts", labels,
                                   LATENCY_BUCKETS, registry)
        self.ttft = Histograms("switchpoint_time_to_first_token_seconds", "Time to first token (streams)", labels,
                               LATENCY_BUCKETS, registry)
        self.overhead = Histograms("switchpoint_overhead_seconds",
                                   "The gateway's own time: total minus time waiting on upstreams", (),
                                   OVERHEAD_BUCKETS, registry)
        self.backlog = Gauge("switchpoint_ledger_backlog", "Ledger rows queued, not yet written",
                             registry=self.registry)

    def observe(self, rows: list[dict[str, Any]]) -> None:
        for row in rows:
            model = row["model"] if row["model"] in self.known_models else "other"
            series = (model, row["provider"] or "none")
            self.requests.inc((*series, row["status"]))
            if row["status"] != "success":
                self.errors.inc((_ERROR_TYPES.get(row["http_status"], str(row["http_status"])),))
            if row["prompt_tokens"]:
                self.tokens.inc((*series, "prompt"), row["prompt_tokens"])
            if row["completion_tokens"]:
                self.tokens.inc((*series, "completion"), row["completion_tokens"])
            if row["cost_nanos"]:
                self.cost.inc(series, row["cost_nanos"])
            if row["latency_ms"] is not None:
                self.latency.observe(series, row["latency_ms"] / 1000)
                self.overhead.observe((), row.get("overhead_ms", 0.0) / 1000)
            if row.get("ttft_ms") is not None and row["streamed"]:
                self.ttft.observe(series, row["ttft_ms"] / 1000)
            attempts_ms = row.get("upstream_ms")
            if attempts_ms:
                self.upstream.observe(series, attempts_ms / 1000)

    def render(self, backlog: int) -> bytes:
        self.backlog.set(backlog)
        return generate_latest(self.registry)


class LedgerHealth:
    """The ledger writer's own health, read from it when scraped."""

    def __init__(self, ledger: Any, registry: CollectorRegistry) -> None:
        self.ledger = ledger
        registry.register(self)

    def collect(self) -> Iterator[Metric]:
        ledger = self.ledger
        yield CounterMetricFamily("switchpoint_ledger_dead_letters", "Ledger rows the database refused, set aside "
                                  "for `switchpoint db replay`", value=ledger.dead_lettered)
        yield CounterMetricFamily("switchpoint_ledger_write_failures", "Ledger batches that could not be written "
                                  "(kept and retried)", value=ledger.write_failures)
        yield GaugeMetricFamily("switchpoint_ledger_refusing", "1 while new generations get 503 because the "
                                "ledger cannot record them", value=int(ledger.problem is not None))


async def metrics_endpoint(services: Any, request: Request, send: Send) -> Response:
    return Response(services.metrics.render(services.ledger.backlog), content_type=CONTENT_TYPE_LATEST.encode())
