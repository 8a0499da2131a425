"""The Messages API translator, pure: request -> canonical, canonical -> message JSON and SSE events,
errors, model names. Exact outputs."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import orjson
import pytest

from switchpoint.errors import (
    BadRequestError,
    NotFoundError,
    PayloadTooLargeError,
    PaymentRequiredError,
    ProviderError,
    RateLimitError,
    ServiceUnavailableError,
    SwitchpointError,
)
from switchpoint.generation import GenerationRecord
from switchpoint.protocols.anthropic_messages import (
    MessagesStreamRenderer,
    ModelNames,
    error_body,
    error_status,
    estimate_input_tokens,
    message_body,
    parse_messages,
)
from switchpoint.providers.anthropic_stream import AnthropicStreamParser
from switchpoint.types import Choice, Completion, Delta, ToolCall, ToolCallDelta, Usage

FIXTURES = Path(__file__).parent.parent / "fixtures"
SIG = "EsQDCkYICBgCKkBr9"


def parse(body: dict[str, Any], headers: dict[str, str] | None = None) -> Any:
    return parse_messages(body, headers or {}, lambda name: f"resolved/{name}")


def record(cost: int = 1_500_000) -> GenerationRecord:
    rec = GenerationRecord(id="gen-1-abc", key_hash="h", created=0.0, model="test/gpt", api_type="messages")
    rec.cost_nanos = cost
    return rec


# -- requests -------------------------------------------------------------------------------------

def test_claude_codes_own_request() -> None:
    body = json.loads((FIXTURES / "anthropic/messages_claude_code.request.json").read_text())
    headers = json.loads((FIXTURES / "anthropic/messages_claude_code.request.headers.json").read_text())
    chat = parse(body, headers)
    assert chat.model == "resolved/claude-opus-5-5" and chat.stream
    assert chat.native is not None and chat.native.body is body
    assert chat.native.headers["anthropic-beta"].startswith("claude-code-20250219,")
    assert chat.headers == {"anthropic-beta": headers["anthropic-beta"]}
    assert [m["role"] for m in chat.messages] == ["system", "user", "system"]
    assert chat.messages[0]["content"][1] == {"type": "text", "cache_control": {"type": "ephemeral"},
                                              "text": "You are a Claude agent, built on Anthropic's Claude Agent SDK."}
    names = [t["function"]["name"] for t in chat.params["tools"]]
    assert "DeferredToolPlaceholder" not in names and {"Bash", "Write", "Read"} <= set(names)
    assert chat.reasoning == {"effort": "medium"}  # adaptive thinking with output_config.effort
    assert chat.params["max_tokens"] == 128000 and chat.params["user"] == body["metadata"]["user_id"]


def test_history_with_thinking_tools_images_and_documents() -> None:
    chat = parse({
        "model": "claude-sonnet-4-5", "max_tokens": 500, "system": "Be brief.",
        "stop_sequences": ["\n\nHuman:"], "temperature": 0.3, "top_p": 0.9, "top_k": 40,
        "tool_choice": {"type": "tool", "name": "get_weather", "disable_parallel_tool_use": True},
        "thinking": {"type": "enabled", "budget_tokens": 2048}, "cache_control": {"type": "ephemeral"},
        "tools": [{"name": "get_weather", "description": "Weather", "input_schema": {"type": "object"},
                   "cache_control": {"type": "ephemeral"}}],
        "messages": [
            {"role": "user", "content": [
                {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "iVBO"}},
                {"type": "image", "source": {"type": "url", "url": "https://example.com/a.jpg"}},
                {"type": "document", "source": {"type": "base64", "media_type": "application/pdf", "data": "JVBE"},
                 "title": "report.pdf"},
                {"type": "document", "source": {"type": "text", "media_type": "text/plain", "data": "plain words"}},
                {"type": "text", "text": "Weather in Paris?", "cache_control": {"type": "ephemeral"}}]},
            {"role": "assistant", "content": [
                {"type": "thinking", "thinking": "Look it up.", "signature": SIG},
                {"type": "redacted_thinking", "data": "EmwKAhgB"},
                {"type": "text", "text": "Checking."},
                {"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {"city": "Paris"}},
                {"type": "server_tool_use", "id": "srvtoolu_1", "name": "web_search", "input": {"query": "x"}}]},
            {"role": "user", "content": [
                {"type": "tool_result", "tool_use_id": "toolu_1", "is_error": True, "content": "timeout"},
                {"type": "tool_result", "tool_use_id": "toolu_2",
                 "content": [{"type": "text", "text": "18C"}, {"type": "text", "text": " sunny"}]},
                {"type": "text", "text": "And tomorrow?"}]},
        ]})
    assert chat.messages == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": [
            {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBO"}},
            {"type": "image_url", "image_url": {"url": "https://example.com/a.jpg"}},
            {"type": "file", "file": {"file_data": "data:application/pdf;base64,JVBE", "filename": "report.pdf"}},
            {"type": "text", "text": "plain words"},
            {"type": "text", "text": "Weather in Paris?", "cache_control": {"type": "ephemeral"}}]},
        {"role": "assistant", "content": "Checking.",
         "tool_calls": [{"id": "toolu_1", "type": "function",
                         "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'}}],
         "reasoning_details": [
             {"type": "reasoning.text", "text": "Look it up.", "signature": SIG, "format": "anthropic-claude-v1",
              "index": 0},
             {"type": "reasoning.encrypted", "data": "EmwKAhgB", "format": "anthropic-claude-v1", "index": 1}]},
        {"role": "tool", "tool_call_id": "toolu_1", "content": "Error: timeout"},
        {"role": "tool", "tool_call_id": "toolu_2", "content": "18C sunny"},
        {"role": "user", "content": [{"type": "text", "text": "And tomorrow?"}]},
    ]
    assert chat.params == {
        "max_tokens": 500, "temperature": 0.3, "top_p": 0.9, "top_k": 40, "stop": ["\n\nHuman:"],
        "tools": [{"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object"},
                                                    "description": "Weather", "cache_control": {"type": "ephemeral"}}}],
        "tool_choice": {"type": "function", "function": {"name": "get_weather"}}, "parallel_tool_calls": False,
        "cache_control": {"type": "ephemeral"}}
    assert chat.reasoning == {"max_tokens": 2048} and not chat.stream


@pytest.mark.parametrize(("choice", "expected"), [
    ({"type": "auto"}, "auto"), ({"type": "any"}, "required"), ({"type": "none"}, "none")])
def test_tool_choice(choice: dict[str, Any], expected: str) -> None:
    chat = parse({"model": "m", "max_tokens": 1, "messages": [], "tool_choice": choice,
                  "tools": [{"name": "t", "input_schema": {"type": "object"}}]})
    assert chat.params["tool_choice"] == expected


def test_server_tools_stay_as_they_are_and_disabled_thinking_turns_reasoning_off() -> None:
    search = {"type": "web_search_20250305", "name": "web_search", "max_uses": 2}
    chat = parse({"model": "m", "max_tokens": 1, "messages": [], "tools": [search], "thinking": {"type": "disabled"},
                  "context_management": {"edits": []}, "output_config": {"effort": "low"}, "service_tier": "auto"})
    assert chat.params["tools"] == [search] and chat.reasoning == {"enabled": False}


@pytest.mark.parametrize(("body", "message"), [
    ({"model": "m", "messages": []}, "max_tokens: Field required"),
    ({"model": 5, "max_tokens": 5, "messages": []}, "model: must be a string"),
    ({"model": "m", "max_tokens": 5, "messages": [{"role": "tool", "content": "x"}]}, "messages.0.role"),
    ({"model": "m", "max_tokens": 5, "messages": [{"role": "user", "content": [
        {"type": "image", "source": {"type": "file", "file_id": "file_1"}}]}]}, "messages.0.content.0.source"),
    ({"model": "m", "max_tokens": 5, "messages": [], "thinking": {"type": "enabled"}}, "thinking.budget_tokens"),
])
def test_bad_requests_name_the_field(body: dict[str, Any], message: str) -> None:
    with pytest.raises(BadRequestError) as caught:
        parse(body)
    assert caught.value.message.startswith(message)


def test_count_estimate_errs_high() -> None:
    body = {"messages": [{"role": "user", "content": "Hello, world! " * 100}]}
    assert estimate_input_tokens(body) >= len("Hello, world! " * 100) // 4


# -- responses ------------------------------------------------------------------------------------

def test_message_body_from_a_translated_answer() -> None:
    choice = Choice(content="Paris is sunny.", reasoning="Think.", finish_reason="tool_calls",
                    native_finish_reason="tool_calls",
                    tool_calls=[ToolCall("call_1", "get_weather", '{"city":"Paris"}'), ToolCall("call_2", "noop", "")])
    usage = Usage(prompt_tokens=1500, completion_tokens=40, cached_tokens=1000, cache_write_tokens=300)
    body = orjson.loads(message_body(Completion([choice], usage), record(), usage))
    assert body == {
        "id": "gen-1-abc", "type": "message", "role": "assistant", "model": "test/gpt",
        "content": [{"type": "thinking", "thinking": "Think.", "signature": ""},
                    {"type": "text", "text": "Paris is sunny."},
                    {"type": "tool_use", "id": "call_1", "name": "get_weather", "input": {"city": "Paris"}},
                    {"type": "tool_use", "id": "call_2", "name": "noop", "input": {}}],
        "stop_reason": "tool_use", "stop_sequence": None,
        "usage": {"input_tokens": 200, "output_tokens": 40, "cache_read_input_tokens": 1000,
                  "cache_creation_input_tokens": 300, "cost": 0.0015}}


@pytest.mark.parametrize(("finish", "native", "expected"), [
    ("stop", "stop", "end_turn"), ("length", "MAX_TOKENS", "max_tokens"), ("content_filter", None, "refusal"),
    ("stop", "stop_sequence", "stop_sequence"), ("stop", "pause_turn", "pause_turn"), (None, None, "end_turn")])
def test_stop_reasons(finish: str | None, native: str | None, expected: str) -> None:
    choice = Choice(content="x", finish_reason=finish, native_finish_reason=native)
    body = orjson.loads(message_body(Completion([choice]), record(), Usage()))
    assert body["stop_reason"] == expected


def test_a_passed_through_answer_is_returned_as_is() -> None:
    raw = b'{"id":"msg_1",  "type":"message"}'
    assert message_body(Completion([Choice()], native=raw), record(), Usage()) is raw


# -- streams --------------------------------------------------------------------------------------

def events(data: bytes) -> list[tuple[str, dict[str, Any]]]:
    out = []
    for frame in data.decode().split("\n\n"):
        if frame:
            name, payload = frame.split("\n", 1)
            out.append((name.removeprefix("event: "), json.loads(payload.removeprefix("data: "))))
    return out


def test_stream_of_a_translated_answer_follows_anthropics_event_order() -> None:
    renderer = MessagesStreamRenderer("gen-1-abc", "test/gpt")
    data = renderer.batch([Delta(role="assistant", content=""), Delta(reasoning="Hmm")])
    data += renderer.batch([Delta(extra={"reasoning_details": [{"type": "reasoning.text", "text": "Hmm",
                                                                "signature": SIG, "format": "anthropic-claude-v1"}]}),
                            Delta(content="Hi"), Delta(content=" there"),
                            Delta(tool_calls=[ToolCallDelta(0, id="call_1", name="get_weather", arguments="")]),
                            Delta(tool_calls=[ToolCallDelta(0, arguments='{"city":')]),
                            Delta(tool_calls=[ToolCallDelta(0, arguments='"Paris"}')]),
                            Delta(tool_calls=[ToolCallDelta(1, id="call_2", name="noop", arguments="{}")]),
                            Delta(finish_reason="tool_calls")])
    data += renderer.finish(Usage(prompt_tokens=30, completion_tokens=12, cached_tokens=10), record())
    got = events(data)
    assert [(n, e.get("delta", e.get("content_block", {})).get("type")) for n, e in got] == [
        ("message_start", None),
        ("content_block_start", "thinking"), ("content_block_delta", "thinking_delta"),
        ("content_block_delta", "signature_delta"),
        ("content_block_stop", None),
        ("content_block_start", "text"), ("content_block_delta", "text_delta"), ("content_block_delta", "text_delta"),
        ("content_block_stop", None),
        ("content_block_start", "tool_use"), ("content_block_delta", "input_json_delta"),
        ("content_block_delta", "input_json_delta"), ("content_block_stop", None),
        ("content_block_start", "tool_use"), ("content_block_delta", "input_json_delta"), ("content_block_stop", None),
        ("message_delta", None), ("message_stop", None)]
    assert [e["index"] for n, e in got if n == "content_block_start"] == [0, 1, 2, 3]
    assert got[-2][1] == {"type": "message_delta", "delta": {"stop_reason": "tool_use", "stop_sequence": None},
                          "usage": {"input_tokens": 20, "output_tokens": 12, "cache_read_input_tokens": 10,
                                    "cache_creation_input_tokens": 0, "cost": 0.0015}}
    # Our own Anthropic stream parser reads it back to the same answer.
    parser = AnthropicStreamParser()
    deltas = parser.feed(data) + parser.close()
    assert "".join(d.content or "" for d in deltas) == "Hi there"
    assert "".join(d.reasoning or "" for d in deltas) == "Hmm"
    calls = [c for d in deltas for c in d.tool_calls or ()]
    assert "".join(c.arguments for c in calls if c.index == 0) == '{"city":"Paris"}'
    assert parser.usage == Usage(prompt_tokens=30, completion_tokens=12, cached_tokens=10)


def test_a_passed_through_stream_is_relayed_and_nothing_added() -> None:
    renderer = MessagesStreamRenderer("gen-1", "m")
    assert renderer.batch([Delta(raw=b"event: ping\ndata: {}\n\n"), Delta(content="x")]) == b"event: ping\ndata: {}\n\n"
    assert renderer.batch([Delta(content="not relayed")]) == b""
    assert renderer.finish(Usage(), record()) == b""


# -- errors and model names -----------------------------------------------------------------------

@pytest.mark.parametrize(("err", "status", "kind"), [
    (BadRequestError("x"), 400, "invalid_request_error"),
    (PaymentRequiredError("x"), 402, "billing_error"),
    (NotFoundError("x"), 404, "not_found_error"),
    (PayloadTooLargeError("x"), 413, "request_too_large"),
    (RateLimitError("x", retry_after=3), 429, "rate_limit_error"),
    (ProviderError("x"), 500, "api_error"),
    (ServiceUnavailableError("x"), 529, "overloaded_error"),
    (SwitchpointError("x"), 500, "api_error"),
])
def test_error_envelope(err: SwitchpointError, status: int, kind: str) -> None:
    assert error_status(err) == status
    assert orjson.loads(error_body(err)) == {"type": "error", "error": {"type": kind, "message": "x"}}


def test_model_names() -> None:
    known = {"anthropic/claude-sonnet-4.5", "anthropic/claude-3.5-haiku", "test/local"}
    names = ModelNames({"claude-opus-*": "test/local", "my-model": "test/local"}, known.__contains__,
                       {"claude-sonnet-4-20250514": "vendor/sonnet-4"})
    assert names.resolve("claude-opus-4-1-20250805") == "test/local"
    assert names.resolve("my-model") == "test/local"
    assert names.resolve("anthropic/claude-sonnet-4.5") == "anthropic/claude-sonnet-4.5"
    assert names.resolve("claude-sonnet-4-5-20250929") == "anthropic/claude-sonnet-4.5"
    assert names.resolve("claude-sonnet-4-5") == "anthropic/claude-sonnet-4.5"
    assert names.resolve("claude-3-5-haiku-latest") == "anthropic/claude-3.5-haiku"
    assert names.resolve("claude-sonnet-4-20250514") == "vendor/sonnet-4"
    assert names.resolve("gpt-4o") == "gpt-4o"
