"""Responses passthrough on OpenAI-format providers: which endpoints serve it (openai with responses_api,
azure, openrouter), the URL and body each gets, and the answer kept raw with its usage read."""

from __future__ import annotations

import orjson
import pytest

from switchpoint.errors import UpstreamError
from switchpoint.providers.azure import AzureProvider
from switchpoint.providers.base import Connection, Target
from switchpoint.providers.openai import OpenAIProvider
from switchpoint.providers.openrouter import OpenRouterProvider
from switchpoint.types import OPENAI_RESPONSES, ChatRequest, NativeBody

from .provider_support import fixture_bytes

BODY = {"model": "test/native", "input": [{"type": "message", "role": "user", "content": "Hi"}],
        "tools": [{"type": "web_search"}], "provider": {"order": ["x"]}, "user": "alice"}


def request(stream: bool = False) -> ChatRequest:
    return ChatRequest(model="test/native", messages=[{"role": "user", "content": "Hi"}], stream=stream,
                       native=NativeBody(OPENAI_RESPONSES, {**BODY, "stream": stream}))


def provider(cls: type[OpenAIProvider], kind: str, **options: object) -> OpenAIProvider:
    return cls(Connection(name=kind, type=kind, base_url="https://up.test/v1", api_key="k", options=options))


@pytest.mark.parametrize("make, url", [
    (lambda: provider(OpenAIProvider, "openai", responses_api=True), "https://up.test/v1/responses"),
    (lambda: provider(AzureProvider, "azure"), "https://up.test/v1/openai/v1/responses"),
    (lambda: provider(OpenRouterProvider, "openrouter"), "https://up.test/v1/responses"),
])
def test_endpoints_serving_responses_get_the_clients_body(make: object, url: str) -> None:
    p = make()  # type: ignore[operator]
    assert p.passes_through(request())
    upstream = p.build_chat(request(), Target("gpt-5"))
    body = orjson.loads(upstream.body or b"")
    assert upstream.url == url
    assert body["model"] == "gpt-5" and body["tools"] == [{"type": "web_search"}]
    assert body["user"] != "alice" and len(body["user"]) == 32  # hashed, as for chat
    assert ("provider" in body) == (p.type == "openrouter")  # OpenRouter's own extras only to OpenRouter


def test_openai_without_the_flag_translates_and_refuses_hosted_tools() -> None:
    for p in (provider(OpenAIProvider, "openai"), provider(AzureProvider, "azure", responses_api=False)):
        assert not p.passes_through(request())
        chat = request()
        chat.params = {"tools": [{"type": "web_search"}]}
        with pytest.raises(Exception, match="hosted tool 'web_search'"):
            p.build_chat(chat, Target("gpt-5"))


def test_whole_answer_kept_raw_with_usage() -> None:
    raw = fixture_bytes("openai/responses_function_call.response.json")
    completion = provider(OpenAIProvider, "openai", responses_api=True).read_chat(request(), raw)
    assert completion.native is raw
    assert completion.usage is not None
    assert (completion.usage.prompt_tokens, completion.usage.completion_tokens, completion.usage.cached_tokens) == \
        (291, 23, 128)
    [call] = completion.choices[0].tool_calls
    assert (call.id, call.name, completion.choices[0].finish_reason) == ("call_12345xyz", "get_weather", "tool_calls")


@pytest.mark.parametrize("split", [0, 1, 13, 100])
def test_stream_relays_whole_events_byte_for_byte(split: int) -> None:
    raw = fixture_bytes("openai/responses_stream_text.sse")
    parser = provider(OpenAIProvider, "openai", responses_api=True).stream_parser(request(True), Target("gpt-5"))
    pieces = [raw[i:i + split] for i in range(0, len(raw), split)] if split else [raw]
    relayed, text, final = [], [], None
    for piece in pieces:
        for delta in parser.feed(piece):
            if delta.raw is not None:
                assert delta.raw.endswith(b"\n\n")
                relayed.append(delta.raw)
            text.append(delta.content or "")
            final = (delta.extra or {}).get("response") or final
    for delta in parser.close():
        relayed.append(delta.raw or b"")
    assert b"".join(relayed) == raw
    assert "".join(text) == "Hi there! How can I help you today?"
    assert parser.usage is not None and (parser.usage.prompt_tokens, parser.usage.completion_tokens) == (37, 11)
    assert final is not None and final["status"] == "completed"


def test_stream_failure_is_cut_and_raised() -> None:
    raw = fixture_bytes("openai/responses_stream_text.sse").split(b"event: response.output_text.delta")[0]
    failed = b'event: response.failed\ndata: {"type":"response.failed","response":{"error":{"code":"server_error",' \
             b'"message":"boom"}}}\n\n'
    parser = provider(OpenAIProvider, "openai", responses_api=True).stream_parser(request(True), Target("gpt-5"))
    relayed = [delta.raw or b"" for delta in parser.feed(raw)]
    assert b"".join(relayed) == raw
    with pytest.raises(UpstreamError, match="boom"):  # the gateway reports it (error, response.failed) itself
        parser.feed(failed)
