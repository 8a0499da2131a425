"""OpenTelemetry traces with the GenAI semantic conventions, one span per generation (with its
attempts as events), exported over OTLP/HTTP. Built only when `telemetry.otlp_endpoint` is set: the
SDK is an optional dependency (`pip install switchpoint[telemetry]`) and costs nothing otherwise.
Spans are made from the ledger row after the fact, in a background task, with the real start and
end times, so the request path does no tracing work at all."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import orjson

from .context import current_scope

log = logging.getLogger("switchpoint.observability")
# gen_ai.system values of the semantic conventions, by provider name or type.
SYSTEMS = {"openai": "openai", "anthropic": "anthropic", "gemini": "gcp.gemini", "groq": "groq",
           "mistral": "mistral_ai", "deepseek": "deepseek", "xai": "xai", "azure": "az.ai.openai",
           "together": "together", "moonshot": "moonshot", "ollama": "ollama", "openrouter": "openrouter"}


def system_of(provider: str | None, provider_type: str | None) -> str:
    if provider and provider in SYSTEMS:
        return SYSTEMS[provider]
    return SYSTEMS.get(provider_type or "", provider_type or "unknown")


def span_attributes(row: dict[str, Any], provider_type: str | None, request_id: str | None) -> dict[str, Any]:
    operation = "embeddings" if row["api_type"] == "embeddings" else "chat"
    system = system_of(row.get("provider"), provider_type)
    attributes: dict[str, Any] = {
        "gen_ai.operation.name": operation,
        "gen_ai.system": system,
        "gen_ai.provider.name": system,
        "gen_ai.request.model": row["model"],
        "gen_ai.response.model": row.get("upstream_model") or row["model"],
        "gen_ai.response.id": row["id"],
        "gen_ai.usage.input_tokens": row.get("prompt_tokens") or 0,
        "gen_ai.usage.output_tokens": row.get("completion_tokens") or 0,
        "http.response.status_code": row["http_status"],
        "switchpoint.provider": row.get("provider") or "",
        "switchpoint.key": row["key_hash"][:12],
        "switchpoint.cost_usd": row["cost_nanos"] / 1e9,
        "switchpoint.streamed": bool(row.get("streamed")),
    }
    if row.get("finish_reason"):
        attributes["gen_ai.response.finish_reasons"] = [row["finish_reason"]]
    if row.get("ttft_ms") is not None:
        attributes["switchpoint.time_to_first_token_ms"] = row["ttft_ms"]
    if request_id:
        attributes["switchpoint.request_id"] = request_id
    if row["status"] != "success":
        attributes["error.type"] = str(row["http_status"]) if row["status"] == "error" else row["status"]
    return attributes


class Tracer:
    """Turns ledger rows into spans. `provider_types` maps configured provider names to their type."""

    def __init__(self, endpoint: str, service_name: str, provider_types: dict[str, str],
                 exporter: Any = None, flush_interval: float = 0.2) -> None:
        from opentelemetry.sdk.resources import Resource  # noqa: PLC0415 - optional dependency
        from opentelemetry.sdk.trace import TracerProvider  # noqa: PLC0415
        from opentelemetry.sdk.trace.export import BatchSpanProcessor  # noqa: PLC0415

        if exporter is None:
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import (  # noqa: PLC0415
                OTLPSpanExporter,
            )

            exporter = OTLPSpanExporter(endpoint=endpoint.rstrip("/") + "/v1/traces")
        self.provider = TracerProvider(resource=Resource.create({"service.name": service_name}))
        self.provider.add_span_processor(BatchSpanProcessor(exporter, schedule_delay_millis=500))
        self.tracer = self.provider.get_tracer("switchpoint")
        self.provider_types = provider_types
        self.flush_interval = flush_interval
        self._queue: list[tuple[dict[str, Any], str | None, str | None]] = []
        self._task: asyncio.Task[None] | None = None

    def observe(self, row: dict[str, Any]) -> None:
        scope = current_scope()
        self._queue.append((row, scope.request_id if scope else None, scope.traceparent if scope else None))

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run(), name="tracing")

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.flush_interval)
            self.emit()

    def emit(self) -> None:
        from opentelemetry.trace import SpanKind, Status, StatusCode  # noqa: PLC0415
        from opentelemetry.trace.propagation.tracecontext import (  # noqa: PLC0415
            TraceContextTextMapPropagator,
        )

        batch, self._queue = self._queue, []
        for row, request_id, traceparent in batch:
            parent = TraceContextTextMapPropagator().extract({"traceparent": traceparent}) if traceparent else None
            start_ns = row["created_at_ms"] * 1_000_000
            end_ns = start_ns + int((row.get("latency_ms") or 0) * 1_000_000)
            attributes = span_attributes(row, self.provider_types.get(row.get("provider") or ""), request_id)
            span = self.tracer.start_span(f"{attributes['gen_ai.operation.name']} {row['model']}", context=parent,
                                          kind=SpanKind.CLIENT, start_time=start_ns, attributes=attributes)
            for attempt in orjson.loads(row["attempts"]) if row.get("attempts") else []:
                span.add_event("gen_ai.attempt", {k: v for k, v in attempt.items() if v is not None})
            if row["status"] in ("error", "refused"):
                span.set_status(Status(StatusCode.ERROR, row.get("error") or ""))
            span.end(end_time=max(end_ns, start_ns))

    async def drain(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
        self.emit()
        await asyncio.get_running_loop().run_in_executor(None, self.provider.shutdown)
