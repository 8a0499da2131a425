"""OpenAI-compatible providers that depart from the OpenAI schema: content as typed parts (Mistral),
usage counted another way (xAI, DeepSeek, Moonshot), error frames inside a 200 stream (Groq, OpenRouter)."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from switchpoint.errors import AUTH, INVALID, OVERLOADED, QUOTA, RATE_LIMIT, SERVER, UpstreamError
from switchpoint.providers.base import Connection, Target
from switchpoint.providers.openai import OpenAIProvider, parse_usage
from switchpoint.types import ChatRequest, Usage

from .provider_support import assemble, fixture_bytes, replay

PROVIDER = OpenAIProvider(Connection(name="up", type="openai", base_url="https://api.test/v1", api_key="k"))


def stream(data: bytes, step: int | None) -> list[Any]:
    parser = PROVIDER.stream_parser(ChatRequest(model="m", messages=[], stream=True), Target("m"))
    return replay(parser, data, step)


# -- content as typed parts ----------------------------------------------------------------------

def test_magistral_content_parts_become_text_and_reasoning() -> None:
    completion = PROVIDER.parse_chat(fixture_bytes("mistral/chat_magistral.response.json"))
    [choice] = completion.choices
    assert (choice.content, choice.reasoning, choice.finish_reason) == ("Final answer...", "Reasoning traces...", "stop")
    assert choice.extra == {"reasoning_details": [
        {"type": "reasoning.text", "text": "Reasoning traces...", "format": "unknown", "index": 0}]}


def test_magistral_stream_parts_become_text_and_reasoning(step: int | None) -> None:
    deltas = stream(fixture_bytes("mistral/chat_magistral_stream.sse"), step)
    assert all(d.content is None or isinstance(d.content, str) for d in deltas)
    out = assemble(deltas)
    assert (out.content, out.reasoning, out.finish) == ("2 + 2 = 4.", "The user asks for 2+2. That is 4.",
                                                         [("stop", "stop")])
    details = [item for extra in out.extras for item in extra.get("reasoning_details", ())]
    assert "".join(d["text"] for d in details) == "The user asks for 2+2. That is 4."
    assert {(d["type"], d["format"], d["index"]) for d in details} == {("reasoning.text", "unknown", 0)}


@pytest.mark.parametrize(("content", "text", "reasoning", "refusal"), [
    ([{"type": "text", "text": "a"}, {"type": "text", "text": "b"}], "ab", None, None),
    ([{"type": "thinking", "thinking": "plain string thought"}, {"type": "text", "text": "x"}], "x",
     "plain string thought", None),
    ([{"type": "reasoning", "reasoning": "r"}, {"type": "output_text", "text": "t"}], "t", "r", None),
    ([{"type": "refusal", "refusal": "no"}], "", None, "no"),
    ([{"type": "reference", "reference_ids": [1, 2]}, {"type": "text", "text": "cited"}], "cited", None, None),
    (["bare string part"], "bare string part", None, None),
])
def test_every_part_kind_is_read(content: list[Any], text: str, reasoning: str | None, refusal: str | None) -> None:
    body = {"choices": [{"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}]}
    [choice] = PROVIDER.parse_chat(orjson.dumps(body)).choices
    assert (choice.content, choice.reasoning, choice.refusal) == (text, reasoning, refusal)
    chunk = {"choices": [{"index": 0, "delta": {"content": content}, "finish_reason": None}]}
    data = b"data: " + orjson.dumps(chunk) + b"\n\ndata: [DONE]\n\n"
    [delta] = stream(data, None)
    assert (delta.content, delta.reasoning, delta.refusal) == (text or None, reasoning, refusal)


def test_image_parts_become_images() -> None:
    image = {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}}
    body = {"choices": [{"index": 0, "message": {"role": "assistant", "content": [{"type": "text", "text": "Here"}, image]},
                         "finish_reason": "stop"}]}
    [choice] = PROVIDER.parse_chat(orjson.dumps(body)).choices
    assert (choice.content, choice.extra) == ("Here", {"images": [image]})


# -- usage conventions ----------------------------------------------------------------------------

def test_xai_completion_tokens_gain_the_reasoning_tokens() -> None:
    usage = PROVIDER.parse_chat(fixture_bytes("xai/chat_reasoning_usage.response.json")).usage
    assert usage == Usage(prompt_tokens=663, completion_tokens=174, cached_tokens=654, reasoning_tokens=124)
    assert usage.total_tokens == 837  # what xAI itself reports as total


@pytest.mark.parametrize(("raw", "expected"), [
    # OpenAI: completion includes reasoning; total = prompt + completion.
    ({"prompt_tokens": 10, "completion_tokens": 200, "total_tokens": 210,
      "completion_tokens_details": {"reasoning_tokens": 150}}, (10, 200, 0, 0, 150)),
    # xAI, total present: reasoning counted apart.
    ({"prompt_tokens": 163, "completion_tokens": 37, "total_tokens": 404,
      "completion_tokens_details": {"reasoning_tokens": 204}}, (163, 241, 0, 0, 204)),
    # xAI-style without a total: more reasoning than completion means it was counted apart.
    ({"prompt_tokens": 2341, "completion_tokens": 31, "completion_tokens_details": {"reasoning_tokens": 736}},
     (2341, 767, 0, 0, 736)),
    # A reseller of the same model that already includes reasoning (total = prompt + completion).
    ({"prompt_tokens": 686, "completion_tokens": 123, "total_tokens": 809,
      "prompt_tokens_details": {"cached_tokens": 679}, "completion_tokens_details": {"reasoning_tokens": 112}},
     (686, 123, 679, 0, 112)),
    # DeepSeek: prompt_cache_hit_tokens, included in prompt_tokens.
    ({"prompt_tokens": 100, "completion_tokens": 5, "total_tokens": 105, "prompt_cache_hit_tokens": 64,
      "prompt_cache_miss_tokens": 36}, (100, 5, 64, 0, 0)),
    # Moonshot: a top-level cached_tokens.
    ({"prompt_tokens": 50, "completion_tokens": 5, "total_tokens": 55, "cached_tokens": 32}, (50, 5, 32, 0, 0)),
    # OpenRouter: cache writes reported in prompt_tokens_details, included in prompt_tokens.
    ({"prompt_tokens": 254, "completion_tokens": 5, "total_tokens": 259,
      "prompt_tokens_details": {"cached_tokens": 0, "cache_write_tokens": 200}}, (254, 5, 0, 200, 0)),
    # A server whose prompt count leaves the cached part out (total gives it away).
    ({"prompt_tokens": 20, "completion_tokens": 5, "total_tokens": 125,
      "prompt_tokens_details": {"cached_tokens": 100}}, (120, 5, 100, 0, 0)),
])
def test_usage_conventions(raw: dict[str, Any], expected: tuple[int, ...]) -> None:
    usage = parse_usage(raw)
    assert usage is not None
    assert (usage.prompt_tokens, usage.completion_tokens, usage.cached_tokens, usage.cache_write_tokens,
            usage.reasoning_tokens) == expected


def test_streamed_usage_is_normalised_too() -> None:
    usage = {"prompt_tokens": 663, "completion_tokens": 50, "total_tokens": 837,
             "completion_tokens_details": {"reasoning_tokens": 124}}
    data = b"data: " + orjson.dumps({"choices": [], "usage": usage}) + b"\n\ndata: [DONE]\n\n"
    parser = PROVIDER.stream_parser(ChatRequest(model="m", messages=[], stream=True), Target("m"))
    replay(parser, data)
    assert parser.usage is not None and parser.usage.completion_tokens == 174


# -- error frames inside a 200 stream -------------------------------------------------------------

def error_of(data: bytes) -> UpstreamError:
    with pytest.raises(UpstreamError) as info:
        stream(data, None)
    return info.value


def test_groq_error_frame_keeps_its_400_and_code() -> None:
    err = error_of(fixture_bytes("groq/chat_stream_midstream_error.sse"))
    assert (err.kind, err.status, err.provider_code) == (INVALID, 400, "tool_use_failed")
    assert err.message.startswith("Failed to call a function")


def test_openrouter_error_frame_keeps_its_status() -> None:
    err = error_of(fixture_bytes("openrouter/chat_stream_midstream_error.sse"))
    assert (err.kind, err.status, err.message) == (RATE_LIMIT, 429, "Rate limit exceeded")


@pytest.mark.parametrize(("error", "kind", "status", "code"), [
    ({"code": 402, "message": "Insufficient credits"}, QUOTA, 402, None),
    ({"code": 403, "message": "flagged", "metadata": {"reasons": ["violence"]}}, AUTH, 403, None),
    ({"code": 500, "message": "Internal"}, SERVER, 500, None),
    ({"code": 503, "message": "No instances"}, OVERLOADED, 503, None),
    ({"message": "m", "type": "invalid_request_error", "code": "json_validate_failed"}, INVALID, 400,
     "json_validate_failed"),
    ({"message": "m", "type": "tokens", "code": "rate_limit_exceeded"}, RATE_LIMIT, 429, "rate_limit_exceeded"),
    ({"message": "m", "type": "insufficient_quota", "code": "insufficient_quota"}, QUOTA, 429, "insufficient_quota"),
    ({"message": "m", "status_code": 413}, INVALID, 413, None),
    ({"message": "m", "type": "server_error"}, SERVER, None, "server_error"),
])
def test_error_frames_keep_the_status_they_carry_or_name(error: dict[str, Any], kind: str, status: int | None,
                                                         code: str | None) -> None:
    first = b'data: {"choices":[{"index":0,"delta":{"content":"Hi"}}]}\n\n'
    err = error_of(first + b"data: " + orjson.dumps({"error": error}) + b"\n\n")
    assert (err.kind, err.status, err.provider_code) == (kind, status, code)
