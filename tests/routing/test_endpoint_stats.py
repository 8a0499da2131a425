"""GET /models/{id}/endpoints reports live uptime, latency and throughput per endpoint."""

from __future__ import annotations

from ..conftest import Gateway
from ..upstream import Reply, Upstream
from .conftest import CHAT, USER, call, sdk
from .test_stream_failover import sse


def test_statistics_follow_traffic(routed: Gateway, upstream: Upstream) -> None:
    endpoints = call(routed, "GET", "/api/v1/models/rt/trio/endpoints").json()["data"]["endpoints"]
    assert [(e["provider_name"], e["uptime_last_5m"], e["latency_last_30m"]) for e in endpoints] == [
        ("up", None, None), ("backup", None, None), ("third", None, None)]
    upstream.always("/v1" + CHAT, sse(pause=0.01))
    for _ in range(3):
        list(sdk(routed).chat.completions.create(model="rt/trio", messages=USER, stream=True,
                                                 extra_body={"provider": {"order": ["up"]}}))
    upstream.queue("/v1" + CHAT, Reply.file("openai/error_500_server_error.json", status=500))
    upstream.queue("/backup/v1" + CHAT, sse())
    list(sdk(routed).chat.completions.create(model="rt/trio", messages=USER, stream=True,
                                             extra_body={"provider": {"order": ["up", "backup"]}}))
    info = {e["provider_name"]: e for e in
            call(routed, "GET", "/api/v1/models/rt/trio/endpoints").json()["data"]["endpoints"]}
    up = info["up"]
    assert (up["uptime_last_5m"], up["uptime_last_30m"], up["uptime_last_1d"]) == (75.0, 75.0, 75.0)
    assert set(up["latency_last_30m"]) == {"p50", "p75", "p90", "p99"}
    assert 0 < up["latency_last_30m"]["p50"] <= up["latency_last_30m"]["p99"] < 1000
    assert set(up["throughput_last_30m"]) == {"p50", "p75", "p90", "p99"}
    assert up["throughput_last_30m"]["p50"] > 0
    assert up["status"] == -1  # failed within the healthy window
    assert info["backup"]["uptime_last_5m"] == 100.0 and info["backup"]["status"] == 0
    assert info["third"]["uptime_last_1d"] is None
