"""Anthropic through the whole gateway: the real openai SDK as client, the stand-in as Anthropic."""

from __future__ import annotations

from typing import Any

import openai
import pytest

from ..conftest import Gateway
from ..upstream import Reply, Upstream
from .e2e_support import KEYS, PATHS, WEATHER_TOOL, assistant_turn, client

PATH = PATHS["anthropic"]


def test_text_completion(gateway: Gateway, upstream: Upstream) -> None:
    upstream.queue(PATH, Reply.file("anthropic/messages_text.response.json"))
    response = client(gateway).chat.completions.create(
        model="test/claude", messages=[{"role": "system", "content": "You are a helpful assistant."},
                                       {"role": "user", "content": "What is the capital of France?"}],
        temperature=1.5, max_tokens=300)
    choice = response.choices[0]
    assert (choice.message.content, choice.finish_reason) == ("The capital of France is Paris.", "stop")
    assert (response.usage.prompt_tokens, response.usage.completion_tokens) == (20, 10)
    [received] = upstream.hits(PATH)
    assert received.headers["x-api-key"] == KEYS["anthropic"]
    assert received.headers["anthropic-version"] == "2023-06-01"
    assert received.json == {"model": "claude-sonnet-4-5", "max_tokens": 300,
                             "system": [{"type": "text", "text": "You are a helpful assistant."}],
                             "messages": [{"role": "user", "content": [{"type": "text", "text": "What is the capital of France?"}]}],
                             "temperature": 1.0}


def test_streaming_text(gateway: Gateway, upstream: Upstream) -> None:
    upstream.queue(PATH, Reply.events("anthropic/stream_text.sse"))
    stream = client(gateway).chat.completions.create(
        model="test/claude", messages=[{"role": "user", "content": "Two names for a pet pelican"}], stream=True,
        extra_headers={"x-anthropic-beta": "fine-grained-tool-streaming-2025-05-14"})
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text.startswith("Here are two great names") and text.endswith("feathered friend! 🦅")
    assert chunks[0].choices[0].delta.role == "assistant"
    assert [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason] == ["stop"]
    assert (chunks[-1].usage.prompt_tokens, chunks[-1].usage.completion_tokens) == (678, 82)
    [received] = upstream.hits(PATH)
    assert received.json["stream"] is True and received.json["max_tokens"] == 64000
    assert received.headers["anthropic-beta"] == "fine-grained-tool-streaming-2025-05-14"


def test_tool_round_trip(gateway: Gateway, upstream: Upstream) -> None:
    upstream.queue(PATH, Reply.file("anthropic/messages_tool_use.response.json"),
                   Reply.file("anthropic/messages_tool_result.response.json"))
    sdk = client(gateway)
    tools: list[Any] = [{"type": "function", "function": {"name": "get_user_country", "parameters": {"type": "object", "properties": {}}}}]
    messages: list[Any] = [{"role": "user", "content": "What is the largest city in the user country?"}]
    first = sdk.chat.completions.create(model="test/claude", messages=messages, tools=tools, tool_choice="required")
    [call] = first.choices[0].message.tool_calls
    assert (call.id, call.function.name, call.function.arguments) == ("toolu_01X9wcHKKAZD9tBC711xipPa", "get_user_country", "{}")
    assert first.choices[0].finish_reason == "tool_calls"
    messages += [assistant_turn(first.choices[0].message), {"role": "tool", "tool_call_id": call.id, "content": "Mexico"}]
    second = sdk.chat.completions.create(model="test/claude", messages=messages, tools=tools)
    assert second.choices[0].message.tool_calls[0].function.arguments == '{"city":"Mexico City","country":"Mexico"}'
    turn1, turn2 = (r.json for r in upstream.hits(PATH))
    assert turn1["tool_choice"] == {"type": "any"}
    assert turn2["messages"][1:] == [
        {"role": "assistant", "content": [{"type": "tool_use", "id": "toolu_01X9wcHKKAZD9tBC711xipPa",
                                           "name": "get_user_country", "input": {}}]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_01X9wcHKKAZD9tBC711xipPa",
                                      "content": "Mexico"}]},
    ]


def test_streaming_tool_round_trip_with_thinking(gateway: Gateway, upstream: Upstream) -> None:
    upstream.queue(PATH, Reply.events("anthropic/stream_thinking_tool_use.sse"),
                   Reply.events("anthropic/stream_thinking_tool_result.sse"))
    sdk = client(gateway)
    messages: list[Any] = [{"role": "user", "content": "What's the weather in Florence, Italy?"}]
    chunks = list(sdk.chat.completions.create(model="test/claude", messages=messages, tools=[WEATHER_TOOL],
                                              stream=True, max_tokens=4096,
                                              extra_body={"reasoning": {"max_tokens": 4000}}))
    calls: dict[int, dict[str, str]] = {}
    details: list[dict[str, Any]] = []
    for chunk in chunks:
        if not chunk.choices:
            continue
        delta = chunk.choices[0].delta
        details += (delta.model_extra or {}).get("reasoning_details") or []
        for tc in delta.tool_calls or ():
            entry = calls.setdefault(tc.index, {"id": "", "name": "", "arguments": ""})
            entry["id"] += tc.id or ""
            entry["name"] += (tc.function.name or "") if tc.function else ""
            entry["arguments"] += (tc.function.arguments or "") if tc.function else ""
    assert calls == {0: {"id": "toolu_0171KFcBwn1Z64XzvQfz3sZS", "name": "weather",
                         "arguments": '{"location": "Florence, Italy"}'}}
    assert [d["type"] for d in details] == ["reasoning.text"]
    messages += [{"role": "assistant", "content": None, "reasoning_details": details,
                  "tool_calls": [{"id": calls[0]["id"], "type": "function",
                                  "function": {"name": "weather", "arguments": calls[0]["arguments"]}}]},
                 {"role": "tool", "tool_call_id": calls[0]["id"], "content": "40 C"}]
    answer = list(sdk.chat.completions.create(model="test/claude", messages=messages, tools=[WEATHER_TOOL],
                                              stream=True, max_tokens=4096,
                                              extra_body={"reasoning": {"max_tokens": 4000}}))
    text = "".join(c.choices[0].delta.content or "" for c in answer if c.choices)
    assert text == "The current weather in Florence, Italy is 40°C (104°F). That's quite hot! It appears to be a very warm day there."
    turn1, turn2 = (r.json for r in upstream.hits(PATH))
    assert turn1["thinking"] == {"type": "enabled", "budget_tokens": 4000}
    assert turn1["max_tokens"] == 4096
    thinking, tool_use = turn2["messages"][1]["content"]
    assert thinking["type"] == "thinking" and thinking["signature"].startswith("EsQDCkYICBgCKkBr9")
    assert thinking["thinking"].startswith("The user is asking for weather information")
    assert tool_use == {"type": "tool_use", "id": "toolu_0171KFcBwn1Z64XzvQfz3sZS", "name": "weather",
                        "input": {"location": "Florence, Italy"}}


def test_overloaded_becomes_503_and_bad_key_is_reported(gateway: Gateway, upstream: Upstream) -> None:
    upstream.queue(PATH, Reply.json({"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}},
                                    status=529))
    with pytest.raises(openai.APIStatusError) as info:
        client(gateway).chat.completions.create(model="test/claude", messages=[{"role": "user", "content": "hi"}])
    assert info.value.status_code == 503


def test_unsupported_parameter_is_a_400_naming_it(gateway: Gateway, upstream: Upstream) -> None:
    with pytest.raises(openai.BadRequestError) as info:
        client(gateway).chat.completions.create(model="test/claude", messages=[{"role": "user", "content": "hi"}],
                                                response_format={"type": "json_object"})
    assert "response_format" in str(info.value)
    assert upstream.hits(PATH) == []
