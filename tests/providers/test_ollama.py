"""Ollama native translator: exact /api/chat bodies (matching Ollama's documented examples), NDJSON
streams, errors and /api/embed."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from switchpoint.errors import ENDPOINT, INVALID, OVERLOADED, SERVER, BadRequestError, UpstreamError
from switchpoint.providers.base import Connection, Target
from switchpoint.providers.ollama import OllamaProvider
from switchpoint.providers.registry import PROVIDER_TYPES
from switchpoint.types import ChatRequest, EmbeddingRequest

from .provider_support import assemble, fixture_bytes, fixture_json, replay

PROVIDER = OllamaProvider(Connection(name="local", type="ollama", base_url="http://127.0.0.1:11434/"))
WEATHER = fixture_json("ollama/api_chat_tools.request.json")["tools"][0]


def build(messages: list[dict[str, Any]], model: str = "llama3.2", **params: Any) -> dict[str, Any]:
    reasoning = params.pop("reasoning", None)
    stream = params.pop("stream", False)
    request = ChatRequest(model="meta/llama", messages=messages, stream=stream, reasoning=reasoning, params=params)
    return orjson.loads(PROVIDER.build_chat(request, Target(model)).body)


def test_registered_url_and_ndjson() -> None:
    assert PROVIDER_TYPES["ollama"] is OllamaProvider
    assert OllamaProvider.streams_ndjson is True
    upstream = PROVIDER.build_chat(ChatRequest(model="m", messages=[]), Target("llama3.2"))
    assert upstream.url == "http://127.0.0.1:11434/api/chat"
    assert "authorization" not in upstream.headers


def test_non_streaming_sends_stream_false_explicitly() -> None:
    body = build([{"role": "user", "content": "What is 2+2? Reply in one word."}], model="qwen3:32b", max_tokens=20)
    assert body == fixture_json("ollama/api_chat_nonstream.request.json")


def test_streaming_with_tools_matches_the_documented_body() -> None:
    body = build([{"role": "user", "content": "what is the weather in tokyo?"}], tools=[WEATHER], stream=True)
    assert body == fixture_json("ollama/api_chat_tools.request.json")


def test_tool_history_matches_the_documented_body() -> None:
    body = build([
        {"role": "user", "content": "what is the weather in Toronto?"},
        {"role": "assistant", "content": None, "tool_calls": [
            {"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": "{\"city\": \"Toronto\"}"}}]},
        {"role": "tool", "tool_call_id": "call_1", "content": "11 degrees celsius"},
    ], tools=[WEATHER])
    assert body == fixture_json("ollama/api_chat_tool_history.request.json")


def test_system_images_options_and_format() -> None:
    body = build([
        {"role": "developer", "content": "Be brief."},
        {"role": "user", "content": [{"type": "text", "text": "What is this?"},
                                     {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}}]},
    ], temperature=0.2, top_p=0.8, top_k=30, seed=1, stop="END", repetition_penalty=1.1, max_completion_tokens=64,
        response_format={"type": "json_object"}, logit_bias={"5": 1})
    assert body == {
        "model": "llama3.2",
        "messages": [{"role": "system", "content": "Be brief."},
                     {"role": "user", "content": "What is this?", "images": ["iVBORw0KGgo="]}],
        "stream": False,
        "options": {"temperature": 0.2, "top_p": 0.8, "top_k": 30, "seed": 1, "repeat_penalty": 1.1,
                    "num_predict": 64, "stop": ["END"]},
        "format": "json",
    }
    schema = {"type": "object", "properties": {"a": {"type": "integer"}}}
    body = build([{"role": "user", "content": "x"}],
                 response_format={"type": "json_schema", "json_schema": {"name": "n", "schema": schema}})
    assert body["format"] == schema


def test_http_image_needs_bytes_and_is_rejected_naming_the_part() -> None:
    with pytest.raises(BadRequestError) as info:
        build([{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "https://x.test/a.png"}}]}])
    assert "messages[0].content[0].image_url" in info.value.message


@pytest.mark.parametrize(("choice", "names"), [
    ("auto", ["get_weather", "now"]),
    ("required", ["get_weather", "now"]),
    ("none", None),
    ({"type": "function", "function": {"name": "now"}}, ["now"]),
])
def test_tool_choice_emulation(choice: Any, names: list[str] | None) -> None:
    now = {"type": "function", "function": {"name": "now", "parameters": {"type": "object", "properties": {}}}}
    body = build([{"role": "user", "content": "x"}], tools=[WEATHER, now], tool_choice=choice)
    sent = [t["function"]["name"] for t in body["tools"]] if "tools" in body else None
    assert sent == names


@pytest.mark.parametrize(("model", "reasoning", "think"), [
    ("qwen3:32b", {"effort": "high"}, True),
    ("qwen3:32b", {"effort": "none"}, False),
    ("gpt-oss:20b", {"effort": "low"}, "low"),
    ("gpt-oss:20b", {"effort": "xhigh"}, "high"),
    ("gpt-oss:20b", {"enabled": True}, "medium"),
])
def test_reasoning_becomes_think(model: str, reasoning: dict, think: Any) -> None:
    assert build([{"role": "user", "content": "x"}], model=model, reasoning=reasoning)["think"] == think


def test_n_is_rejected() -> None:
    with pytest.raises(BadRequestError, match="'n'"):
        build([{"role": "user", "content": "x"}], n=3)


# -- responses ---------------------------------------------------------------------------------

def test_parse_length_with_thinking() -> None:
    completion = PROVIDER.parse_chat(fixture_bytes("ollama/api_chat_nonstream.response.json"))
    choice = completion.choices[0]
    assert (choice.content, choice.finish_reason, choice.native_finish_reason) == ("", "length", "length")
    assert choice.reasoning == "Okay, the user is asking \"What is 2+2?\" and wants the"
    assert (completion.usage.prompt_tokens, completion.usage.completion_tokens) == (22, 20)
    assert completion.upstream_model == "qwen3:32b"


def test_parse_tool_calls_keeps_ids_and_serialises_arguments() -> None:
    body = orjson.dumps({**fixture_json("ollama/api_chat_tool_call_ids.observed.json"), "done_reason": "stop"})
    choice = PROVIDER.parse_chat(body).choices[0]
    assert [(c.id, c.name, c.arguments) for c in choice.tool_calls] == [("call_d1imwj4g", "get_weather", '{"location":"Paris"}')]
    assert (choice.content, choice.finish_reason, choice.native_finish_reason) == (None, "tool_calls", "stop")


# -- streams -----------------------------------------------------------------------------------

def test_stream_text(step: int | None) -> None:
    parser = PROVIDER.stream_parser(ChatRequest(model="m", messages=[]), Target("llama3.2"))
    out = assemble(replay(parser, fixture_bytes("ollama/api_chat_text_stream.ndjson"), step))
    assert out.first_delta_kind == "role" and out.roles == ["assistant"]
    assert out.content == "The sky is blue."
    assert out.finish == [("stop", "stop")]
    assert (parser.usage.prompt_tokens, parser.usage.completion_tokens) == (0, 4)  # prompt fully cached: omitted


def test_stream_thinking_until_length(step: int | None) -> None:
    parser = PROVIDER.stream_parser(ChatRequest(model="m", messages=[]), Target("qwen3:32b"))
    out = assemble(replay(parser, fixture_bytes("ollama/api_chat_stream.ndjson"), step))
    assert (out.reasoning, out.content, out.finish) == ("Okay,", "", [("length", "length")])
    assert (parser.usage.prompt_tokens, parser.usage.completion_tokens) == (15, 20)


def test_stream_tool_calls(step: int | None) -> None:
    parser = PROVIDER.stream_parser(ChatRequest(model="m", messages=[]), Target("qwen3:32b"))
    out = assemble(replay(parser, fixture_bytes("ollama/api_chat_tool_call_stream.ndjson"), step))
    assert out.tool_calls == {
        0: {"id": "call_d1imwj4g", "name": "get_weather", "arguments": '{"location":"Paris"}', "extra": None},
        1: {"id": "call_k2x9q0az", "name": "get_time", "arguments": "{}", "extra": None},
    }
    assert out.reasoning == "The user wants the weather in Paris."
    assert out.finish == [("tool_calls", "stop")]
    assert (parser.usage.prompt_tokens, parser.usage.completion_tokens) == (184, 61)


def test_stream_error_line_raises_after_the_content_before_it() -> None:
    parser = PROVIDER.stream_parser(ChatRequest(model="m", messages=[]), Target("gemma"))
    lines = fixture_bytes("ollama/api_chat_text_stream.ndjson").splitlines(keepends=True)[:2]
    error = fixture_bytes("ollama/api_generate_midstream_error.ndjson").splitlines(keepends=True)[-1]
    assert assemble(parser.feed(b"".join(lines) + error)).content == "The sky is"
    with pytest.raises(UpstreamError) as info:
        parser.feed(b"")
    assert (info.value.kind, info.value.message) == (SERVER, "an error was encountered while running the model")
    with pytest.raises(UpstreamError):
        PROVIDER.stream_parser(ChatRequest(model="m", messages=[]), Target("gemma")).feed(error)


def test_stream_cut_before_done_is_an_error() -> None:
    parser = PROVIDER.stream_parser(ChatRequest(model="m", messages=[]), Target("llama3.2"))
    parser.feed(fixture_bytes("ollama/api_chat_text_stream.ndjson").splitlines(keepends=True)[0])
    with pytest.raises(UpstreamError) as info:
        parser.close()
    assert info.value.kind == SERVER


# -- errors and embeddings ---------------------------------------------------------------------

@pytest.mark.parametrize(("status", "name", "kind"), [
    (400, "api_error_400.json", INVALID),
    (404, "api_error_404.json", ENDPOINT),
])
def test_error_bodies(status: int, name: str, kind: str) -> None:
    err = PROVIDER.parse_error(status, {}, fixture_bytes(f"ollama/{name}"))
    assert (err.kind, err.status, err.message) == (kind, status, fixture_json(f"ollama/{name}")["error"])
    assert PROVIDER.parse_error(503, {}, b'{"error":"server busy, please try again."}').kind == OVERLOADED


def test_embeddings() -> None:
    upstream = PROVIDER.build_embeddings(EmbeddingRequest(model="m", inputs=["a", "b"], dimensions=10), Target("all-minilm"))
    assert upstream.url == "http://127.0.0.1:11434/api/embed"
    assert orjson.loads(upstream.body) == {"model": "all-minilm", "input": ["a", "b"], "dimensions": 10}
    result = PROVIDER.parse_embeddings(fixture_bytes("ollama/api_embed.response.json"))
    assert [len(v) for v in result.vectors] == [10, 10]
    assert result.vectors[0][0] == 0.010071029 and result.usage.prompt_tokens == 8
