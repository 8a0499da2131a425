"""Streaming chat: SSE framing, keep-alives, usage chunk, mid-stream errors, cancellation."""

from __future__ import annotations

import json
import time
import urllib.request

import openai
import pytest

from ..conftest import TEST_KEY
from ..upstream import Reply

CHAT = "/v1/chat/completions"


def raw_stream(gateway, body: dict) -> list[str]:
    request = urllib.request.Request(
        f"{gateway.url}/api/v1/chat/completions", data=json.dumps({**body, "stream": True}).encode(),
        headers={"authorization": f"Bearer {TEST_KEY}", "content-type": "application/json"})
    with urllib.request.urlopen(request, timeout=20) as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        return [line for line in response.read().decode().split("\n\n") if line]


def data_events(events: list[str]) -> list[dict]:
    return [json.loads(e[6:]) for e in events if e.startswith("data: {")]


def test_stream_text_then_usage_then_done(gateway, upstream, client):
    upstream.queue(CHAT, Reply.sse("openai/chat_stream_text_usage.sse"))
    events = raw_stream(gateway, {"model": "test/gpt", "messages": [{"role": "user", "content": "hi"}]})
    assert events[-1] == "data: [DONE]"
    chunks = data_events(events)
    usage_chunk = chunks[-1]
    assert usage_chunk["choices"] == [] and usage_chunk["usage"]["total_tokens"] > 0
    assert usage_chunk["usage"]["cost"] > 0
    assert all(c["id"] == chunks[0]["id"] and c["provider"] == "up" and c["model"] == "test/gpt" for c in chunks)
    assert chunks[0]["choices"][0]["delta"]["role"] == "assistant"
    finish = [c for c in chunks if c["choices"] and c["choices"][0]["finish_reason"]]
    assert len(finish) == 1 and finish[0]["choices"][0]["finish_reason"] == "stop"
    # upstream was asked for usage in its stream
    assert upstream.hits(CHAT)[-1].json["stream_options"] == {"include_usage": True}


def test_sdk_stream_collects_text_and_usage(gateway, upstream, client):
    upstream.queue(CHAT, Reply.sse("openai/chat_stream_text_usage.sse", split=7))  # awkward byte splits
    text, usage = "", None
    for chunk in client.chat.completions.create(model="test/gpt", stream=True,
                                                messages=[{"role": "user", "content": "hi"}]):
        if chunk.choices and chunk.choices[0].delta.content:
            text += chunk.choices[0].delta.content
        if chunk.usage:
            usage = chunk.usage
    source = (upstream_text("openai/chat_stream_text_usage.sse"))
    assert text == source
    assert usage.completion_tokens > 0


def upstream_text(name: str) -> str:
    from ..upstream import fixture

    out = ""
    for event in fixture(name).decode().split("\n\n"):
        if event.startswith("data: {"):
            for choice in json.loads(event[6:]).get("choices") or []:
                out += choice.get("delta", {}).get("content") or ""
    return out


def test_stream_tool_call_deltas(gateway, upstream, client):
    upstream.queue(CHAT, Reply.sse("openai/chat_stream_parallel_tool_calls.sse"))
    calls: dict[int, dict] = {}
    finish = None
    for chunk in client.chat.completions.create(model="test/gpt", stream=True,
                                                messages=[{"role": "user", "content": "go"}]):
        for choice in chunk.choices:
            finish = choice.finish_reason or finish
            for tc in choice.delta.tool_calls or []:
                entry = calls.setdefault(tc.index, {"id": None, "name": None, "arguments": ""})
                entry["id"] = tc.id or entry["id"]
                entry["name"] = (tc.function.name if tc.function else None) or entry["name"]
                entry["arguments"] += (tc.function.arguments or "") if tc.function else ""
    assert finish == "tool_calls"
    assert sorted(calls) == [0, 1]
    for entry in calls.values():
        assert entry["id"] and entry["name"]
        json.loads(entry["arguments"])


def test_keepalive_comments_while_upstream_is_silent(gateway, upstream):
    upstream.queue(CHAT, Reply.sse("openai/chat_stream_text_usage.sse", delay=1.0))
    events = raw_stream(gateway, {"model": "test/gpt", "messages": [{"role": "user", "content": "hi"}]})
    first_data = next(i for i, e in enumerate(events) if e.startswith("data:"))
    assert first_data >= 2
    assert all(e == ": SWITCHPOINT PROCESSING" for e in events[:first_data])
    assert events[-1] == "data: [DONE]"


def test_keepalive_comments_when_upstream_pauses_mid_stream(gateway, upstream):
    # the test gateway sends a keep-alive after 0.3 s of silence: a 1 s pause after "The" gets about three
    parts = [p + b"\n\n" for p in open_fixture("openai/chat_stream_text_usage.sse").split(b"\n\n") if p]
    upstream.queue(CHAT, Reply(chunks=[*parts[:2], 1.0, *parts[2:]], content_type="text/event-stream"))
    events = raw_stream(gateway, {"model": "test/gpt", "messages": [{"role": "user", "content": "hi"}]})
    comments = [i for i, e in enumerate(events) if e == ": SWITCHPOINT PROCESSING"]
    assert 2 <= len(comments) <= 4 and events[-1] == "data: [DONE]"
    before = [e for e in events[:comments[0]] if e.startswith("data:")]
    assert '"content":"The"' in before[-1]  # the comments came during the pause, after the data before it
    assert comments == list(range(comments[0], comments[0] + len(comments)))  # and none once data flowed


def test_upstream_error_before_anything_was_sent_is_a_plain_error(gateway, upstream, client):
    # Content and error arrive in one read: nothing reached the client yet, so it gets a real status.
    upstream.queue(CHAT, Reply(chunks=[open_fixture("openai/chat_stream_midstream_error.sse")],
                               content_type="text/event-stream"))
    with pytest.raises(openai.APIStatusError) as caught:
        client.chat.completions.create(model="test/gpt", stream=True, messages=[{"role": "user", "content": "hi"}])
    assert caught.value.status_code == 502
    assert caught.value.body["metadata"]["provider_name"] == "up"


def open_fixture(name: str) -> bytes:
    from ..upstream import fixture

    return fixture(name)


def test_upstream_error_after_first_byte_becomes_error_chunk(gateway, upstream, client):
    upstream.queue(CHAT, Reply.sse("openai/chat_stream_midstream_error.sse", pause=0.02))
    events = raw_stream(gateway, {"model": "test/gpt", "messages": [{"role": "user", "content": "hi"}]})
    chunks = data_events(events)
    error_chunk = chunks[-1]
    assert error_chunk["error"]["code"] == 502
    assert "server had an error" in error_chunk["error"]["message"]
    assert error_chunk["choices"][0]["finish_reason"] == "error"
    assert any(c["choices"] and c["choices"][0]["delta"].get("content") for c in chunks[:-1])

    upstream.queue(CHAT, Reply.sse("openai/chat_stream_midstream_error.sse", pause=0.02))
    with pytest.raises(openai.APIError):
        for _ in client.chat.completions.create(model="test/gpt", stream=True,
                                                messages=[{"role": "user", "content": "hi"}]):
            pass
    rows = gateway.ledger()
    assert [r["status"] for r in rows] == ["error", "error"]
    assert rows[0]["streamed"] and rows[0]["finish_reason"] == "error"


def test_cut_stream_is_an_error_not_a_silent_success(gateway, upstream):
    events = [p + b"\n\n" for p in open_fixture("openai/chat_stream_text_usage.sse").split(b"\n\n")[:3]]
    upstream.queue(CHAT, Reply(chunks=[events[0], 0.05, events[1], 0.05, events[2], 0.05], cut=True,
                               content_type="text/event-stream"))
    events = raw_stream(gateway, {"model": "test/gpt", "messages": [{"role": "user", "content": "hi"}]})
    assert data_events(events)[-1]["choices"][0]["finish_reason"] == "error"


def test_client_disconnect_cancels_upstream(gateway, upstream):
    chunk = (b'data: {"id":"c","object":"chat.completion.chunk","created":1,"model":"m",'
             b'"choices":[{"index":0,"delta":{"content":"tick "},"finish_reason":null}]}\n\n')
    upstream.queue(CHAT, Reply(chunks=[chunk, 0.1] * 100 + [b"data: [DONE]\n\n"], content_type="text/event-stream"))
    request = urllib.request.Request(
        f"{gateway.url}/api/v1/chat/completions",
        data=json.dumps({"model": "test/gpt", "stream": True, "messages": [{"role": "user", "content": "hi"}]}).encode(),
        headers={"authorization": f"Bearer {TEST_KEY}", "content-type": "application/json"})
    response = urllib.request.urlopen(request, timeout=20)
    response.read(400)
    response.close()
    deadline = time.time() + 5
    while upstream.disconnects == 0 and time.time() < deadline:
        time.sleep(0.05)
    assert upstream.disconnects == 1  # the gateway dropped its upstream connection
    time.sleep(0.2)
    rows = gateway.ledger()
    assert rows[-1]["status"] == "cancelled"
    assert rows[-1]["completion_tokens"] > 0 and rows[-1]["usage_estimated"]


def test_reasoning_exclude_in_streams(gateway, upstream):
    chunk = ('data: {"id":"c","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,'
             '"delta":{%s},"finish_reason":%s}]}\n\n')
    body = (chunk % ('"role":"assistant","reasoning":"thinking hard"', "null")
            + chunk % ('"reasoning":" still"', "null") + chunk % ('"content":"Answer"', "null")
            + chunk % ("", '"stop"') + "data: [DONE]\n\n").encode()
    upstream.queue(CHAT, Reply.sse(body), Reply.sse(body))
    request = {"model": "test/gpt", "messages": [{"role": "user", "content": "hi"}]}
    shown = data_events(raw_stream(gateway, request))
    assert "".join(c["choices"][0]["delta"].get("reasoning", "") for c in shown if c["choices"]) == "thinking hard still"
    hidden = data_events(raw_stream(gateway, {**request, "reasoning": {"exclude": True}}))
    deltas = [c["choices"][0]["delta"] for c in hidden if c["choices"]]
    assert all("reasoning" not in d for d in deltas)
    assert deltas[0] == {"role": "assistant"} and "".join(d.get("content", "") for d in deltas) == "Answer"


def test_output_in_the_same_read_as_a_later_error_reaches_the_client(gateway, upstream):
    events = open_fixture("openai/chat_stream_midstream_error.sse").split(b"\n\n")
    content = [e + b"\n\n" for e in events
               if e.startswith(b"data: {") and b'"error"' not in e
               and (json.loads(e[6:])["choices"] or [{}])[0].get("delta", {}).get("content")]
    first, rest = content[0], b"".join(content[1:])
    error = next(e for e in events if b'"error"' in e) + b"\n\n"
    # The first output arrives alone (the stream is committed), then more output and the error together.
    upstream.queue(CHAT, Reply(chunks=[first, 0.05, rest + error], content_type="text/event-stream"))
    chunks = data_events(raw_stream(gateway, {"model": "test/gpt", "messages": [{"role": "user", "content": "hi"}]}))
    text = "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks if c["choices"])
    expected = "".join(json.loads(e[6:])["choices"][0]["delta"].get("content") or "" for e in content)
    assert text == expected and text
    assert chunks[-1]["choices"][0]["finish_reason"] == "error"
