"""Provider conventions as a client sees them through the whole gateway (the real openai SDK, or the raw
SSE where the SDK would hide the detail): server tools and citations, typed content parts, usage
conventions and the bill, finish reasons, streamed function-call pieces, mid-stream error frames."""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Callable
from typing import Any

import orjson
import pytest

from ..conftest import TEST_KEY, Gateway
from ..upstream import Reply, Upstream, fixture
from .e2e_support import PATHS, PRICE, WEATHER_TOOL, client

UP = "/v1/chat/completions"
ROUTER = "/or/api/v1/chat/completions"


def _model(model_id: str, provider: str, model: str) -> dict[str, Any]:
    return {"id": model_id, "name": model_id, "context_length": 200000, "max_completion_tokens": 64000,
            "endpoints": [{"provider": provider, "model": model, "pricing": PRICE}]}


@pytest.fixture
def gateway(make_gateway: Callable[..., Gateway], upstream: Upstream) -> Gateway:
    common = {"max_retries": 0, "timeout": 5}
    providers = {
        "anthropic": {"type": "anthropic", "base_url": f"{upstream.url}/anthropic", "api_key": "a", **common},
        "gemini": {"type": "gemini", "base_url": f"{upstream.url}/gemini", "api_key": "g", **common},
        "ollama": {"type": "ollama", "base_url": f"{upstream.url}/ollama", **common},
    }
    models = [_model("test/claude", "anthropic", "claude-sonnet-4-5"), _model("test/gemini", "gemini", "gemini-2.5-flash"),
              _model("test/qwen", "ollama", "qwen3:32b"), _model("test/magistral", "up", "magistral-medium-2509"),
              _model("test/grok", "up", "grok-4.1-fast-reasoning"), _model("test/groq", "up", "llama-3.3-70b-versatile"),
              _model("test/routed", "router", "openai/gpt-4o")]
    return make_gateway(providers=providers, models=models)


def raw_chunks(gateway: Gateway, body: dict[str, Any]) -> list[dict[str, Any]]:
    request = urllib.request.Request(
        f"{gateway.url}/api/v1/chat/completions", data=json.dumps({**body, "stream": True}).encode(),
        headers={"authorization": f"Bearer {TEST_KEY}", "content-type": "application/json"})
    with urllib.request.urlopen(request, timeout=20) as response:
        events = [e for e in response.read().decode().split("\n\n") if e.startswith("data: {")]
    return [json.loads(e[6:]) for e in events]


def hi(model: str) -> dict[str, Any]:
    return {"model": model, "messages": [{"role": "user", "content": "hi"}]}


def test_anthropic_server_tools_stream_as_annotations_not_tool_calls(gateway: Gateway, upstream: Upstream) -> None:
    upstream.queue(PATHS["anthropic"], Reply.events("anthropic/stream_web_search.sse"))
    chunks = list(client(gateway).chat.completions.create(
        model="test/claude", messages=[{"role": "user", "content": "Quantum news?"}], stream=True))
    deltas = [c.choices[0].delta for c in chunks if c.choices]
    assert all(not d.tool_calls for d in deltas)
    text = "".join(d.content or "" for d in deltas)
    annotations = [a for d in deltas for a in (d.model_extra or {}).get("annotations") or ()]
    assert annotations == [{"type": "url_citation", "url_citation": {
        "url": "https://example.com", "title": "Quantum Computing Breakthroughs in 2025", "start_index": 0,
        "end_index": len(text), "content": "Researchers demonstrated error-corrected logical qubits..."}}]
    assert [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason] == ["stop"]


def test_anthropic_web_search_response_has_url_citations(gateway: Gateway, upstream: Upstream) -> None:
    upstream.queue(PATHS["anthropic"], Reply.file("anthropic/messages_web_search.response.json"))
    message = client(gateway).chat.completions.create(model="test/claude", messages=[
        {"role": "user", "content": "When was Claude Shannon born?"}]).choices[0].message
    assert message.tool_calls is None
    [annotation] = message.annotations
    assert annotation.type == "url_citation"
    cited = message.content[annotation.url_citation.start_index:annotation.url_citation.end_index]
    assert cited == "Claude Shannon was born on April 30, 1916, in Petoskey, Michigan"
    assert annotation.url_citation.url == "https://en.wikipedia.org/wiki/Claude_Shannon"


def test_mistral_content_parts_reach_the_client_as_strings(gateway: Gateway, upstream: Upstream) -> None:
    upstream.queue(UP, Reply.sse("mistral/chat_magistral_stream.sse"), Reply.file("mistral/chat_magistral.response.json"))
    sdk = client(gateway)
    text, reasoning = "", ""
    for chunk in sdk.chat.completions.create(model="test/magistral", stream=True, messages=[
            {"role": "user", "content": "2+2?"}]):
        if chunk.choices:
            delta = chunk.choices[0].delta
            text += delta.content or ""  # the OpenAI schema's promise: content is a string
            reasoning += (delta.model_extra or {}).get("reasoning") or ""
    assert (text, reasoning) == ("2 + 2 = 4.", "The user asks for 2+2. That is 4.")
    message = sdk.chat.completions.create(model="test/magistral", messages=[{"role": "user", "content": "q"}]).choices[0].message
    assert message.content == "Final answer..."
    assert (message.model_extra or {})["reasoning"] == "Reasoning traces..."


def test_xai_reasoning_tokens_are_billed(gateway: Gateway, upstream: Upstream) -> None:
    upstream.queue(UP, Reply.file("xai/chat_reasoning_usage.response.json"))
    response = client(gateway).chat.completions.create(model="test/grok", messages=[{"role": "user", "content": "Who are you?"}])
    assert (response.usage.prompt_tokens, response.usage.completion_tokens, response.usage.total_tokens) == (663, 174, 837)
    assert response.usage.completion_tokens_details.reasoning_tokens == 124
    [row] = gateway.ledger()
    # 663 prompt tokens at $3/M plus 50 answer and 124 reasoning tokens at $15/M.
    assert (row["completion_tokens"], row["reasoning_tokens"], row["cost_nanos"]) == (174, 124, 4_599_000)


def test_ollama_without_done_reason_finishes_with_stop(gateway: Gateway, upstream: Upstream) -> None:
    upstream.queue(PATHS["ollama"], Reply.ndjson("ollama/api_chat_stream_no_done_reason.ndjson"))
    chunks = list(client(gateway).chat.completions.create(model="test/qwen", messages=[{"role": "user", "content": "hi"}],
                                                          stream=True))
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == ". How cool is that?"
    assert [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason] == ["stop"]
    assert gateway.ledger()[0]["finish_reason"] == "stop"


def test_gemini_function_call_streamed_in_pieces_reaches_the_client_whole(gateway: Gateway, upstream: Upstream) -> None:
    upstream.queue(PATHS["gemini_stream"], Reply.events("gemini/streamGenerateContent_partialArgs.sse"))
    chunks = list(client(gateway).chat.completions.create(
        model="test/gemini", messages=[{"role": "user", "content": "Lights in Boston to half"}], tools=[WEATHER_TOOL],
        stream=True))
    calls = [tc for c in chunks if c.choices for tc in c.choices[0].delta.tool_calls or ()]
    [call] = calls
    assert call.function.name == "control_light"
    assert orjson.loads(call.function.arguments) == {"location": "Boston, MA", "brightness": 50}
    assert [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason] == ["tool_calls"]


def test_gemini_malformed_function_call_finishes_with_error(gateway: Gateway, upstream: Upstream) -> None:
    upstream.queue(PATHS["gemini"], Reply.file("gemini/generateContent_malformed_function_call.response.json"))
    choice = client(gateway).chat.completions.create(model="test/gemini", messages=[{"role": "user", "content": "x"}],
                                                     tools=[WEATHER_TOOL]).choices[0]
    assert choice.finish_reason == "error"


def test_groq_error_frame_keeps_its_status_and_code(gateway: Gateway, upstream: Upstream) -> None:
    upstream.queue(UP, Reply.sse("groq/chat_stream_midstream_error.sse", pause=0.02))
    chunks = raw_chunks(gateway, hi("test/groq"))
    assert "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks if c["choices"]) == "Let me check that."
    error = chunks[-1]["error"]
    assert (error["code"], error["metadata"]["provider_code"]) == (400, "tool_use_failed")
    assert error["message"].startswith("Failed to call a function")
    assert chunks[-1]["choices"][0]["finish_reason"] == "error"
    [row] = gateway.ledger()
    assert (row["status"], row["http_status"], row["finish_reason"]) == ("error", 400, "error")
    assert json.loads(row["attempts"])[-1]["code"] == "tool_use_failed"


@pytest.mark.parametrize("status", [429, 402, 500])
def test_openrouter_error_frame_keeps_its_status(gateway: Gateway, upstream: Upstream, status: int) -> None:
    body = fixture("openrouter/chat_stream_midstream_error.sse").replace(b'"code":429', b'"code":%d' % status)
    upstream.queue(ROUTER, Reply.sse(body, pause=0.02))
    chunks = raw_chunks(gateway, hi("test/routed"))
    assert chunks[-1]["error"]["code"] == status
    assert chunks[-1]["choices"][0]["finish_reason"] == "error"
    [row] = gateway.ledger()
    assert (row["status"], row["http_status"]) == ("error", status)
