"""Anthropic Messages translator: exact request bodies, recorded responses and streams, errors."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from switchpoint.errors import (
    AUTH,
    CONTEXT,
    ENDPOINT,
    INVALID,
    OVERLOADED,
    QUOTA,
    RATE_LIMIT,
    SERVER,
    BadRequestError,
    UpstreamError,
)
from switchpoint.providers.anthropic import AnthropicProvider
from switchpoint.providers.base import Connection, Target
from switchpoint.providers.registry import PROVIDER_TYPES
from switchpoint.types import ChatRequest

from .provider_support import assemble, fixture_bytes, replay

PROVIDER = AnthropicProvider(Connection(name="anthropic", type="anthropic", base_url="https://api.anthropic.test",
                                        api_key="sk-ant-test"))
TARGET = Target("claude-sonnet-4-5", max_output_tokens=64000)
WEATHER = {"type": "function", "function": {"name": "get_weather", "description": "Weather in a city",
                                            "parameters": {"type": "object", "properties": {"city": {"type": "string"}},
                                                           "required": ["city"]}}}


def build(messages: list[dict[str, Any]], target: Target = TARGET, **params: Any) -> dict[str, Any]:
    reasoning = params.pop("reasoning", None)
    headers = params.pop("headers", {})
    stream = params.pop("stream", False)
    request = ChatRequest(model="anthropic/claude", messages=messages, stream=stream, reasoning=reasoning,
                          params=params, headers=headers)
    return orjson.loads(PROVIDER.build_chat(request, target).body)


def test_registered_under_its_type() -> None:
    assert PROVIDER_TYPES["anthropic"] is AnthropicProvider


def test_url_headers_and_beta_passthrough() -> None:
    request = ChatRequest(model="m", messages=[{"role": "user", "content": "hi"}],
                          params={"response_format": {"type": "json_schema", "json_schema": {"name": "x", "schema": {"type": "object"}}}},
                          headers={"x-anthropic-beta": "fine-grained-tool-streaming-2025-05-14"})
    upstream = PROVIDER.build_chat(request, TARGET)
    assert upstream.method == "POST"
    assert upstream.url == "https://api.anthropic.test/v1/messages"
    assert upstream.headers["x-api-key"] == "sk-ant-test"
    assert upstream.headers["anthropic-version"] == "2023-06-01"
    assert upstream.headers["anthropic-beta"] == "fine-grained-tool-streaming-2025-05-14,structured-outputs-2025-11-13"
    assert "authorization" not in upstream.headers


def test_system_developer_and_multi_turn() -> None:
    body = build([
        {"role": "system", "content": "You are terse."},
        {"role": "user", "content": "Hi"},
        {"role": "assistant", "content": "Hello."},
        {"role": "developer", "content": [{"type": "text", "text": "Answer in French."}]},
        {"role": "user", "content": [{"type": "text", "text": "Capital of Italy?"}]},
        {"role": "user", "content": "Be brief."},
    ], max_tokens=100)
    assert body == {
        "model": "claude-sonnet-4-5",
        "max_tokens": 100,
        "system": [{"type": "text", "text": "You are terse."}, {"type": "text", "text": "Answer in French."}],
        "messages": [
            {"role": "user", "content": [{"type": "text", "text": "Hi"}]},
            {"role": "assistant", "content": [{"type": "text", "text": "Hello."}]},
            {"role": "user", "content": [{"type": "text", "text": "Capital of Italy?"},
                                         {"type": "text", "text": "Be brief."}]},
        ],
    }


def test_max_tokens_defaults_to_the_endpoint_limit_then_4096() -> None:
    assert build([{"role": "user", "content": "x"}])["max_tokens"] == 64000
    assert build([{"role": "user", "content": "x"}], target=Target("claude-x"))["max_tokens"] == 4096
    assert build([{"role": "user", "content": "x"}], max_completion_tokens=50)["max_tokens"] == 50


def test_images_data_and_url_with_cache_control() -> None:
    body = build([{"role": "system", "content": [{"type": "text", "text": "Long prompt", "cache_control": {"type": "ephemeral"}}]},
                  {"role": "user", "content": [
                      {"type": "text", "text": "What is this?"},
                      {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="},
                       "cache_control": {"type": "ephemeral", "ttl": "1h"}},
                      {"type": "image_url", "image_url": {"url": "https://example.com/cat.jpg", "detail": "high"}},
                  ]}], max_tokens=10)
    assert body["system"] == [{"type": "text", "text": "Long prompt", "cache_control": {"type": "ephemeral"}}]
    assert body["messages"] == [{"role": "user", "content": [
        {"type": "text", "text": "What is this?"},
        {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "iVBORw0KGgo="},
         "cache_control": {"type": "ephemeral", "ttl": "1h"}},
        {"type": "image", "source": {"type": "url", "url": "https://example.com/cat.jpg"}},
    ]}]


def test_unsupported_part_is_rejected_naming_it() -> None:
    with pytest.raises(BadRequestError) as info:
        build([{"role": "user", "content": [{"type": "input_audio", "input_audio": {"data": "AAA", "format": "wav"}}]}])
    assert "messages[0].content[0].type=input_audio" in info.value.message


@pytest.mark.parametrize(("choice", "parallel", "expected"), [
    (None, None, None),
    ("auto", None, {"type": "auto"}),
    ("none", None, {"type": "none"}),
    ("required", None, {"type": "any"}),
    ({"type": "function", "function": {"name": "get_weather"}}, None, {"type": "tool", "name": "get_weather"}),
    (None, False, {"type": "auto", "disable_parallel_tool_use": True}),
    ("required", False, {"type": "any", "disable_parallel_tool_use": True}),
])
def test_tools_and_tool_choice(choice: Any, parallel: Any, expected: Any) -> None:
    params: dict[str, Any] = {"tools": [WEATHER, {"type": "function", "function": {"name": "now"}}], "max_tokens": 5}
    if choice is not None:
        params["tool_choice"] = choice
    if parallel is not None:
        params["parallel_tool_calls"] = parallel
    body = build([{"role": "user", "content": "weather?"}], **params)
    assert body["tools"] == [
        {"name": "get_weather", "input_schema": WEATHER["function"]["parameters"], "description": "Weather in a city"},
        {"name": "now", "input_schema": {"type": "object", "properties": {}}},
    ]
    assert body.get("tool_choice") == expected


def test_tool_call_round_trip_history() -> None:
    body = build([
        {"role": "user", "content": "Weather in Paris and Rome?"},
        {"role": "assistant", "content": "", "tool_calls": [
            {"id": "toolu_1", "type": "function", "function": {"name": "get_weather", "arguments": "{\"city\":\"Paris\"}"}},
            {"id": "toolu_2", "type": "function", "function": {"name": "get_weather", "arguments": ""}},
        ]},
        {"role": "tool", "tool_call_id": "toolu_1", "content": "21C"},
        {"role": "tool", "tool_call_id": "toolu_2", "content": [{"type": "text", "text": "25C"}]},
        {"role": "user", "content": "Which is warmer?"},
    ], tools=[WEATHER], max_tokens=10)
    assert body["messages"] == [
        {"role": "user", "content": [{"type": "text", "text": "Weather in Paris and Rome?"}]},
        {"role": "assistant", "content": [
            {"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {"city": "Paris"}},
            {"type": "tool_use", "id": "toolu_2", "name": "get_weather", "input": {}},
        ]},
        {"role": "user", "content": [
            {"type": "tool_result", "tool_use_id": "toolu_1", "content": "21C"},
            {"type": "tool_result", "tool_use_id": "toolu_2", "content": [{"type": "text", "text": "25C"}]},
            {"type": "text", "text": "Which is warmer?"},
        ]},
    ]


def test_invalid_tool_arguments_are_a_bad_request() -> None:
    with pytest.raises(BadRequestError, match="toolu_9"):
        build([{"role": "assistant", "tool_calls": [
            {"id": "toolu_9", "type": "function", "function": {"name": "f", "arguments": "{not json"}}]}])


def test_response_format() -> None:
    schema = {"type": "object", "properties": {"a": {"type": "string"}}, "required": ["a"], "additionalProperties": False}
    body = build([{"role": "user", "content": "x"}], max_tokens=5,
                 response_format={"type": "json_schema", "json_schema": {"name": "out", "strict": True, "schema": schema}})
    assert body["output_format"] == {"type": "json_schema", "schema": schema}
    with pytest.raises(BadRequestError) as info:
        build([{"role": "user", "content": "x"}], response_format={"type": "json_object"})
    assert info.value.metadata["param"] == "response_format"


def test_sampling_stop_dropped_and_rejected_params() -> None:
    body = build([{"role": "user", "content": "x"}], max_tokens=5, temperature=1.7, top_p=0.9, top_k=40, stop="END",
                 seed=7, frequency_penalty=0.5, presence_penalty=0.1, logit_bias={"1": 2}, user="alice")
    assert body == {"model": "claude-sonnet-4-5", "max_tokens": 5,
                    "messages": [{"role": "user", "content": [{"type": "text", "text": "x"}]}],
                    "temperature": 1.0, "top_p": 0.9, "top_k": 40, "stop_sequences": ["END"],
                    "metadata": {"user_id": "2bd806c97f0e00af1a1fc3328fa763a9"}}
    with pytest.raises(BadRequestError, match="'n'"):
        build([{"role": "user", "content": "x"}], n=2)


@pytest.mark.parametrize(("reasoning", "max_tokens", "expected_budget", "expected_max"), [
    ({"effort": "high"}, 10000, 8000, 10000),
    ({"effort": "low"}, 10000, 2000, 10000),
    ({"effort": "minimal"}, 5000, 1024, 5000),      # Anthropic's minimum budget
    ({"max_tokens": 3000}, 2000, 3000, 7096),       # room for the answer after the budget
    ({"enabled": True}, None, 32000, 64000),         # medium of the endpoint's 64000 limit
])
def test_reasoning_becomes_a_thinking_budget(reasoning: dict, max_tokens: int | None, expected_budget: int,
                                             expected_max: int) -> None:
    params: dict[str, Any] = {"temperature": 0.3, "top_k": 5}
    if max_tokens is not None:
        params["max_tokens"] = max_tokens
    body = build([{"role": "user", "content": "x"}], reasoning=reasoning, **params)
    assert body["thinking"] == {"type": "enabled", "budget_tokens": expected_budget}
    assert body["max_tokens"] == expected_max
    assert "temperature" not in body and "top_k" not in body  # thinking takes no sampling changes


def test_reasoning_off_sends_no_thinking() -> None:
    assert "thinking" not in build([{"role": "user", "content": "x"}], reasoning={"effort": "none"})
    assert "thinking" not in build([{"role": "user", "content": "x"}], reasoning={"enabled": False})


def test_reasoning_details_replay_as_thinking_blocks() -> None:
    body = build([
        {"role": "user", "content": "Weather?"},
        {"role": "assistant", "content": None,
         "reasoning_details": [{"type": "reasoning.text", "text": "Let me call it.", "signature": "sig==",
                                "format": "anthropic-claude-v1", "index": 0},
                               {"type": "reasoning.encrypted", "data": "opaque", "format": "anthropic-claude-v1"},
                               {"type": "reasoning.text", "text": "other vendor", "format": "google-gemini-v1"}],
         "tool_calls": [{"id": "toolu_1", "type": "function", "function": {"name": "get_weather", "arguments": "{}"}}]},
        {"role": "tool", "tool_call_id": "toolu_1", "content": "40C"},
    ], max_tokens=5)
    assert body["messages"][1]["content"] == [
        {"type": "thinking", "thinking": "Let me call it.", "signature": "sig=="},
        {"type": "redacted_thinking", "data": "opaque"},
        {"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {}},
    ]


def test_stream_flag() -> None:
    assert build([{"role": "user", "content": "x"}], stream=True)["stream"] is True


# -- responses ---------------------------------------------------------------------------------

def test_parse_text_response() -> None:
    completion = PROVIDER.parse_chat(fixture_bytes("anthropic/messages_text.response.json"))
    choice = completion.choices[0]
    assert (choice.content, choice.finish_reason, choice.native_finish_reason) == \
        ("The capital of France is Paris.", "stop", "end_turn")
    assert completion.upstream_id == "msg_01Fg1JVgvCYUHWsxrj9GkpEv"
    assert completion.upstream_model == "claude-3-opus-20240229"
    assert (completion.usage.prompt_tokens, completion.usage.completion_tokens) == (20, 10)


def test_parse_tool_use_response() -> None:
    choice = PROVIDER.parse_chat(fixture_bytes("anthropic/messages_tool_result.response.json")).choices[0]
    assert choice.content is None
    assert [(c.id, c.name, c.arguments) for c in choice.tool_calls] == [
        ("toolu_01LZABsgreMefH2Go8D5PQbW", "final_result", '{"city":"Mexico City","country":"Mexico"}')]
    assert (choice.finish_reason, choice.native_finish_reason) == ("tool_calls", "tool_use")
    empty = PROVIDER.parse_chat(fixture_bytes("anthropic/messages_tool_use.response.json")).choices[0]
    assert empty.tool_calls[0].arguments == "{}"


def test_usage_counts_cache_reads_and_writes_in_the_prompt() -> None:
    usage = PROVIDER.parse_chat(fixture_bytes("anthropic/messages_cache_usage.response.json")).usage
    assert (usage.prompt_tokens, usage.cached_tokens, usage.cache_write_tokens, usage.completion_tokens) == \
        (1532, 1111, 418, 12)


def test_parse_thinking_and_refusal_blocks() -> None:
    body = orjson.dumps({"id": "msg_1", "model": "claude", "stop_reason": "refusal",
                         "stop_details": {"type": "refusal", "explanation": "Not allowed."},
                         "content": [{"type": "thinking", "thinking": "Hmm.", "signature": "s1"},
                                     {"type": "text", "text": ""}],
                         "usage": {"input_tokens": 5, "output_tokens": 2}})
    choice = PROVIDER.parse_chat(body).choices[0]
    assert (choice.reasoning, choice.refusal, choice.finish_reason) == ("Hmm.", "Not allowed.", "content_filter")
    assert choice.extra == {"reasoning_details": [{"type": "reasoning.text", "text": "Hmm.", "signature": "s1",
                                                   "format": "anthropic-claude-v1", "index": 0}]}


# -- streams -----------------------------------------------------------------------------------

def test_stream_text(step: int | None) -> None:
    parser = PROVIDER.stream_parser(ChatRequest(model="m", messages=[]), TARGET)
    deltas = replay(parser, fixture_bytes("anthropic/stream_text.sse"), step)
    out = assemble(deltas)
    assert out.first_delta_kind == "role" and out.roles == ["assistant"]
    assert out.content.startswith("Here are two great names for your pet pelican:\n\n1. **Charles**")
    assert out.content.endswith("feathered friend! 🦅")
    assert out.finish == [("stop", "end_turn")]
    assert (parser.usage.prompt_tokens, parser.usage.completion_tokens) == (678, 82)
    assert parser.upstream_id == "msg_01XMATm4UFnjP841TckVuNF4"


def test_stream_text_then_parallel_tools_numbers_the_calls(step: int | None) -> None:
    parser = PROVIDER.stream_parser(ChatRequest(model="m", messages=[]), TARGET)
    out = assemble(replay(parser, fixture_bytes("anthropic/stream_text_parallel_tool_use.sse"), step))
    assert out.content == "I'll add and multiply the numbers 2 and 3 for you."
    assert out.tool_calls == {
        0: {"id": "toolu_01GrN36ErVgy85ECZ6pbzBL4", "name": "add", "arguments": '{"a": 2, "b": 3}', "extra": None},
        1: {"id": "toolu_0113xQa4VtccyoXcHaukkzom", "name": "multiply", "arguments": '{"a": 2, "b": 3}', "extra": None},
    }
    assert out.finish == [("tool_calls", "tool_use")]
    assert (parser.usage.prompt_tokens, parser.usage.completion_tokens) == (502, 137)


def test_stream_thinking_then_tool_use(step: int | None) -> None:
    parser = PROVIDER.stream_parser(ChatRequest(model="m", messages=[]), TARGET)
    out = assemble(replay(parser, fixture_bytes("anthropic/stream_thinking_tool_use.sse"), step))
    assert out.reasoning.startswith("The user is asking for weather information for Florence, Italy.")
    assert out.content == ""
    assert out.tool_calls == {0: {"id": "toolu_0171KFcBwn1Z64XzvQfz3sZS", "name": "weather",
                                  "arguments": '{"location": "Florence, Italy"}', "extra": None}}
    [extra] = out.extras
    [detail] = extra["reasoning_details"]
    assert detail["type"] == "reasoning.text" and detail["format"] == "anthropic-claude-v1"
    assert detail["text"] == out.reasoning and detail["signature"].startswith("EsQDCkYICBgCKkBr9")
    assert parser.usage.completion_tokens == 119


def test_stream_tool_without_arguments_gets_an_empty_object() -> None:
    events = [
        ("message_start", {"type": "message_start", "message": {"id": "m", "model": "c", "usage": {"input_tokens": 3, "output_tokens": 1}}}),
        ("content_block_start", {"type": "content_block_start", "index": 0, "content_block": {"type": "tool_use", "id": "t1", "name": "now", "input": {}}}),
        ("content_block_delta", {"type": "content_block_delta", "index": 0, "delta": {"type": "input_json_delta", "partial_json": ""}}),
        ("content_block_stop", {"type": "content_block_stop", "index": 0}),
        ("message_delta", {"type": "message_delta", "delta": {"stop_reason": "tool_use"}, "usage": {"output_tokens": 9}}),
        ("message_stop", {"type": "message_stop"}),
    ]
    data = b"".join(b"event: %s\ndata: %s\n\n" % (n.encode(), orjson.dumps(e)) for n, e in events)
    parser = PROVIDER.stream_parser(ChatRequest(model="m", messages=[]), TARGET)
    out = assemble(replay(parser, data))
    assert out.tool_calls == {0: {"id": "t1", "name": "now", "arguments": "{}", "extra": None}}
    assert (parser.usage.prompt_tokens, parser.usage.completion_tokens) == (3, 9)


def test_stream_refusal(step: int | None) -> None:
    parser = PROVIDER.stream_parser(ChatRequest(model="m", messages=[]), TARGET)
    out = assemble(replay(parser, fixture_bytes("anthropic/stream_refusal_sdk_fixture.sse"), step))
    assert out.finish == [("content_filter", "refusal")]
    assert out.refusal == "This request was refused due to policy."


def test_stream_error_event_raises_the_classified_error() -> None:
    parser = PROVIDER.stream_parser(ChatRequest(model="m", messages=[]), TARGET)
    with pytest.raises(UpstreamError) as info:
        replay(parser, fixture_bytes("anthropic/stream_error_event.sse"))
    assert (info.value.kind, info.value.provider_code, info.value.message) == (OVERLOADED, "overloaded_error", "Overloaded")


def test_midstream_error_after_content_keeps_the_content_then_raises() -> None:
    parser = PROVIDER.stream_parser(ChatRequest(model="m", messages=[]), TARGET)
    deltas = parser.feed(fixture_bytes("anthropic/stream_midstream_error.sse"))  # output and error in one read
    assert [d.role for d in deltas] == ["assistant"]
    with pytest.raises(UpstreamError) as info:
        parser.close()
    assert info.value.kind == SERVER and info.value.provider_code == "api_error"
    with pytest.raises(UpstreamError):
        parser.feed(b"")


def test_stream_cut_before_message_stop_is_an_error() -> None:
    data = fixture_bytes("anthropic/stream_text.sse")
    cut = data[: data.index(b"event: message_delta")]
    parser = PROVIDER.stream_parser(ChatRequest(model="m", messages=[]), TARGET)
    parser.feed(cut)
    with pytest.raises(UpstreamError) as info:
        parser.close()
    assert info.value.kind == SERVER


# -- errors ------------------------------------------------------------------------------------

@pytest.mark.parametrize(("status", "name", "kind"), [
    (400, "error_400_invalid_request.json", INVALID),
    (400, "error_400_prompt_too_long.json", CONTEXT),
    (400, "error_400_context_limit_max_tokens.json", CONTEXT),
    (404, "error_404_not_found.json", ENDPOINT),
    (429, "error_429_rate_limit.json", RATE_LIMIT),
    (500, "error_500_api_error.json", SERVER),
])
def test_error_bodies(status: int, name: str, kind: str) -> None:
    err = PROVIDER.parse_error(status, {"retry-after": "7"}, fixture_bytes(f"anthropic/{name}"))
    assert (err.kind, err.status, err.retry_after) == (kind, status, 7.0)
    assert err.message == orjson.loads(fixture_bytes(f"anthropic/{name}"))["error"]["message"]


def test_529_is_overloaded_and_auth_and_credit_errors() -> None:
    body = b'{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}'
    assert PROVIDER.parse_error(529, {}, body).kind == OVERLOADED
    auth = b'{"type":"error","error":{"type":"authentication_error","message":"invalid x-api-key"}}'
    assert PROVIDER.parse_error(401, {}, auth).kind == AUTH
    credit = (b'{"type":"error","error":{"type":"invalid_request_error","message":"Your credit balance is too low '
              b'to access the Anthropic API."}}')
    assert PROVIDER.parse_error(400, {}, credit).kind == QUOTA
    assert PROVIDER.parse_error(502, {}, b"<html>bad gateway</html>").kind == SERVER
