"""Every field of the generation bodies is typed at the edge: a wrong type, a value out of range or a
body nested too deep is a 400 naming the field, the upstream is never called, and the ledger never
sees it. Unknown fields still pass through to the upstream."""

from __future__ import annotations

import json

import pytest

from ..upstream import Reply
from .test_errors import HI, assert_envelope, post

CHAT = "/v1/chat/completions"
EMBED = {"model": "test/embed", "input": "hello"}


def nested(depth: int, leaf: bytes = b"1") -> bytes:
    """A JSON value `depth` levels deep (lists), written by hand: json.dumps cannot go that deep."""
    return b"[" * depth + leaf + b"]" * depth


def with_field(name: str, raw: bytes) -> bytes:
    return json.dumps(HI).encode()[:-1] + b', "' + name.encode() + b'": ' + raw + b"}"


@pytest.mark.parametrize(("body", "field"), [
    ({**HI, "route": {"a": 1}}, "route"),
    ({**HI, "route": "fastest"}, "route"),
    ({**HI, "reasoning_effort": ["high"]}, "reasoning_effort"),
    ({**HI, "reasoning": {"effort": {"x": 1}}}, "reasoning.effort"),
    ({**HI, "reasoning": {"max_tokens": "many"}}, "reasoning.max_tokens"),
    ({**HI, "reasoning": "high"}, "reasoning"),
    ({**HI, "user": ["a"]}, "user"),
    ({**HI, "session_id": 7}, "session_id"),
    ({**HI, "session_id": "s" * 257}, "session_id"),
    ({**HI, "metadata": {"team": 5}}, "metadata.team"),
    ({**HI, "logit_bias": {"50256": "ban"}}, "logit_bias.50256"),
    ({**HI, "logit_bias": {"50256": -500}}, "logit_bias.50256"),
    ({**HI, "max_tokens": 1e30}, "max_tokens"),
    ({**HI, "max_tokens": 2**63}, "max_tokens"),
    ({**HI, "seed": 18446744073709551615}, "seed"),
    ({**HI, "n": 0}, "n"),
    ({**HI, "top_logprobs": 21}, "top_logprobs"),
    ({**HI, "logprobs": 3}, "logprobs"),
    ({**HI, "stop": ["a", 1]}, "stop[1]"),
    ({**HI, "stop": {"a": 1}}, "stop"),
    ({**HI, "stream_options": {"include_usage": "yes"}}, "stream_options.include_usage"),
    ({**HI, "parallel_tool_calls": "true"}, "parallel_tool_calls"),
    ({**HI, "modalities": ["smell"]}, "modalities[0]"),
    ({**HI, "service_tier": 1}, "service_tier"),
    ({**HI, "verbosity": ["low"]}, "verbosity"),
    ({**HI, "transforms": "middle-out"}, "transforms"),
    ({**HI, "plugins": [{"enabled": True}]}, "plugins[0].id"),
    ({**HI, "usage": {"include": "yes"}}, "usage.include"),
    ({**HI, "include_reasoning": "no"}, "include_reasoning"),
    ({**HI, "prediction": {"type": "content", "content": 5}}, "prediction.content"),
    ({**HI, "cache_control": {"type": "ephemeral", "ttl": 300}}, "cache_control.ttl"),
    ({**HI, "models": [["a/b"]]}, "models[0]"),
    ({**HI, "model": {"id": "test/gpt"}}, "model"),
    ({**HI, "provider": {"sort": {"by": "price", "partition": ["x"]}}}, "provider.sort.partition"),
    ({**HI, "provider": {"sort": {"by": {"x": 1}}}}, "provider.sort.by"),
    ({**HI, "provider": {"order": "up"}}, "provider.order"),
    ({**HI, "provider": {"fastest": True}}, "provider.fastest"),
    ({**HI, "response_format": {"type": "json_schema"}}, "response_format.json_schema"),
    ({**HI, "response_format": {"type": "json_schema", "json_schema": {"name": "x", "schema": []}}},
     "response_format.json_schema.schema"),
    ({**HI, "tools": [{"type": "function", "function": {"name": "f", "parameters": "{}"}}]},
     "tools[0].function.parameters"),
    ({**HI, "tools": [{"type": "function", "function": {"name": "f", "description": 1}}]},
     "tools[0].function.description"),
    ({**HI, "tool_choice": {"type": "function", "function": {"name": ["f"]}}}, "tool_choice.function.name"),
    ({**HI, "messages": [{"role": ["user"], "content": "x"}]}, "messages[0].role"),
    ({**HI, "messages": [{"role": "user", "content": "x", "name": 5}]}, "messages[0].name"),
    ({**HI, "messages": [{"role": "user", "content": [{"type": {"t": 1}}]}]}, "messages[0].content[0].type"),
    ({**HI, "messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": 5}}]}]},
     "messages[0].content[0].image_url.url"),
    ({**HI, "messages": [{"role": "user", "content": [{"type": "input_audio", "input_audio": "x"}]}]},
     "messages[0].content[0].input_audio"),
    ({**HI, "messages": [{"role": "user", "content": [{"type": "text", "text": "x", "cache_control": []}]}]},
     "messages[0].content[0].cache_control"),
    ({**HI, "messages": [{"role": "assistant", "content": None, "tool_calls": [
        {"id": "c1", "type": "function", "function": {"name": "f", "arguments": 5}}]}]},
     "messages[0].tool_calls[0].function.arguments"),
    ({**HI, "messages": [{"role": "user", "content": "x", "tool_calls": []}]}, "messages[0].tool_calls"),
    ({**HI, "messages": [{"role": "assistant", "content": "x", "reasoning_details": {}}]},
     "messages[0].reasoning_details"),
])
def test_chat_fields_are_typed(gateway, upstream, body, field):
    status, _, payload = post(gateway, body)
    error = assert_envelope(status, payload, 400)
    assert error["message"].startswith(f"{field}: "), error["message"]
    assert error["metadata"]["param"] == field
    assert upstream.received == []


@pytest.mark.parametrize(("body", "field"), [
    ({"model": "test/gpt", "prompt": "x", "logprobs": True}, "logprobs"),
    ({"model": "test/gpt", "prompt": "x", "best_of": 21}, "best_of"),
    ({"model": "test/gpt", "prompt": "x", "echo": "yes"}, "echo"),
    ({"model": "test/gpt", "prompt": "x", "suffix": 1}, "suffix"),
    ({"model": "test/gpt", "prompt": 5}, "prompt"),
    ({"model": "test/gpt"}, "prompt"),
    ({"model": "test/gpt", "prompt": "x", "user": {"id": 1}}, "user"),
])
def test_completion_fields_are_typed(gateway, upstream, body, field):
    status, _, payload = post(gateway, body, path="/api/v1/completions")
    assert error_of(status, payload).startswith(f"{field}: ")
    assert upstream.received == []


@pytest.mark.parametrize(("body", "field"), [
    ({**EMBED, "user": ["a"]}, "user"),
    ({**EMBED, "input": [["a"]]}, "input[0][0]"),
    ({**EMBED, "input": [[1, -2]]}, "input[0][1]"),
    ({**EMBED, "input": ["a", 5]}, "input[1]"),
    ({**EMBED, "input": []}, "input"),
    ({"model": "test/embed"}, "input"),
    ({**EMBED, "model": 5}, "model"),
    ({**EMBED, "encoding_format": ["float"]}, "encoding_format"),
    ({**EMBED, "dimensions": "256"}, "dimensions"),
    ({**EMBED, "input_type": 1}, "input_type"),
    ({**EMBED, "provider": {"order": [1]}}, "provider.order[0]"),
])
def test_embedding_fields_are_typed(gateway, upstream, body, field):
    status, _, payload = post(gateway, body, path="/api/v1/embeddings")
    assert error_of(status, payload).startswith(f"{field}: ")
    assert upstream.received == []


def error_of(status: int, payload: dict) -> str:
    return assert_envelope(status, payload, 400)["message"]


def test_a_bad_user_never_reaches_the_ledger(gateway, upstream):
    """Once a list `user` got a 200 on embeddings, and its ledger row stopped every later write."""
    upstream.always("/v1/embeddings", Reply.file("openai/embeddings_base64.response.json"))
    upstream.always(CHAT, Reply.file("openai/chat_text.response.json"))
    status, _, _ = post(gateway, {**EMBED, "user": ["a"]}, path="/api/v1/embeddings")
    assert status == 400
    assert post(gateway, {**EMBED, "user": "alice"}, path="/api/v1/embeddings")[0] == 200
    assert post(gateway, {**HI, "user": "bob"})[0] == 200
    rows = gateway.ledger()  # the refused request may have its own row, without the bad user
    assert [r["external_user"] for r in rows if r["status"] == "success"] == ["alice", "bob"]
    assert all(r["external_user"] in (None, "alice", "bob") for r in rows)


@pytest.mark.parametrize("depth", [128, 200, 254, 300, 1023, 1024, 5000])
def test_deep_nesting_is_a_400_naming_the_field(gateway, upstream, depth):
    status, _, payload = post(gateway, with_field("extra", nested(depth)))
    error = error_of(status, payload)
    if depth < 1024:
        assert error.startswith("extra: nested deeper than the 128 levels"), error
    else:  # past what the JSON reader itself accepts
        assert "nests deeper than the 128 levels" in error
    assert upstream.received == []


def test_nesting_within_the_bound_is_served(gateway, upstream):
    """127 levels under a top-level field (128 with the body itself) still go upstream untouched."""
    upstream.queue(CHAT, Reply.file("openai/chat_text.response.json"))
    status, _, _ = post(gateway, with_field("extra", nested(127)))
    assert status == 200
    assert upstream.hits(CHAT)[0].body.count(b"[") >= 127


@pytest.mark.parametrize("path", ["/api/v1/keys", "/api/v1/embeddings", "/api/v1/completions"])
def test_deep_nesting_on_other_bodies(gateway, upstream, path):
    from ..conftest import ADMIN_KEY

    key = ADMIN_KEY if path.endswith("keys") else None
    body = b'{"name": "x", "model": "test/embed", "prompt": "x", "input": "x", "extra": ' + nested(300) + b"}"
    status, _, payload = post(gateway, body, path=path, **({"key": key} if key else {}))
    assert error_of(status, payload).startswith("extra: nested deeper")


def test_unknown_fields_pass_through(gateway, upstream):
    upstream.queue(CHAT, Reply.file("openai/chat_text.response.json"))
    extra = {"safe_prompt": True, "vendor_knob": {"a": [1, {"b": None}]}, "store": False, "user": "u1",
             "metadata": {"team": "search"}, "reasoning_effort": "low"}
    status, _, _ = post(gateway, {**HI, **extra, "temperature": None})
    assert status == 200
    sent = upstream.hits(CHAT)[0].json
    for name in ("safe_prompt", "vendor_knob", "store", "metadata"):
        assert sent[name] == extra[name]


def test_legacy_completion_logprobs_is_an_integer(gateway, upstream):
    upstream.queue(CHAT, Reply.file("openai/chat_text.response.json"))
    status, _, _ = post(gateway, {"model": "test/gpt", "prompt": "x", "logprobs": 2, "best_of": 1, "echo": False},
                        path="/api/v1/completions")
    assert status == 200


@pytest.mark.parametrize("depth", [300, 1000])
def test_deep_nesting_on_the_messages_api(gateway, upstream, depth):
    body = (b'{"model": "test/gpt", "max_tokens": 16, "messages": [{"role": "user", "content": "hi"}], '
            b'"metadata": {"x": ' + nested(depth) + b"}}")
    status, _, payload = post(gateway, body, path="/api/v1/messages")
    assert status == 400, payload
    assert "metadata" in json.dumps(payload) and "nested deeper" in json.dumps(payload)
    assert upstream.received == []
