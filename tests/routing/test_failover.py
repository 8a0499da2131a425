"""Retries and failover without streaming: faults injected by the stand-in, the real openai SDK as client.
Requests sort by price so the order of endpoints is exact."""

from __future__ import annotations

import time
from typing import Any

import openai
import pytest

from ..conftest import Gateway
from ..upstream import Reply, Upstream
from .conftest import CHAT, USER, attempts_summary, generation, post, sdk, tried

BY_PRICE = {"provider": {"sort": "price"}}
OK = Reply.file("openai/chat_text.response.json")


def ask(gateway: Gateway, model: str = "rt/trio", **extra: Any) -> Any:
    body = {**BY_PRICE, **extra.pop("extra_body", {})}
    return sdk(gateway).chat.completions.with_raw_response.create(model=model, messages=USER, extra_body=body,
                                                                  **extra)


def test_server_error_fails_over_to_the_next_endpoint(routed: Gateway, upstream: Upstream) -> None:
    upstream.queue("/v1" + CHAT, Reply.file("openai/error_500_server_error.json", status=500))
    upstream.queue("/backup/v1" + CHAT, OK)
    raw = ask(routed)
    completion = raw.parse()
    assert tried(upstream) == ["up", "backup"]
    assert raw.headers["x-switchpoint-attempts"] == "2"
    assert (completion.model, completion.model_extra["provider"]) == ("rt/trio", "backup")
    assert completion.choices[0].message.content
    responses = generation(routed, completion.id)["provider_responses"]
    assert attempts_summary(responses) == [("up", 500, "server"), ("backup", 200, None)]
    first = responses[0]
    assert first["error"].startswith("The server had an error processing your request")
    assert (first["model"], first["upstream_model"], first["provider_name"], first["model_permaslug"]) == (
        "rt/trio", "up-model", "up", "rt/trio")
    assert first["latency"] >= 0 and first["endpoint_id"] == "up:up-model"


def test_5xx_is_retried_on_the_same_endpoint_with_backoff(routed: Gateway, upstream: Upstream) -> None:
    error = Reply.file("openai/error_500_server_error.json", status=500)
    upstream.queue("/retry/v1" + CHAT, error, error, OK)
    raw = ask(routed, "rt/retry")
    assert tried(upstream) == ["retrying", "retrying", "retrying"]
    assert raw.parse().model_extra["provider"] == "retrying"
    assert raw.headers["x-switchpoint-attempts"] == "3"


def test_retries_are_bounded_then_the_next_endpoint_serves(routed: Gateway, upstream: Upstream) -> None:
    upstream.always("/retry/v1" + CHAT, Reply.file("openai/error_500_server_error.json", status=500))
    upstream.queue("/backup/v1" + CHAT, OK)
    raw = ask(routed, "rt/retry")
    assert tried(upstream) == ["retrying"] * 3 + ["backup"]
    assert raw.parse().model_extra["provider"] == "backup"


def test_retry_after_is_honoured_before_retrying(routed: Gateway, upstream: Upstream) -> None:
    busy = Reply.json({"error": {"message": "overloaded", "type": "server_error"}}, status=503,
                      headers={"Retry-After": "1"})
    upstream.queue("/retry/v1" + CHAT, busy, OK)
    started = time.monotonic()
    raw = ask(routed, "rt/retry")
    assert time.monotonic() - started >= 1.0
    assert tried(upstream) == ["retrying", "retrying"]
    assert raw.parse().model_extra["provider"] == "retrying"


def test_rate_limit_moves_on_without_retrying(routed: Gateway, upstream: Upstream) -> None:
    upstream.queue("/retry/v1" + CHAT, Reply.file("openai/error_429_rate_limit_tokens.json", status=429,
                                                  headers={"Retry-After": "20"}))
    upstream.queue("/backup/v1" + CHAT, OK)
    started = time.monotonic()
    raw = ask(routed, "rt/retry")
    assert time.monotonic() - started < 1.0
    assert tried(upstream) == ["retrying", "backup"]
    assert raw.parse().model_extra["provider"] == "backup"


@pytest.mark.parametrize(("reply", "kind"), [
    (Reply.file("openai/error_401_invalid_api_key.json", status=401), "auth"),
    (Reply.file("openai/error_429_insufficient_quota.json", status=429), "quota"),
    (Reply.file("openai/error_404_model_not_found.json", status=404), "endpoint"),
    (Reply(body=b'{"id": "chatcmpl-1", "choices": [', content_type="application/json"), "malformed"),
    (Reply(reset=True), "connect"),
])
def test_endpoint_failures_fail_over(routed: Gateway, upstream: Upstream, reply: Reply, kind: str) -> None:
    upstream.queue("/v1" + CHAT, reply)
    upstream.queue("/backup/v1" + CHAT, OK)
    completion = ask(routed).parse()
    assert tried(upstream) == ["up", "backup"]
    assert completion.model_extra["provider"] == "backup"
    assert [a["kind"] for a in generation(routed, completion.id)["provider_responses"]] == [kind, None]


def test_invalid_request_is_returned_and_never_retried_or_failed_over(routed: Gateway, upstream: Upstream) -> None:
    upstream.queue("/v1" + CHAT, Reply.file("openai/error_400_unsupported_value.json", status=400))
    upstream.always("/backup/v1" + CHAT, OK)
    with pytest.raises(openai.BadRequestError) as info:
        ask(routed)
    assert tried(upstream) == ["up"]
    error = info.value.body
    assert info.value.status_code == 400
    assert error["message"] == "Unsupported value: 'messages[0].role' does not support 'system' with this model."
    assert error["metadata"]["provider_name"] == "up"
    assert error["metadata"]["provider_code"] == "unsupported_value"
    assert attempts_summary(error["metadata"]["attempts"]) == [("up", 400, "invalid")]


def test_connection_refused_fails_over(routed: Gateway, upstream: Upstream) -> None:
    upstream.queue("/backup/v1" + CHAT, OK)
    completion = ask(routed, "rt/down-first").parse()
    assert tried(upstream) == ["backup"]
    attempts = generation(routed, completion.id)["provider_responses"]
    assert attempts_summary(attempts) == [("down", None, "connect"), ("backup", 200, None)]
    assert attempts[0]["error"].startswith("could not reach the provider")


def test_slow_first_byte_times_out_and_fails_over(routed: Gateway, upstream: Upstream) -> None:
    upstream.queue("/slow/v1" + CHAT, Reply.file("openai/chat_text.response.json", delay=3))
    upstream.queue("/backup/v1" + CHAT, OK)
    started = time.monotonic()
    completion = ask(routed, "rt/slow-first").parse()
    assert 0.5 <= time.monotonic() - started < 2.5
    assert tried(upstream) == ["slow", "backup"]
    attempts = generation(routed, completion.id)["provider_responses"]
    assert attempts_summary(attempts) == [("slow", None, "timeout"), ("backup", 200, None)]
    assert attempts[0]["latency"] == pytest.approx(500, abs=150)


def test_every_endpoint_failing_returns_the_most_informative_error(routed: Gateway, upstream: Upstream) -> None:
    upstream.queue("/v1" + CHAT, Reply.file("openai/error_500_server_error.json", status=500))
    upstream.queue("/backup/v1" + CHAT, Reply.file("openai/error_429_rate_limit_tokens.json", status=429,
                                                   headers={"Retry-After": "7"}))
    upstream.always("/third/v1" + CHAT, Reply(reset=True))
    response = post(routed, {"model": "rt/trio", "messages": USER, **BY_PRICE})
    # the reset came on the connection the first two answers left open: sent again, once, on a new one
    assert tried(upstream) == ["up", "backup", "third", "third"]
    assert response.status_code == 429
    assert response.headers["retry-after"] == "7"
    assert response.headers["content-type"].startswith("application/json")
    error = response.json()["error"]
    assert error["code"] == 429
    assert error["message"].startswith("Request too large for gpt-4o")
    assert error["metadata"]["provider_name"] == "backup"
    assert error["metadata"]["error_type"] == "rate_limit_exceeded"
    attempts = error["metadata"]["attempts"]
    assert attempts_summary(attempts) == [("up", 500, "server"), ("backup", 429, "rate_limit"),
                                          ("third", None, "connect")]
    assert set(attempts[0]) == {"provider", "model", "upstream_model", "status", "latency", "error", "kind"}


def test_overall_deadline_bounds_all_attempts(make_routed: Any, upstream: Upstream) -> None:
    gateway = make_routed(server={"request_deadline": 1.0})
    upstream.queue("/v1" + CHAT, Reply.file("openai/chat_text.response.json", delay=3))
    upstream.always("/backup/v1" + CHAT, OK)
    started = time.monotonic()
    response = post(gateway, {"model": "rt/trio", "messages": USER, **BY_PRICE})
    assert time.monotonic() - started < 2.0
    assert response.status_code == 408
    assert tried(upstream) == ["up"]
    error = response.json()["error"]
    assert attempts_summary(error["metadata"]["attempts"]) == [("up", None, "timeout")]


def test_model_fallback_serves_the_next_model_and_names_it(routed: Gateway, upstream: Upstream) -> None:
    upstream.queue("/third/v1" + CHAT, Reply.file("openai/error_500_server_error.json", status=500))
    upstream.queue("/v1" + CHAT, OK)
    raw = sdk(routed).chat.completions.with_raw_response.create(
        model="rt/other", messages=USER, extra_body={"models": ["rt/other", "test/gpt"], "route": "fallback"})
    completion = raw.parse()
    assert tried(upstream) == ["third", "up"]
    assert (completion.model, completion.model_extra["provider"]) == ("test/gpt", "up")
    assert [(a["model"], a["status"]) for a in generation(routed, completion.id)["provider_responses"]] == [
        ("rt/other", 500), ("test/gpt", 200)]


def test_order_without_fallbacks_returns_the_ordered_providers_error(routed: Gateway, upstream: Upstream) -> None:
    upstream.queue("/third/v1" + CHAT, Reply.file("openai/error_500_server_error.json", status=500))
    upstream.always("/v1" + CHAT, OK)
    response = post(routed, {"model": "rt/trio", "messages": USER,
                             "provider": {"order": ["third"], "allow_fallbacks": False}})
    assert tried(upstream) == ["third"]
    assert response.status_code == 502
    assert response.json()["error"]["metadata"]["provider_name"] == "third"


def test_order_then_the_rest(routed: Gateway, upstream: Upstream) -> None:
    upstream.queue("/third/v1" + CHAT, Reply.file("openai/error_500_server_error.json", status=500))
    upstream.queue("/backup/v1" + CHAT, Reply.file("openai/error_500_server_error.json", status=500))
    upstream.queue("/v1" + CHAT, OK)
    completion = ask(routed, extra_body={"provider": {"order": ["Third", "BACKUP"]}}).parse()
    assert tried(upstream) == ["third", "backup", "up"]
    assert completion.model_extra["provider"] == "up"
