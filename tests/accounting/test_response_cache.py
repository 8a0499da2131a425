"""The response cache: opt-in, exact match per key, billed 0, streams replayed as streams."""

from __future__ import annotations

import json
from typing import Any

import httpx
import openai

from .. import replies
from ..conftest import TEST_KEY
from ..upstream import Reply
from .conftest import chat, key_config, sdk

CACHE = {"X-Switchpoint-Cache": "true"}


def test_off_unless_asked(gateway: Any, upstream: Any) -> None:
    upstream.always("/v1/chat/completions", replies.chat())
    first, second = chat(gateway), chat(gateway)
    assert "x-switchpoint-cache-status" not in first.headers
    assert len(upstream.hits("/v1/chat/completions")) == 2 and second.json()["usage"]["cost"] > 0


def test_hit_is_free_new_id_marked_and_in_the_ledger(gateway: Any, upstream: Any) -> None:
    upstream.always("/v1/chat/completions", replies.chat(12, 34, content="cached answer"))
    miss = chat(gateway, headers=CACHE, temperature=0)
    assert miss.headers["x-switchpoint-cache-status"] == "MISS"
    hit = chat(gateway, headers=CACHE, temperature=0, user="someone-else")  # `user` does not change the answer
    assert hit.headers["x-switchpoint-cache-status"] == "HIT" and int(hit.headers["age"]) >= 0
    assert len(upstream.hits("/v1/chat/completions")) == 1
    body, first = hit.json(), miss.json()
    assert body["id"] != first["id"] and hit.headers["x-generation-id"] == body["id"]
    assert body["choices"] == first["choices"] and body["cache_hit"] is True
    assert body["usage"]["cost"] == 0 and body["usage"]["prompt_tokens"] == 12
    rows = gateway.ledger()
    assert [(r["cache_hit"], r["cost_nanos"] > 0) for r in rows] == [(False, True), (True, False)]
    assert rows[1]["id"] == body["id"] and rows[1]["completion_tokens"] == 34
    # a different request, or another key, misses
    assert chat(gateway, headers=CACHE, temperature=0.5).headers["x-switchpoint-cache-status"] == "MISS"


def test_openrouter_headers_ttl_and_clear(gateway: Any, upstream: Any) -> None:
    upstream.always("/v1/chat/completions", replies.chat())
    headers = {"X-OpenRouter-Cache": "true", "X-OpenRouter-Cache-TTL": "60"}
    assert chat(gateway, headers=headers).headers["x-openrouter-cache-status"] == "MISS"
    assert chat(gateway, headers=headers).headers["x-openrouter-cache-status"] == "HIT"
    cleared = chat(gateway, headers={**headers, "X-Switchpoint-Cache-Clear": "true"})
    assert cleared.headers["x-switchpoint-cache-status"] == "MISS"
    assert len(upstream.hits("/v1/chat/completions")) == 2
    bad = chat(gateway, headers={"X-Switchpoint-Cache": "true", "X-Switchpoint-Cache-TTL": "0"})
    assert bad.status_code == 400


def test_per_key_opt_in_and_per_request_opt_out(make_gateway: Any, upstream: Any) -> None:
    gateway = make_gateway(keys=key_config(cache=True))
    upstream.always("/v1/chat/completions", replies.chat())
    client = sdk(gateway)
    messages = [{"role": "user", "content": "same"}]
    first = client.chat.completions.create(model="test/gpt", messages=messages)
    second = client.chat.completions.create(model="test/gpt", messages=messages)
    assert second.id != first.id and second.choices[0].message.content == first.choices[0].message.content
    assert len(upstream.hits("/v1/chat/completions")) == 1
    assert chat(gateway, headers={"X-Switchpoint-Cache": "false"}, messages=messages).headers.get(
        "x-switchpoint-cache-status") is None
    assert len(upstream.hits("/v1/chat/completions")) == 2


def test_streams_are_cached_and_replayed_as_streams(gateway: Any, upstream: Any) -> None:
    upstream.always("/v1/chat/completions", replies.stream(["Hel", "lo", " world"], prompt=5, completion=3))
    client = openai.OpenAI(base_url=f"{gateway.url}/api/v1", api_key=TEST_KEY, max_retries=0,
                           default_headers=CACHE)

    def run() -> tuple[str, list[Any]]:
        chunks = list(client.chat.completions.create(model="test/gpt", stream=True,
                                                     messages=[{"role": "user", "content": "hi"}]))
        return "".join(c.choices[0].delta.content or "" for c in chunks if c.choices), chunks

    text, first = run()
    replay, second = run()
    assert text == replay == "Hello world"
    assert len(upstream.hits("/v1/chat/completions")) == 1
    assert {c.id for c in second} == {second[0].id} != {first[0].id}
    usage: Any = second[-1].usage
    assert usage.cost == 0 and usage.completion_tokens == 3 and json.loads(second[-1].model_dump_json())["cache_hit"]
    rows = gateway.ledger()
    assert [(r["streamed"], r["cache_hit"]) for r in rows] == [(True, False), (True, True)]


def _events(response: Any) -> list[dict[str, Any]]:
    return [json.loads(line[6:]) for line in response.text.split("\n\n") if line.startswith("data: {")]


def test_a_replayed_stream_renders_as_the_first_did_tool_calls_and_hidden_reasoning(gateway: Any,
                                                                                    upstream: Any) -> None:
    base = {"id": "chatcmpl-s", "object": "chat.completion.chunk", "created": 1, "model": "gpt-4o-mini"}
    deltas = [{"role": "assistant", "content": "", "reasoning": "let me think"}, {"reasoning": " more"},
              {"tool_calls": [{"index": 0, "id": "call_1", "type": "function",
                               "function": {"name": "lookup", "arguments": "{\"q\""}}]},
              {"tool_calls": [{"index": 0, "function": {"arguments": ": 1}"}}]}]
    events = [{**base, "choices": [{"index": 0, "delta": d, "finish_reason": None}]} for d in deltas]
    events += [{**base, "choices": [{"index": 0, "delta": {}, "finish_reason": "tool_calls"}]},
               {**base, "choices": [], "usage": replies.usage(7, 9)}]
    body = b"".join(b"data: " + json.dumps(e).encode() + b"\n\n" for e in events) + b"data: [DONE]\n\n"
    upstream.always("/v1/chat/completions", Reply.sse(body))
    ask = {"stream": True, "reasoning": {"exclude": True}, "headers": CACHE}
    first, second = chat(gateway, **ask), chat(gateway, **ask)
    assert (first.headers["x-switchpoint-cache-status"], second.headers["x-switchpoint-cache-status"]) == \
        ("MISS", "HIT")
    assert len(upstream.hits("/v1/chat/completions")) == 1 and "think" not in second.text
    sent, replayed = _events(first), _events(second)
    assert [e["choices"] for e in replayed] == [e["choices"] for e in sent]
    assert {e["id"] for e in replayed} == {second.headers["x-generation-id"]} and replayed[-1]["cache_hit"] is True
    assert replayed[-1]["usage"]["completion_tokens"] == 9 and replayed[-1]["usage"]["cost"] == 0
    assert second.text.endswith("data: [DONE]\n\n")


def test_legacy_completions_are_replayed_as_text_completions(gateway: Any, upstream: Any) -> None:
    upstream.always("/v1/chat/completions", replies.stream(["Hel", "lo"]))

    def run() -> Any:
        return httpx.post(f"{gateway.url}/api/v1/completions", timeout=20, headers={"authorization": f"Bearer {TEST_KEY}", **CACHE},
                          json={"model": "test/gpt", "prompt": "say hello", "stream": True})

    first, second = run(), run()
    assert second.headers["x-switchpoint-cache-status"] == "HIT" and len(upstream.hits("/v1/chat/completions")) == 1
    replayed = _events(second)
    assert {e["object"] for e in replayed} == {"text_completion"}
    assert "".join(c["text"] for e in replayed for c in e["choices"]) == "Hello"
    assert [e["choices"] for e in replayed] == [e["choices"] for e in _events(first)]
