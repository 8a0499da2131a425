"""Gemini translator: exact request bodies, recorded responses and streams, errors, embeddings."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from switchpoint.errors import AUTH, ENDPOINT, INVALID, RATE_LIMIT, SERVER, BadRequestError, UpstreamError
from switchpoint.providers.base import Connection, Target
from switchpoint.providers.gemini import GeminiProvider
from switchpoint.providers.registry import PROVIDER_TYPES
from switchpoint.types import ChatRequest, EmbeddingRequest

from .provider_support import assemble, fixture_bytes, fixture_json, replay

PROVIDER = GeminiProvider(Connection(name="gemini", type="gemini", base_url="https://gemini.test", api_key="g-key"))
TARGET = Target("gemini-2.5-flash", max_output_tokens=65536)
GEMINI3 = Target("gemini-3-pro-preview", max_output_tokens=65536)
WEATHER = {"type": "function", "function": {"name": "get_weather", "description": "Weather in a city",
                                            "parameters": {"type": "object", "properties": {"city": {"type": "string"}},
                                                           "required": ["city"], "additionalProperties": False}}}
SIGNATURE = "CiQB0e2Kb02QlBJ2I5/zDqv1c0AUEV+Ct+vGYwdFdWC3cx3yIuUKXQHR7Ypv3ZUytEmQlCdJhzrfshB8YFIoW134jv3AuUL8L16mz3cXjEvhr8tAFeSEScUollNyBu/e3OFraKdblEfpDXY2UASkOMhrezbveAaD4bxTeBmXbcJNqLFeTwp/AdHtim8YarufF4O5TXWRjFYgnIppzlQcQfTEyqqmA8J3gLjGgyROG7/2MSw/0EakJKFOXuFth2Sdskl1sLjsD7lOvAxbmzDHITcg9l39JrSaXcHN405OLs1bfgIhKdi8m/wq+MXPL72IOuO6YjuBjud9qruxF3/THtP+netVeA=="


def build(messages: list[dict[str, Any]], target: Target = TARGET, **params: Any) -> dict[str, Any]:
    reasoning = params.pop("reasoning", None)
    stream = params.pop("stream", False)
    request = ChatRequest(model="google/gemini", messages=messages, stream=stream, reasoning=reasoning, params=params)
    return orjson.loads(PROVIDER.build_chat(request, target).body)


def stream_parser() -> Any:
    return PROVIDER.stream_parser(ChatRequest(model="m", messages=[], stream=True), TARGET)


def test_registered_urls_and_headers() -> None:
    assert PROVIDER_TYPES["gemini"] is GeminiProvider
    request = ChatRequest(model="m", messages=[{"role": "user", "content": "hi"}])
    upstream = PROVIDER.build_chat(request, TARGET)
    assert upstream.url == "https://gemini.test/v1beta/models/gemini-2.5-flash:generateContent"
    assert upstream.headers["x-goog-api-key"] == "g-key"
    request.stream = True
    assert PROVIDER.build_chat(request, Target("models/gemini-2.5-pro")).url == \
        "https://gemini.test/v1beta/models/gemini-2.5-pro:streamGenerateContent?alt=sse"


def test_system_multi_turn_and_sampling() -> None:
    body = build([
        {"role": "system", "content": "You are terse."},
        {"role": "developer", "content": "Use metric units."},
        {"role": "user", "content": "Hi"},
        {"role": "assistant", "content": "Hello."},
        {"role": "user", "content": [{"type": "text", "text": "Weather?"}]},
    ], max_tokens=100, temperature=1.5, top_p=0.9, top_k=20, seed=3, stop=["END", "STOP"], frequency_penalty=1)
    assert body == {
        "systemInstruction": {"parts": [{"text": "You are terse."}, {"text": "Use metric units."}]},
        "contents": [
            {"role": "user", "parts": [{"text": "Hi"}]},
            {"role": "model", "parts": [{"text": "Hello."}]},
            {"role": "user", "parts": [{"text": "Weather?"}]},
        ],
        "generationConfig": {"maxOutputTokens": 100, "temperature": 1.5, "topP": 0.9, "topK": 20, "seed": 3,
                             "stopSequences": ["END", "STOP"]},
    }


def test_images_audio_and_files() -> None:
    body = build([{"role": "user", "content": [
        {"type": "text", "text": "Describe"},
        {"type": "image_url", "image_url": {"url": "data:image/jpeg;base64,/9j/4AAQ"}},
        {"type": "image_url", "image_url": {"url": "https://example.com/cat.png?size=2"}},
        {"type": "input_audio", "input_audio": {"data": "UklGRg==", "format": "mp3"}},
        {"type": "file", "file": {"filename": "a.pdf", "file_data": "data:application/pdf;base64,JVBERi0="}},
    ]}])
    assert body["contents"][0]["parts"] == [
        {"text": "Describe"},
        {"inlineData": {"mimeType": "image/jpeg", "data": "/9j/4AAQ"}},
        {"fileData": {"mimeType": "image/png", "fileUri": "https://example.com/cat.png?size=2"}},
        {"inlineData": {"mimeType": "audio/mp3", "data": "UklGRg=="}},
        {"inlineData": {"mimeType": "application/pdf", "data": "JVBERi0="}},
    ]


@pytest.mark.parametrize(("choice", "expected"), [
    ("auto", {"functionCallingConfig": {"mode": "AUTO"}}),
    ("none", {"functionCallingConfig": {"mode": "NONE"}}),
    ("required", {"functionCallingConfig": {"mode": "ANY"}}),
    ({"type": "function", "function": {"name": "get_weather"}},
     {"functionCallingConfig": {"mode": "ANY", "allowedFunctionNames": ["get_weather"]}}),
    (None, None),
])
def test_tools_and_tool_choice(choice: Any, expected: Any) -> None:
    params: dict[str, Any] = {"tools": [WEATHER, {"type": "function", "function": {"name": "now"}}]}
    if choice is not None:
        params["tool_choice"] = choice
    body = build([{"role": "user", "content": "x"}], **params)
    assert body["tools"] == [{"functionDeclarations": [
        {"name": "get_weather", "description": "Weather in a city", "parametersJsonSchema": WEATHER["function"]["parameters"]},
        {"name": "now"},
    ]}]
    assert body.get("toolConfig") == expected


def test_tool_call_round_trip_groups_results_and_replays_signatures() -> None:
    body = build([
        {"role": "user", "content": "Add and multiply 2 and 3"},
        {"role": "assistant", "content": None, "tool_calls": [
            {"id": "call_a", "type": "function", "function": {"name": "add", "arguments": "{\"a\":2,\"b\":3}"},
             "extra_content": {"google": {"thought_signature": SIGNATURE}}},
            {"id": "call_m", "type": "function", "function": {"name": "multiply", "arguments": "{\"a\":2,\"b\":3}"}},
        ]},
        {"role": "tool", "tool_call_id": "call_a", "content": "5"},
        {"role": "tool", "tool_call_id": "call_m", "content": [{"type": "text", "text": "6"}]},
    ])
    assert body["contents"] == [
        {"role": "user", "parts": [{"text": "Add and multiply 2 and 3"}]},
        {"role": "model", "parts": [
            {"functionCall": {"name": "add", "args": {"a": 2, "b": 3}}, "thoughtSignature": SIGNATURE},
            {"functionCall": {"name": "multiply", "args": {"a": 2, "b": 3}}},
        ]},
        {"role": "user", "parts": [
            {"functionResponse": {"name": "add", "response": {"result": "5"}}},
            {"functionResponse": {"name": "multiply", "response": {"result": "6"}}},
        ]},
    ]


def test_gemini3_call_without_signature_gets_the_documented_skip_value() -> None:
    body = build([
        {"role": "user", "content": "x"},
        {"role": "assistant", "tool_calls": [{"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{}"}},
                                             {"id": "c2", "type": "function", "function": {"name": "g", "arguments": "{}"}}]},
        {"role": "tool", "tool_call_id": "c1", "content": "ok"},
        {"role": "tool", "tool_call_id": "c2", "content": "ok"},
    ], target=GEMINI3)
    first, second = body["contents"][1]["parts"]
    assert first["thoughtSignature"] == "c2tpcF90aG91Z2h0X3NpZ25hdHVyZV92YWxpZGF0b3I="
    assert "thoughtSignature" not in second


def test_tool_result_for_an_unknown_call_is_a_bad_request() -> None:
    with pytest.raises(BadRequestError, match="call_zz"):
        build([{"role": "user", "content": "x"}, {"role": "tool", "tool_call_id": "call_zz", "content": "1"}])


def test_response_format() -> None:
    schema = {"type": "object", "properties": {"a": {"type": "integer"}}}
    body = build([{"role": "user", "content": "x"}], response_format={"type": "json_object"})
    assert body["generationConfig"] == {"responseMimeType": "application/json"}
    body = build([{"role": "user", "content": "x"}],
                 response_format={"type": "json_schema", "json_schema": {"name": "n", "schema": schema}})
    assert body["generationConfig"] == {"responseMimeType": "application/json", "responseJsonSchema": schema}


@pytest.mark.parametrize(("target", "reasoning", "params", "expected"), [
    (TARGET, {"effort": "high"}, {"max_tokens": 10000}, {"thinkingBudget": 8000, "includeThoughts": True}),
    (TARGET, {"effort": "low"}, {}, {"thinkingBudget": 13107, "includeThoughts": True}),
    (TARGET, {"max_tokens": 50000, "exclude": True}, {}, {"thinkingBudget": 32768, "includeThoughts": False}),
    (TARGET, {"effort": "none"}, {}, {"thinkingBudget": 0}),
    (GEMINI3, {"effort": "high"}, {}, {"thinkingLevel": "high", "includeThoughts": True}),
    (GEMINI3, {"effort": "minimal"}, {}, {"thinkingLevel": "low", "includeThoughts": True}),
])
def test_reasoning_becomes_thinking_config(target: Target, reasoning: dict, params: dict, expected: dict) -> None:
    body = build([{"role": "user", "content": "x"}], target=target, reasoning=reasoning, **params)
    assert body["generationConfig"]["thinkingConfig"] == expected


def test_multiple_choices_and_rejected_params() -> None:
    assert build([{"role": "user", "content": "x"}], n=2)["generationConfig"] == {"candidateCount": 2}
    with pytest.raises(BadRequestError, match="modalities"):
        build([{"role": "user", "content": "x"}], modalities=["text", "audio"])
    with pytest.raises(BadRequestError, match="tools\\[0\\]"):
        build([{"role": "user", "content": "x"}], tools=[{"type": "web_search"}])


# -- responses ---------------------------------------------------------------------------------

def test_parse_function_call_mints_ids_and_maps_stop_to_tool_calls() -> None:
    completion = PROVIDER.parse_chat(fixture_bytes("gemini/generateContent_functionCall.response.json"))
    [choice] = completion.choices
    [call] = choice.tool_calls
    assert call.id.startswith("call_") and len(call.id) == 29
    assert (call.name, call.arguments) == ("temperature", '{"city":"London","date":"2022-01-01"}')
    assert (choice.content, choice.finish_reason, choice.native_finish_reason) == (None, "tool_calls", "STOP")
    assert (completion.usage.prompt_tokens, completion.usage.completion_tokens) == (69, 14)
    assert completion.upstream_model == "gemini-2.0-flash"
    again = PROVIDER.parse_chat(fixture_bytes("gemini/generateContent_functionCall.response.json")).choices[0]
    assert again.tool_calls[0].id != call.id


def test_parse_max_tokens_and_safety_block() -> None:
    choice = PROVIDER.parse_chat(fixture_bytes("gemini/generateContent_max_tokens.response.json")).choices[0]
    assert (choice.content, choice.finish_reason, choice.native_finish_reason) == \
        ("The capital of France is", "length", "MAX_TOKENS")
    completion = PROVIDER.parse_chat(fixture_bytes("gemini/generateContent_safety.response.json"))
    choice = completion.choices[0]
    assert (choice.content, choice.finish_reason, choice.native_finish_reason) == ("", "content_filter", "SAFETY")
    assert (completion.usage.prompt_tokens, completion.usage.completion_tokens) == (14, 0)


def test_parse_blocked_prompt_and_thoughts_usage() -> None:
    blocked = orjson.dumps({"promptFeedback": {"blockReason": "PROHIBITED_CONTENT"},
                            "usageMetadata": {"promptTokenCount": 9, "totalTokenCount": 9}})
    choice = PROVIDER.parse_chat(blocked).choices[0]
    assert (choice.content, choice.finish_reason, choice.native_finish_reason) == \
        (None, "content_filter", "PROHIBITED_CONTENT")
    thinking = orjson.dumps({"candidates": [{"content": {"role": "model", "parts": [
        {"text": "Plan...", "thought": True}, {"text": "Answer."}]}, "finishReason": "STOP"}],
        "usageMetadata": {"promptTokenCount": 10, "candidatesTokenCount": 3, "thoughtsTokenCount": 40,
                          "cachedContentTokenCount": 4, "totalTokenCount": 53}})
    completion = PROVIDER.parse_chat(thinking)
    assert (completion.choices[0].content, completion.choices[0].reasoning) == ("Answer.", "Plan...")
    usage = completion.usage
    assert (usage.prompt_tokens, usage.completion_tokens, usage.reasoning_tokens, usage.cached_tokens) == (10, 43, 40, 4)


# -- streams -----------------------------------------------------------------------------------

def test_stream_text_crlf(step: int | None) -> None:
    parser = stream_parser()
    out = assemble(replay(parser, fixture_bytes("gemini/streamGenerateContent_text.sse"), step))
    assert out.first_delta_kind == "role" and out.roles == ["assistant"]
    assert out.content == "The capital of France is Paris.\n"
    assert out.finish == [("stop", "STOP")]
    assert (parser.usage.prompt_tokens, parser.usage.completion_tokens) == (13, 8)  # the last event wins
    assert parser.upstream_id == "w1peaMz6INOvnvgPgYfPiQY"


def test_stream_thinking(step: int | None) -> None:
    parser = stream_parser()
    out = assemble(replay(parser, fixture_bytes("gemini/streamGenerateContent_thinking.sse"), step))
    assert out.reasoning.startswith("**Clarifying User Goals**")
    assert "**Clarifying" not in out.content and out.content.endswith("Always assume a driver might not see you.")
    usage = parser.usage
    assert (usage.prompt_tokens, usage.completion_tokens, usage.reasoning_tokens) == (34, 469 + 787, 787)


def test_stream_parallel_calls_with_signature(step: int | None) -> None:
    parser = stream_parser()
    out = assemble(replay(parser, fixture_bytes("gemini/streamGenerateContent_parallel_functionCall.sse"), step))
    assert [(c["name"], c["arguments"]) for c in out.tool_calls.values()] == \
        [("add", '{"a":2,"b":3}'), ("multiply", '{"b":3,"a":2}')]
    assert list(out.tool_calls) == [0, 1]
    assert out.tool_calls[0]["extra"] == {"extra_content": {"google": {"thought_signature": SIGNATURE}}}
    assert out.tool_calls[1]["extra"] is None
    assert out.finish == [("tool_calls", "STOP")]
    assert (parser.usage.completion_tokens, parser.usage.reasoning_tokens) == (36 + 39, 39)


def test_stream_single_function_call(step: int | None) -> None:
    out = assemble(replay(stream_parser(), fixture_bytes("gemini/streamGenerateContent_functionCall.sse"), step))
    [call] = out.tool_calls.values()
    assert (call["name"], call["arguments"]) == ("get_capital", '{"country":"France"}')
    assert call["id"].startswith("call_")


def test_stream_without_finish_reason_is_cut() -> None:
    data = fixture_bytes("gemini/streamGenerateContent_text.sse")
    parser = stream_parser()
    parser.feed(data[: data.rindex(b"data:")])
    with pytest.raises(UpstreamError) as info:
        parser.close()
    assert info.value.kind == SERVER


def test_stream_error_object_raises() -> None:
    error = fixture_json("gemini/error_429_resource_exhausted.json")
    parser = stream_parser()
    with pytest.raises(UpstreamError) as info:
        parser.feed(b"data: " + orjson.dumps(error) + b"\r\n\r\n")
    assert (info.value.kind, info.value.retry_after) == (RATE_LIMIT, 26.0)


# -- errors ------------------------------------------------------------------------------------

@pytest.mark.parametrize(("status", "name", "kind", "code"), [
    (400, "error_400_api_key_invalid.json", AUTH, "API_KEY_INVALID"),
    (404, "error_404_not_found.json", ENDPOINT, "NOT_FOUND"),
    (404, "embeddings_error_404.json", ENDPOINT, "NOT_FOUND"),
    (429, "error_429_resource_exhausted.json", RATE_LIMIT, "RESOURCE_EXHAUSTED"),
])
def test_error_bodies(status: int, name: str, kind: str, code: str) -> None:
    err = PROVIDER.parse_error(status, {}, fixture_bytes(f"gemini/{name}"))
    assert (err.kind, err.status, err.provider_code) == (kind, status, code)
    assert err.message == fixture_json(f"gemini/{name}")["error"]["message"]


def test_rate_limit_retry_delay_and_invalid_argument() -> None:
    err = PROVIDER.parse_error(429, {}, fixture_bytes("gemini/error_429_resource_exhausted.json"))
    assert err.retry_after == 26.0
    bad = b'{"error": {"code": 400, "message": "Invalid JSON payload", "status": "INVALID_ARGUMENT"}}'
    assert PROVIDER.parse_error(400, {}, bad).kind == INVALID
    wrapped = b'[{"error": {"code": 503, "message": "overloaded", "status": "UNAVAILABLE"}}]'
    assert PROVIDER.parse_error(503, {}, wrapped).kind == "overloaded"


# -- embeddings --------------------------------------------------------------------------------

def test_batch_embeddings_request_repeats_the_model() -> None:
    request = EmbeddingRequest(model="google/gemini-embedding-001", inputs=["First text", "Second text"], dimensions=768)
    upstream = PROVIDER.build_embeddings(request, Target("gemini-embedding-2"))
    assert upstream.url == "https://gemini.test/v1beta/models/gemini-embedding-2:batchEmbedContents"
    assert orjson.loads(upstream.body) == fixture_json("gemini/batchEmbedContents.request.json")
    with pytest.raises(BadRequestError):
        PROVIDER.build_embeddings(EmbeddingRequest(model="m", inputs=[[1, 2, 3]]), Target("gemini-embedding-2"))


def test_batch_embeddings_response() -> None:
    result = PROVIDER.parse_embeddings(fixture_bytes("gemini/batchEmbedContents.response.json"))
    raw = fixture_json("gemini/batchEmbedContents.response.json")
    assert len(result.vectors) == 2 and len(result.vectors[0]) == 768
    assert result.vectors[0][:2] == [-0.011345503, -0.011202878]
    assert result.vectors[1] == raw["embeddings"][1]["values"]
    assert result.usage.prompt_tokens == (raw.get("usageMetadata") or {}).get("promptTokenCount", 0)
