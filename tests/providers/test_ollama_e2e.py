"""Ollama's native API through the whole gateway: the real openai SDK as client, the stand-in as Ollama."""

from __future__ import annotations

from typing import Any

import openai
import pytest

from ..conftest import Gateway
from ..upstream import Reply, Upstream
from .e2e_support import PATHS, WEATHER_TOOL, assistant_turn, client

PATH = PATHS["ollama"]
TOOL_CALL = {"model": "qwen3:32b", "created_at": "2026-01-10T17:00:00Z",
             "message": {"role": "assistant", "content": "", "tool_calls": [
                 {"id": "call_d1imwj4g", "function": {"index": 0, "name": "get_weather", "arguments": {"location": "Paris"}}}]},
             "done": True, "done_reason": "stop", "prompt_eval_count": 150, "eval_count": 20}
ANSWER = {"model": "qwen3:32b", "created_at": "2026-01-10T17:00:01Z",
          "message": {"role": "assistant", "content": "It is 18°C in Paris."},
          "done": True, "done_reason": "stop", "prompt_eval_count": 190, "eval_count": 9}


def test_text_completion_sends_stream_false(gateway: Gateway, upstream: Upstream) -> None:
    upstream.queue(PATH, Reply.json(ANSWER))
    response = client(gateway).chat.completions.create(
        model="test/qwen", messages=[{"role": "user", "content": "Weather?"}], max_tokens=20, temperature=0.1)
    assert (response.choices[0].message.content, response.choices[0].finish_reason) == ("It is 18°C in Paris.", "stop")
    assert (response.usage.prompt_tokens, response.usage.completion_tokens) == (190, 9)
    assert upstream.hits(PATH)[0].json == {"model": "qwen3:32b", "messages": [{"role": "user", "content": "Weather?"}],
                                           "stream": False, "options": {"temperature": 0.1, "num_predict": 20}}


def test_streaming_ndjson(gateway: Gateway, upstream: Upstream) -> None:
    upstream.queue(PATH, Reply.ndjson("ollama/api_chat_text_stream.ndjson"))
    chunks = list(client(gateway).chat.completions.create(
        model="test/qwen", messages=[{"role": "user", "content": "Sky?"}], stream=True))
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == "The sky is blue."
    assert [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason] == ["stop"]
    assert chunks[-1].usage.completion_tokens == 4
    assert upstream.hits(PATH)[0].json["stream"] is True


def test_tool_round_trip(gateway: Gateway, upstream: Upstream) -> None:
    upstream.queue(PATH, Reply.json(TOOL_CALL), Reply.json(ANSWER))
    sdk = client(gateway)
    messages: list[Any] = [{"role": "user", "content": "Weather in Paris?"}]
    first = sdk.chat.completions.create(model="test/qwen", messages=messages, tools=[WEATHER_TOOL])
    [call] = first.choices[0].message.tool_calls
    assert (call.id, call.function.name, call.function.arguments) == ("call_d1imwj4g", "get_weather", '{"location":"Paris"}')
    assert first.choices[0].finish_reason == "tool_calls"
    messages += [assistant_turn(first.choices[0].message), {"role": "tool", "tool_call_id": call.id, "content": "18C"}]
    second = sdk.chat.completions.create(model="test/qwen", messages=messages, tools=[WEATHER_TOOL])
    assert second.choices[0].message.content == "It is 18°C in Paris."
    assert upstream.hits(PATH)[1].json["messages"][1:] == [
        {"role": "assistant", "content": "", "tool_calls": [{"function": {"name": "get_weather", "arguments": {"location": "Paris"}}}]},
        {"role": "tool", "content": "18C", "tool_name": "get_weather"},
    ]


def test_streaming_tool_round_trip(gateway: Gateway, upstream: Upstream) -> None:
    upstream.queue(PATH, Reply.ndjson("ollama/api_chat_tool_call_stream.ndjson"),
                   Reply.ndjson("ollama/api_chat_text_stream.ndjson"))
    sdk = client(gateway)
    messages: list[Any] = [{"role": "user", "content": "Weather and time in Paris?"}]
    calls: list[dict[str, Any]] = []
    finish = []
    for chunk in sdk.chat.completions.create(model="test/qwen", messages=messages, tools=[WEATHER_TOOL], stream=True):
        if chunk.choices:
            calls += [{"id": tc.id, "type": "function", "function": tc.function.model_dump()}
                      for tc in chunk.choices[0].delta.tool_calls or ()]
            finish.append(chunk.choices[0].finish_reason)
    assert [(c["id"], c["function"]["name"]) for c in calls] == [("call_d1imwj4g", "get_weather"), ("call_k2x9q0az", "get_time")]
    assert "tool_calls" in finish
    messages += [{"role": "assistant", "content": "", "tool_calls": calls},
                 {"role": "tool", "tool_call_id": "call_d1imwj4g", "content": "18C"},
                 {"role": "tool", "tool_call_id": "call_k2x9q0az", "content": "14:00"}]
    answer = list(sdk.chat.completions.create(model="test/qwen", messages=messages, tools=[WEATHER_TOOL], stream=True))
    assert "".join(c.choices[0].delta.content or "" for c in answer if c.choices) == "The sky is blue."
    sent = upstream.hits(PATH)[1].json["messages"]
    assert [m.get("tool_name") for m in sent[2:]] == ["get_weather", "get_time"]


def test_midstream_error_line_reaches_the_client(gateway: Gateway, upstream: Upstream) -> None:
    first, second = Reply.ndjson("ollama/api_chat_text_stream.ndjson").chunks[:2]  # type: ignore[misc]
    error = b'{"error":"an error was encountered while running the model"}\n'
    upstream.queue(PATH, Reply(chunks=[first, second, 0.3, error], content_type="application/x-ndjson"))
    stream = client(gateway).chat.completions.create(model="test/qwen", messages=[{"role": "user", "content": "x"}],
                                                     stream=True)
    received = ""
    with pytest.raises(openai.APIError):
        for chunk in stream:
            received += chunk.choices[0].delta.content or "" if chunk.choices else ""
    assert received == "The sky is"


def test_embeddings(gateway: Gateway, upstream: Upstream) -> None:
    upstream.queue(PATHS["ollama_embed"], Reply.file("ollama/api_embed.response.json"))
    result = client(gateway).embeddings.create(model="test/ollama-embed", input=["a", "b"])
    assert [len(d.embedding) for d in result.data] == [10, 10]
    assert result.usage.prompt_tokens == 8
    assert upstream.hits(PATHS["ollama_embed"])[0].json == {"model": "all-minilm", "input": ["a", "b"]}
