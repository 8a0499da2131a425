"""Streams fail over only before their first output; after it, failures are an error chunk."""

from __future__ import annotations

from typing import Any

import openai
import pytest

from ..conftest import Gateway
from ..upstream import Reply, Upstream
from .conftest import CHAT, USER, attempts_summary, generation, post, sdk, tried

BY_PRICE = {"provider": {"sort": "price"}}
TEXT = "The capital of the UK is London."


def sse(*, pause_after: int | None = None, pause: float = 3.0, upto: int | None = None, **kw: Any) -> Reply:
    """The recorded text stream; optionally stalled after chunk `pause_after`, or cut after `upto` chunks."""
    reply = Reply.sse("openai/chat_stream_text_usage.sse", **kw)
    assert reply.chunks is not None
    chunks = list(reply.chunks[:upto] if upto is not None else reply.chunks)
    if pause_after is not None:
        chunks.insert(pause_after, pause)
    reply.chunks = chunks
    return reply


def stream(gateway: Gateway, model: str = "rt/trio", **body: Any) -> tuple[Any, dict[str, str]]:
    raw = sdk(gateway).chat.completions.with_raw_response.create(
        model=model, messages=USER, stream=True, extra_body={**BY_PRICE, **body})
    return raw.parse(), dict(raw.headers)


def text_of(chunks: list[Any]) -> str:
    return "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)


def until_error(gateway: Gateway, model: str = "rt/trio") -> tuple[str, openai.APIError]:
    """Relay a stream that ends in an error chunk: the text received before it, and the error."""
    received: list[Any] = []
    with pytest.raises(openai.APIError) as info:
        for chunk in stream(gateway, model)[0]:
            received.append(chunk)
    return text_of(received), info.value


@pytest.mark.parametrize(("reply", "kind"), [
    (Reply.file("openai/error_500_server_error.json", status=500), "server"),
    (Reply(reset=True), "connect"),
    (Reply.sse(b'data: {"id": "chatcmpl-x", "choices": [\n\n'), "malformed"),
    (Reply.sse(b"data: [DONE]\n\n"), None),  # ended cleanly before any output: an empty answer
])
def test_failure_before_the_first_output_fails_over(routed: Gateway, upstream: Upstream, reply: Reply,
                                                    kind: str | None) -> None:
    upstream.queue("/v1" + CHAT, reply)
    upstream.queue("/backup/v1" + CHAT, sse())
    chunks, headers = stream(routed)
    chunks = list(chunks)
    if kind is None:  # an empty but well-formed stream is an answer, not a failure
        assert tried(upstream) == ["up"]
        assert text_of(chunks) == ""
        return
    assert tried(upstream) == ["up", "backup"]
    assert headers["x-switchpoint-attempts"] == "2"
    assert text_of(chunks) == TEXT
    assert chunks[-1].usage.completion_tokens == 9
    assert {c.model_extra["provider"] for c in chunks} == {"backup"}
    record = generation(routed, chunks[0].id)
    assert attempts_summary(record["provider_responses"]) == [("up", 500 if kind == "server" else None, kind),
                                                              ("backup", 200, None)]
    assert record["streamed"] is True and record["status"] == "success"


def test_stall_before_the_first_token_times_out_and_fails_over(routed: Gateway, upstream: Upstream) -> None:
    upstream.queue("/slow/v1" + CHAT, sse(pause_after=1))  # the role chunk arrives, then nothing
    upstream.queue("/backup/v1" + CHAT, sse())
    chunks = list(stream(routed, "rt/slow-first")[0])
    assert tried(upstream) == ["slow", "backup"]
    assert text_of(chunks) == TEXT
    attempts = generation(routed, chunks[0].id)["provider_responses"]
    assert attempts_summary(attempts) == [("slow", None, "timeout"), ("backup", 200, None)]


def test_cut_after_the_first_token_is_an_error_chunk_not_a_failover(routed: Gateway, upstream: Upstream) -> None:
    upstream.queue("/v1" + CHAT, sse(upto=3, cut=True))
    upstream.always("/backup/v1" + CHAT, sse())
    text, error = until_error(routed)
    assert tried(upstream) == ["up"]
    assert text == "The capital"
    assert error.body["code"] == 502
    assert error.body["metadata"]["error_type"] == "provider_unavailable"
    routed.flush()
    row = routed.ledger()[-1]
    assert (row["status"], row["finish_reason"], row["provider"]) == ("error", "error", "up")


def test_stall_after_the_first_token_is_an_error_chunk(routed: Gateway, upstream: Upstream) -> None:
    upstream.queue("/slow/v1" + CHAT, sse(pause_after=3))
    upstream.always("/backup/v1" + CHAT, sse())
    text, error = until_error(routed, "rt/slow-first")
    assert tried(upstream) == ["slow"]
    assert text == "The capital"
    assert error.body["code"] == 408
    assert error.body["metadata"]["error_type"] == "timeout"


def test_provider_error_event_mid_stream_is_relayed_as_an_error_chunk(routed: Gateway, upstream: Upstream) -> None:
    # paced, so the first tokens reach the client before the error event arrives
    upstream.queue("/v1" + CHAT, Reply.sse("openai/chat_stream_midstream_error.sse", pause=0.05))
    upstream.always("/backup/v1" + CHAT, sse())
    text, error = until_error(routed)
    assert tried(upstream) == ["up"]
    assert text == 'The question "'
    assert error.message == "The server had an error while processing your request. Sorry about that!"


def test_error_event_arriving_with_the_first_tokens_still_fails_over(routed: Gateway, upstream: Upstream) -> None:
    # one write: nothing reached the client yet, so another endpoint can still serve
    upstream.queue("/v1" + CHAT, Reply.sse("openai/chat_stream_midstream_error.sse", split=1 << 20))
    upstream.queue("/backup/v1" + CHAT, sse())
    chunks = list(stream(routed)[0])
    assert tried(upstream) == ["up", "backup"]
    assert text_of(chunks) == TEXT


def test_every_endpoint_failing_before_output_is_a_plain_http_error(routed: Gateway, upstream: Upstream) -> None:
    upstream.queue("/v1" + CHAT, Reply.file("openai/error_500_server_error.json", status=500))
    upstream.queue("/backup/v1" + CHAT, Reply.file("openai/error_401_invalid_api_key.json", status=401))
    upstream.queue("/third/v1" + CHAT, Reply.file("openai/error_500_server_error.json", status=500))
    response = post(routed, {"model": "rt/trio", "messages": USER, "stream": True, **BY_PRICE})
    assert tried(upstream) == ["up", "backup", "third"]
    assert response.status_code == 502
    error = response.json()["error"]
    assert error["metadata"]["provider_name"] == "backup"   # credentials outrank a 500 as an explanation
    assert attempts_summary(error["metadata"]["attempts"]) == [
        ("up", 500, "server"), ("backup", 401, "auth"), ("third", 500, "server")]


def test_invalid_request_in_a_stream_is_returned_without_failover(routed: Gateway, upstream: Upstream) -> None:
    upstream.queue("/v1" + CHAT, Reply.file("openai/error_400_unsupported_value.json", status=400))
    upstream.always("/backup/v1" + CHAT, sse())
    response = post(routed, {"model": "rt/trio", "messages": USER, "stream": True, **BY_PRICE})
    assert tried(upstream) == ["up"]
    assert response.status_code == 400
