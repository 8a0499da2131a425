"""OpenTelemetry traces with GenAI attributes, received by a tiny local OTLP/HTTP collector."""

from __future__ import annotations

import asyncio
import time

import openai
import pytest
from aiohttp import web

from ..conftest import TEST_KEY
from ..upstream import Reply

trace_service = pytest.importorskip("opentelemetry.proto.collector.trace.v1.trace_service_pb2")
CHAT = "/v1/chat/completions"


class Collector:
    """Accepts OTLP/HTTP protobuf exports on /v1/traces and keeps the spans."""

    def __init__(self) -> None:
        self.spans: list = []
        self.runner: web.AppRunner | None = None
        self.port = 0

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/v1/traces", self.receive)
        self.runner = web.AppRunner(app, access_log=None)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    async def receive(self, request: web.Request) -> web.Response:
        export = trace_service.ExportTraceServiceRequest()
        export.ParseFromString(await request.read())
        for resource_spans in export.resource_spans:
            for scope_spans in resource_spans.scope_spans:
                self.spans.extend(scope_spans.spans)
        return web.Response(body=trace_service.ExportTraceServiceResponse().SerializeToString(),
                            content_type="application/x-protobuf")

    async def stop(self) -> None:
        if self.runner is not None:
            await self.runner.cleanup()


def attributes(span) -> dict:
    out = {}
    for kv in span.attributes:
        value = kv.value
        kind = value.WhichOneof("value")
        out[kv.key] = [v.string_value for v in value.array_value.values] if kind == "array_value" else getattr(value, kind)
    return out


def test_spans_follow_the_genai_conventions(make_gateway, upstream, loop_thread) -> None:
    collector = Collector()
    loop_thread.run(collector.start())
    try:
        gateway = make_gateway(telemetry={"otlp_endpoint": f"http://127.0.0.1:{collector.port}",
                                          "generation_log": "off"})
        upstream.queue(CHAT, Reply.file("openai/chat_text.response.json"))
        client = openai.OpenAI(base_url=f"{gateway.url}/api/v1", api_key=TEST_KEY, max_retries=0, timeout=20)
        trace_id = "4bf92f3577b34da6a3ce929d0e0e4736"
        client.chat.completions.create(model="test/gpt", messages=[{"role": "user", "content": "hi"}],
                                       extra_headers={"traceparent": f"00-{trace_id}-00f067aa0ba902b7-01",
                                                      "x-request-id": "traced-1"})
        gateway.flush()
        tracer = gateway.services.observers[-1]
        gateway.call(tracer.drain)  # emits queued spans and flushes the exporter
        deadline = time.monotonic() + 10
        while not collector.spans and time.monotonic() < deadline:
            loop_thread.run(asyncio.sleep(0.05))
    finally:
        loop_thread.run(collector.stop())
    (span,) = collector.spans
    attrs = attributes(span)
    assert span.name == "chat test/gpt" and span.trace_id.hex() == trace_id
    assert attrs["gen_ai.system"] == "openai" and attrs["gen_ai.operation.name"] == "chat"
    assert attrs["gen_ai.request.model"] == "test/gpt"
    assert attrs["gen_ai.response.model"] == "gpt-4o-2024-08-06"
    assert (attrs["gen_ai.usage.input_tokens"], attrs["gen_ai.usage.output_tokens"]) == (14, 37)
    assert attrs["gen_ai.response.finish_reasons"] == ["stop"]
    assert attrs["switchpoint.request_id"] == "traced-1" and attrs["switchpoint.provider"] == "up"
    assert span.end_time_unix_nano >= span.start_time_unix_nano
    assert [e.name for e in span.events] == ["gen_ai.attempt"]


def test_no_tracing_work_without_an_endpoint(gateway) -> None:
    from switchpoint.observability.genlog import GenerationLog

    assert all(isinstance(o, GenerationLog) for o in gateway.services.observers)
