"""Gemini through the whole gateway: the real openai SDK as client, the stand-in as the Gemini API."""

from __future__ import annotations

from typing import Any

import openai
import pytest

from ..conftest import Gateway
from ..upstream import Reply, Upstream
from .e2e_support import KEYS, PATHS, assistant_turn, client

PATH, STREAM = PATHS["gemini"], PATHS["gemini_stream"]
TEMPERATURE = {"type": "function", "function": {"name": "temperature", "parameters": {
    "type": "object", "properties": {"city": {"type": "string"}, "date": {"type": "string"}}}}}
MATH: list[Any] = [{"type": "function", "function": {"name": name, "parameters": {
    "type": "object", "properties": {"a": {"type": "integer"}, "b": {"type": "integer"}}}}} for name in ("add", "multiply")]


def test_text_completion_cut_by_max_tokens(gateway: Gateway, upstream: Upstream) -> None:
    upstream.queue(PATH, Reply.file("gemini/generateContent_max_tokens.response.json"))
    response = client(gateway).chat.completions.create(
        model="test/gemini", max_tokens=5, messages=[{"role": "system", "content": "You are a helpful chatbot."},
                                                     {"role": "user", "content": "What is the capital of France?"}])
    choice = response.choices[0]
    assert (choice.message.content, choice.finish_reason) == ("The capital of France is", "length")
    assert choice.model_extra["native_finish_reason"] == "MAX_TOKENS"
    assert (response.usage.prompt_tokens, response.usage.completion_tokens) == (15, 5)
    [received] = upstream.hits(PATH)
    assert received.headers["x-goog-api-key"] == KEYS["gemini"]
    assert received.json == {"systemInstruction": {"parts": [{"text": "You are a helpful chatbot."}]},
                             "contents": [{"role": "user", "parts": [{"text": "What is the capital of France?"}]}],
                             "generationConfig": {"maxOutputTokens": 5}}


def test_streaming_text(gateway: Gateway, upstream: Upstream) -> None:
    upstream.queue(STREAM, Reply.events("gemini/streamGenerateContent_text.sse"))
    chunks = list(client(gateway).chat.completions.create(
        model="test/gemini", messages=[{"role": "user", "content": "What is the capital of France?"}], stream=True))
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == "The capital of France is Paris.\n"
    assert [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason] == ["stop"]
    assert (chunks[-1].usage.prompt_tokens, chunks[-1].usage.completion_tokens) == (13, 8)
    [received] = upstream.hits(STREAM)
    assert received.query == {"alt": "sse"}


def test_tool_round_trip(gateway: Gateway, upstream: Upstream) -> None:
    upstream.queue(PATH, Reply.file("gemini/generateContent_functionCall.response.json"),
                   Reply.file("gemini/generateContent_functionResponse.response.json"))
    sdk = client(gateway)
    messages: list[Any] = [{"role": "user", "content": "What was the temperature in London 1st January 2022?"}]
    first = sdk.chat.completions.create(model="test/gemini", messages=messages, tools=[TEMPERATURE])
    [call] = first.choices[0].message.tool_calls
    assert call.id.startswith("call_") and call.function.name == "temperature"
    assert call.function.arguments == '{"city":"London","date":"2022-01-01"}'
    assert first.choices[0].finish_reason == "tool_calls"
    messages += [assistant_turn(first.choices[0].message),
                 {"role": "tool", "tool_call_id": call.id, "content": "30°C"}]
    second = sdk.chat.completions.create(model="test/gemini", messages=messages, tools=[TEMPERATURE])
    assert second.choices[0].message.tool_calls[0].function.name == "final_result"
    turn2 = upstream.hits(PATH)[1].json
    assert turn2["contents"][1:] == [
        {"role": "model", "parts": [{"functionCall": {"name": "temperature", "args": {"city": "London", "date": "2022-01-01"}}}]},
        {"role": "user", "parts": [{"functionResponse": {"name": "temperature", "response": {"result": "30°C"}}}]},
    ]


def test_streaming_parallel_calls_round_trip_keeps_the_thought_signature(gateway: Gateway, upstream: Upstream) -> None:
    upstream.queue(STREAM, Reply.events("gemini/streamGenerateContent_parallel_functionCall.sse"),
                   Reply.events("gemini/streamGenerateContent_after_tools.sse"))
    sdk = client(gateway)
    messages: list[Any] = [{"role": "user", "content": "Add and multiply the number 2 and 3"}]
    calls: dict[int, dict[str, Any]] = {}
    for chunk in sdk.chat.completions.create(model="test/gemini", messages=messages, tools=MATH, stream=True):
        for tc in (chunk.choices[0].delta.tool_calls or ()) if chunk.choices else ():
            assert tc.index not in calls, "Gemini calls arrive whole, one delta each"
            calls[tc.index] = {"id": tc.id, "type": "function", "function": tc.function.model_dump(),
                               **({"extra_content": tc.model_extra["extra_content"]} if tc.model_extra.get("extra_content") else {})}
    assert [c["function"]["name"] for c in calls.values()] == ["add", "multiply"]
    signature = calls[0]["extra_content"]["google"]["thought_signature"]
    assert signature.startswith("CiQB0e2Kb02QlBJ2I5") and "extra_content" not in calls[1]
    messages += [{"role": "assistant", "content": None, "tool_calls": list(calls.values())},
                 {"role": "tool", "tool_call_id": calls[0]["id"], "content": "5"},
                 {"role": "tool", "tool_call_id": calls[1]["id"], "content": "6"}]
    answer = list(sdk.chat.completions.create(model="test/gemini", messages=messages, tools=MATH, stream=True))
    assert "".join(c.choices[0].delta.content or "" for c in answer if c.choices) == \
        "The sum of 2 and 3 is 5 and the product of 2 and 3 is 6."
    turn2 = upstream.hits(STREAM)[1].json
    assert turn2["contents"][1] == {"role": "model", "parts": [
        {"functionCall": {"name": "add", "args": {"a": 2, "b": 3}}, "thoughtSignature": signature},
        {"functionCall": {"name": "multiply", "args": {"b": 3, "a": 2}}}]}
    assert turn2["contents"][2] == {"role": "user", "parts": [
        {"functionResponse": {"name": "add", "response": {"result": "5"}}},
        {"functionResponse": {"name": "multiply", "response": {"result": "6"}}}]}


def test_rate_limit_carries_the_retry_delay(gateway: Gateway, upstream: Upstream) -> None:
    upstream.queue(PATH, Reply.file("gemini/error_429_resource_exhausted.json", 429))
    with pytest.raises(openai.RateLimitError) as info:
        client(gateway).chat.completions.create(model="test/gemini", messages=[{"role": "user", "content": "hi"}])
    assert info.value.response.headers["retry-after"] == "26"


def test_bad_key_is_an_authentication_failure_not_a_bad_request(gateway: Gateway, upstream: Upstream) -> None:
    upstream.require("/gemini/", "x-goog-api-key", "some-other-key", Reply.file("gemini/error_400_api_key_invalid.json", 400))
    with pytest.raises(openai.APIStatusError) as info:
        client(gateway).chat.completions.create(model="test/gemini", messages=[{"role": "user", "content": "hi"}])
    assert info.value.status_code != 400
    assert info.value.body["metadata"]["error_type"] == "authentication"


def test_embeddings(gateway: Gateway, upstream: Upstream) -> None:
    upstream.queue(PATHS["gemini_embed"], Reply.file("gemini/batchEmbedContents.response.json"))
    result = client(gateway).embeddings.create(model="test/gemini-embed", input=["First text", "Second text"],
                                               dimensions=768)
    assert [len(d.embedding) for d in result.data] == [768, 768]
    assert abs(result.data[0].embedding[0] - -0.011345503) < 1e-7
    body = upstream.hits(PATHS["gemini_embed"])[0].json
    assert [r["model"] for r in body["requests"]] == ["models/gemini-embedding-2"] * 2
