"""Native passthrough on the Anthropic provider: the client's Messages body goes upstream with only the
model replaced, the raw answer is kept for the inbound renderer, and usage is still parsed from it."""

from __future__ import annotations

import orjson
import pytest

from switchpoint.errors import UpstreamError
from switchpoint.providers.anthropic import MESSAGES_FORMAT, AnthropicProvider
from switchpoint.providers.base import Connection, Target
from switchpoint.providers.openai import OpenAIProvider
from switchpoint.types import ChatRequest, NativeBody

from .provider_support import fixture_bytes

PROVIDER = AnthropicProvider(Connection(name="anthropic", type="anthropic", base_url="https://api.anthropic.test",
                                        api_key="sk-ant-test"))
TARGET = Target("claude-sonnet-4-5-20250929", max_output_tokens=64000)
BODY = {"model": "claude-sonnet-4-5", "max_tokens": 1024, "system": [{"type": "text", "text": "Be brief.",
                                                                     "cache_control": {"type": "ephemeral"}}],
        "messages": [{"role": "user", "content": "Hello"}], "context_management": {"edits": []},
        "metadata": {"user_id": "user_abc"}}


def native_request(stream: bool = False, **headers: str) -> ChatRequest:
    return ChatRequest(model="anthropic/claude-sonnet-4.5", messages=[{"role": "user", "content": "Hello"}],
                       stream=stream, native=NativeBody(MESSAGES_FORMAT, dict(BODY, stream=stream) if stream else BODY,
                                                        headers))


def test_passthrough_body_is_the_clients_with_only_the_model_replaced() -> None:
    upstream = PROVIDER.build_chat(native_request(**{"anthropic-beta": "interleaved-thinking-2025-05-14,foo",
                                                     "anthropic-version": "2023-06-01"}), TARGET)
    assert upstream.url == "https://api.anthropic.test/v1/messages"
    assert orjson.loads(upstream.body or b"") == {**BODY, "model": "claude-sonnet-4-5-20250929"}
    assert upstream.headers["anthropic-beta"] == "interleaved-thinking-2025-05-14,foo"
    assert upstream.headers["anthropic-version"] == "2023-06-01"
    assert upstream.headers["x-api-key"] == "sk-ant-test"


def test_other_formats_and_other_providers_do_not_pass_through() -> None:
    request = native_request()
    request.native = NativeBody("openai-responses", BODY)
    assert not PROVIDER.passes_through(request)
    assert not OpenAIProvider(Connection(name="o", type="openai", base_url="http://x")).passes_through(native_request())
    # the translated request is built from the canonical messages instead
    upstream = PROVIDER.build_chat(request, TARGET)
    assert "context_management" not in orjson.loads(upstream.body or b"")


def test_whole_answer_is_kept_raw_and_usage_parsed() -> None:
    raw = fixture_bytes("anthropic/messages_cache_usage.response.json")
    completion = PROVIDER.read_chat(native_request(), raw)
    assert completion.native is raw
    assert completion.usage is not None and completion.usage.cached_tokens == 1111
    plain = PROVIDER.read_chat(ChatRequest(model="m", messages=[]), raw)
    assert plain.native is None


@pytest.mark.parametrize("split", [0, 1, 7, 64])
def test_stream_relays_whole_events_byte_for_byte(split: int) -> None:
    raw = fixture_bytes("anthropic/stream_thinking_tool_use.sse")
    parser = PROVIDER.stream_parser(native_request(stream=True), TARGET)
    pieces = [raw[i:i + split] for i in range(0, len(raw), split)] if split else [raw]
    relayed: list[bytes] = []
    tool_args = []
    for piece in pieces:
        for delta in parser.feed(piece):
            if delta.raw is not None:
                assert delta.raw.endswith(b"\n\n")  # only whole events: a ping may follow safely
                relayed.append(delta.raw)
            for call in delta.tool_calls or ():
                tool_args.append(call.arguments)
    for delta in parser.close():
        if delta.raw is not None:
            relayed.append(delta.raw)
    assert b"".join(relayed) == raw
    assert parser.usage is not None and parser.usage.completion_tokens > 0
    assert "".join(tool_args)


def test_stream_relay_cuts_an_upstream_error_event() -> None:
    raw = fixture_bytes("anthropic/stream_midstream_error.sse")
    parser = PROVIDER.stream_parser(native_request(stream=True), TARGET)
    relayed = []
    with pytest.raises(UpstreamError):
        for delta in parser.feed(raw):
            relayed.append(delta.raw or b"")
        parser.close()
    assert b"event: error" not in b"".join(relayed)
    assert b"message_start" in b"".join(relayed)


def test_without_native_body_the_stream_has_no_raw_bytes() -> None:
    raw = fixture_bytes("anthropic/stream_text.sse")
    parser = PROVIDER.stream_parser(ChatRequest(model="m", messages=[], stream=True), TARGET)
    assert all(d.raw is None for d in [*parser.feed(raw), *parser.close()])
