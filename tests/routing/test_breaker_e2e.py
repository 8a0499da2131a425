"""Breakers in a running gateway: open after failures, skip the endpoint, probe after the cool-down."""

from __future__ import annotations

import time
from typing import Any

from ..conftest import Gateway
from ..dashboard.helpers import get_json, login
from ..upstream import Reply, Upstream
from .conftest import CHAT, USER, call, post, sdk, tried

ERROR_500 = Reply.file("openai/error_500_server_error.json", status=500)
OK = Reply.file("openai/chat_text.response.json")
BREAKER = {"breaker": {"consecutive_failures": 2, "cooldown": 0.5}}


def ask(gateway: Gateway, model: str = "rt/trio") -> Any:
    return post(gateway, {"model": model, "messages": USER, "provider": {"sort": "price"}})


def endpoints(gateway: Gateway, model: str) -> dict[str, dict[str, Any]]:
    data = call(gateway, "GET", f"/api/v1/models/{model}/endpoints").json()["data"]
    return {e["provider_name"]: e for e in data["endpoints"]}


def test_open_breaker_skips_the_endpoint_until_a_probe_succeeds(make_routed: Any, upstream: Upstream) -> None:
    gateway = make_routed(routing=BREAKER)
    upstream.queue("/v1" + CHAT, ERROR_500, ERROR_500)
    upstream.always("/backup/v1" + CHAT, OK)
    assert [ask(gateway).status_code for _ in range(3)] == [200, 200, 200]
    assert tried(upstream) == ["up", "backup", "up", "backup", "backup"]
    info = endpoints(gateway, "rt/trio")
    assert (info["up"]["circuit"], info["up"]["status"]) == ("open", -1)
    assert (info["backup"]["circuit"], info["backup"]["status"]) == ("closed", 0)
    time.sleep(0.55)
    upstream.reset()
    upstream.always("/v1" + CHAT, OK)
    response = ask(gateway)
    assert response.json()["provider"] == "up"  # the probe
    assert tried(upstream) == ["up"]
    assert endpoints(gateway, "rt/trio")["up"]["circuit"] == "closed"


def test_dashboard_shows_the_breaker_state(make_routed: Any, upstream: Upstream) -> None:
    gateway = make_routed(routing=BREAKER)
    upstream.always("/v1" + CHAT, ERROR_500)
    upstream.always("/backup/v1" + CHAT, OK)
    for _ in range(2):
        ask(gateway)
    rows = get_json(gateway, "/dashboard/api/endpoints", login(gateway))["endpoints"]
    circuits = {r["provider"]: r["live"]["circuit"] for r in rows if r["model"] == "rt/trio"}
    assert circuits == {"up": "open", "backup": "closed", "third": "closed"}


def test_failed_probe_reopens(make_routed: Any, upstream: Upstream) -> None:
    gateway = make_routed(routing=BREAKER)
    upstream.always("/v1" + CHAT, ERROR_500)
    upstream.always("/backup/v1" + CHAT, OK)
    for _ in range(3):
        ask(gateway)
    time.sleep(0.55)
    upstream.received.clear()
    ask(gateway)
    ask(gateway)
    assert tried(upstream) == ["up", "backup", "backup"]
    assert endpoints(gateway, "rt/trio")["up"]["circuit"] == "open"


def test_every_breaker_open_is_a_503_with_retry_after(make_routed: Any, upstream: Upstream) -> None:
    gateway = make_routed(routing={"breaker": {"consecutive_failures": 2, "cooldown": 30}})
    upstream.always("/v1" + CHAT, ERROR_500)
    assert [ask(gateway, "test/gpt").status_code for _ in range(2)] == [502, 502]
    response = ask(gateway, "test/gpt")
    assert response.status_code == 503
    assert response.headers["retry-after"] == "30"
    error = response.json()["error"]
    assert error["message"] == "No healthy endpoints for test/gpt: every provider is failing; retry in 30 s."
    assert error["metadata"]["excluded_by"] == ["health"]
    assert len(tried(upstream)) == 2


def test_rejected_requests_and_rate_limits_do_not_open_the_breaker(make_routed: Any, upstream: Upstream) -> None:
    gateway = make_routed(routing=BREAKER)
    upstream.always("/v1" + CHAT, Reply.file("openai/error_400_unsupported_value.json", status=400))
    assert [ask(gateway, "test/gpt").status_code for _ in range(3)] == [400, 400, 400]
    upstream.always("/v1" + CHAT, Reply.file("openai/error_429_rate_limit_tokens.json", status=429))
    assert [ask(gateway, "test/gpt").status_code for _ in range(3)] == [429, 429, 429]
    assert tried(upstream) == ["up"] * 6
    info = endpoints(gateway, "test/gpt")["up"]
    assert info["circuit"] == "closed"
    assert info["uptime_last_5m"] == 100.0  # neither a rejected request nor a rate limit is an outage


def test_a_rate_limited_endpoint_steps_back_in_default_routing(routed: Gateway, upstream: Upstream) -> None:
    upstream.queue("/v1" + CHAT, Reply.file("openai/error_429_rate_limit_tokens.json", status=429,
                                            headers={"Retry-After": "30"}))
    upstream.always("/backup/v1" + CHAT, OK)
    upstream.always("/third/v1" + CHAT, OK)
    first = sdk(routed).chat.completions.create(model="rt/trio", messages=USER,
                                                extra_body={"provider": {"order": ["up"]}})
    assert first.model_extra["provider"] == "backup"
    upstream.received.clear()
    for _ in range(10):  # default routing: up is the cheapest but was rate limited, so it goes last
        sdk(routed).chat.completions.create(model="rt/trio", messages=USER)
    assert "up" not in tried(upstream)
