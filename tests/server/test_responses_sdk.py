"""The OpenAI Responses API through the gateway, driven by the real `openai` SDK, against every provider
type of the upstream stand-in: OpenAI chat-only (translated), OpenAI with its Responses API (passed through
byte for byte), Anthropic, Gemini and Ollama (translated both ways, their opaque reasoning carried in
`encrypted_content`)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import httpx
import openai
import pytest
from pydantic import BaseModel

from ..conftest import TEST_KEY, Gateway
from ..upstream import Reply, Upstream, fixture
from .scripted_models import (
    ANSWER,
    ENCRYPTED,
    PATHS,
    SIGNATURE,
    STRUCTURED,
    TEXT,
    THINKING,
    THOUGHT,
    USAGE,
    ScriptedModel,
)

PRICE = {"prompt": "0.000003", "completion": "0.000015"}
OTHER_KEY = "sk-sp-v1-other-key-0123456789abcdef"
MODELS = {"openai": "test/gpt", "native": "test/native", "anthropic": "test/claude", "gemini": "test/gemini",
          "ollama": "test/qwen"}
KINDS = list(MODELS)
WEATHER_TOOL = {"type": "function", "name": "get_weather", "description": "Weather in a city",
                "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"],
                               "additionalProperties": False}, "strict": True}


def _model(model_id: str, provider: str, model: str) -> dict[str, Any]:
    return {"id": model_id, "name": model_id, "context_length": 200000, "max_completion_tokens": 64000,
            "endpoints": [{"provider": provider, "model": model, "pricing": PRICE}]}


@pytest.fixture
def gateway(make_gateway: Callable[..., Gateway], upstream: Upstream) -> Gateway:
    common = {"max_retries": 0, "timeout": 5}
    providers = {
        "native": {"type": "openai", "base_url": f"{upstream.url}/native/v1", "api_key": "native-key",
                   "responses_api": True, **common},
        "anthropic": {"type": "anthropic", "base_url": f"{upstream.url}/anthropic", "api_key": "ant-key", **common},
        "gemini": {"type": "gemini", "base_url": f"{upstream.url}/gemini", "api_key": "gem-key", **common},
        "ollama": {"type": "ollama", "base_url": f"{upstream.url}/ollama", **common},
    }
    models = [_model("test/gpt", "up", "gpt-4o-mini"), _model("test/native", "native", "gpt-5"),
              _model("test/claude", "anthropic", "claude-sonnet-4-5"),
              _model("test/gemini", "gemini", "gemini-2.5-flash"), _model("test/qwen", "ollama", "qwen3:32b")]
    keys = [{"name": "test", "key": TEST_KEY}, {"name": "other", "key": OTHER_KEY}]
    ScriptedModel().install(upstream)
    return make_gateway(providers=providers, models=models, keys=keys)


def sdk(gateway: Gateway, key: str = TEST_KEY, base: str = "/api/v1") -> openai.OpenAI:
    return openai.OpenAI(base_url=gateway.url + base, api_key=key, max_retries=0, timeout=20)


def upstream_bodies(upstream: Upstream, kind: str) -> list[dict[str, Any]]:
    paths = [PATHS[kind]] + ([PATHS["gemini_stream"]] if kind == "gemini" else [])
    return [r.json for r in upstream.received if r.path in paths]


# -- create and stream --------------------------------------------------------------------------------

@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("base", ["/api/v1", "/v1"])
def test_create_text_on_every_provider_type(gateway: Gateway, upstream: Upstream, kind: str, base: str) -> None:
    response = sdk(gateway, base=base).responses.create(model=MODELS[kind], input="Say hello",
                                                        instructions="Be brief.")
    assert response.output_text == TEXT
    assert response.status == "completed"
    assert response.usage is not None
    assert (response.usage.input_tokens, response.usage.output_tokens) == USAGE
    [row] = gateway.ledger()
    assert (row["api_type"], row["model"], row["status"]) == ("responses", MODELS[kind], "success")
    assert row["prompt_tokens"] == USAGE[0] and row["cost_nanos"] > 0
    if kind != "native":
        assert response.id == row["id"]
        assert response.usage.model_extra["cost"] == pytest.approx(row["cost_nanos"] / 1e9)
        assert [item.type for item in response.output][-1] == "message"
    [sent] = upstream_bodies(upstream, kind)
    if kind == "native":  # passed through: the client's body with the model replaced
        assert sent == {"model": "gpt-5", "input": [{"type": "message", "role": "user", "content": "Say hello"}],
                        "instructions": "Be brief."}
    stats = httpx.get(f"{gateway.url}/api/v1/generation", params={"id": row["id"]},
                      headers={"authorization": f"Bearer {TEST_KEY}"}).json()["data"]
    assert stats["api_type"] == "responses"


def test_passthrough_is_byte_for_byte(gateway: Gateway, upstream: Upstream) -> None:
    raw = fixture("openai/responses_function_call.response.json")
    upstream.queue(PATHS["native"], Reply(body=raw))
    body = {"model": "test/native", "input": "Weather in Boston?", "tools": [
        {"type": "web_search"}, {**WEATHER_TOOL}], "reasoning": {"effort": "low", "summary": "auto"},
        "include": ["reasoning.encrypted_content"], "store": False, "prompt_cache_key": "thread-1",
        "metadata": {"app": "x"}, "text": {"verbosity": "low"}}
    response = httpx.post(f"{gateway.url}/v1/responses", json=body, timeout=20,
                          headers={"authorization": f"Bearer {TEST_KEY}"})
    assert response.status_code == 200 and response.content == raw
    [hit] = upstream.hits(PATHS["native"])
    assert hit.json == {**body, "model": "gpt-5", "input": [{"type": "message", "role": "user",
                                                              "content": "Weather in Boston?"}]}
    assert hit.headers["authorization"] == "Bearer native-key"
    [row] = gateway.ledger()
    usage = json.loads(raw)["usage"]
    assert (row["prompt_tokens"], row["completion_tokens"]) == (usage["input_tokens"], usage["output_tokens"])


def test_passthrough_stream_is_byte_for_byte(gateway: Gateway, upstream: Upstream) -> None:
    raw = fixture("openai/responses_stream_text.sse")
    upstream.queue(PATHS["native"], Reply.sse(raw, split=29))
    with httpx.stream("POST", f"{gateway.url}/v1/responses", timeout=20,
                      json={"model": "test/native", "input": "Hi", "stream": True},
                      headers={"authorization": f"Bearer {TEST_KEY}"}) as response:
        assert response.status_code == 200
        got = b"".join(response.iter_bytes())
    assert got.replace(b": SWITCHPOINT PROCESSING\n\n", b"") == raw
    [row] = gateway.ledger()
    assert row["streamed"] and row["completion_tokens"] > 0
    stored = sdk(gateway).responses.retrieve("resp_67c9fdcecf488190bdd9a0409de3a1ec07b8b0ad4e5eb654")
    assert stored.output_text == "Hi there! How can I help you today?"


@pytest.mark.parametrize("kind", KINDS)
def test_stream_events_in_order_on_every_provider_type(gateway: Gateway, kind: str) -> None:
    with sdk(gateway).responses.stream(model=MODELS[kind], input="Say hello") as stream:
        events = list(stream)
        final = stream.get_final_response()
    assert final.output_text == TEXT
    assert final.usage is not None and final.usage.output_tokens == USAGE[1]
    assert [e.sequence_number for e in events] == list(range(len(events)))
    types = [e.type for e in events]
    assert types[:2] == ["response.created", "response.in_progress"] and types[-1] == "response.completed"
    text = [t for t in types if "output_text" in t or "content_part" in t or t.startswith("response.output_item")]
    assert text[-6:] == ["response.output_item.added", "response.content_part.added", "response.output_text.delta",
                         "response.output_text.done", "response.content_part.done", "response.output_item.done"]
    if kind in ("anthropic", "gemini", "native"):  # the model reasoned: a reasoning item with its summary first
        assert "response.reasoning_summary_text.delta" in types
        assert final.output[0].type == "reasoning" and final.output[0].summary[0].text == THINKING
    row = gateway.ledger()[0]
    assert row["api_type"] == "responses" and row["streamed"]


# -- function-call loops: previous_response_id, and the items sent back ------------------------------

@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("stream", [False, True])
def test_function_call_loop_with_previous_response_id(gateway: Gateway, upstream: Upstream, kind: str,
                                                     stream: bool) -> None:
    client = sdk(gateway)

    def create(**kw: Any) -> Any:
        if not stream:
            return client.responses.create(model=MODELS[kind], tools=[WEATHER_TOOL], **kw)
        with client.responses.stream(model=MODELS[kind], tools=[WEATHER_TOOL], **kw) as events:
            return events.get_final_response()

    first = create(input="Weather in Paris?")
    [call] = [item for item in first.output if item.type == "function_call"]
    assert (call.name, json.loads(call.arguments)) == ("get_weather", {"city": "Paris"})
    second = create(previous_response_id=first.id,
                    input=[{"type": "function_call_output", "call_id": call.call_id, "output": "sunny, 24C"}])
    assert second.output_text == ANSWER
    later = upstream_bodies(upstream, kind)[-1]
    assert_reasoning_came_back(kind, later)
    assert_tool_result_came_back(kind, later, call.call_id)


def test_function_call_loop_sending_items_back_without_store(gateway: Gateway, upstream: Upstream) -> None:
    """As the Agents SDK and Codex do: store false, the whole conversation sent each turn, reasoning
    included, with include=["reasoning.encrypted_content"]."""
    client = sdk(gateway)
    for kind in ("anthropic", "gemini", "openai"):
        conversation: list[Any] = [{"role": "user", "content": "Weather in Paris?"}]
        first = client.responses.create(model=MODELS[kind], input=conversation, tools=[WEATHER_TOOL], store=False,
                                        include=["reasoning.encrypted_content"])
        conversation += [item.model_dump(exclude_none=True) for item in first.output]
        call = next(item for item in first.output if item.type == "function_call")
        conversation.append({"type": "function_call_output", "call_id": call.call_id, "output": "sunny"})
        second = client.responses.create(model=MODELS[kind], input=conversation, tools=[WEATHER_TOOL], store=False,
                                         include=["reasoning.encrypted_content"])
        assert second.output_text == ANSWER
        assert_reasoning_came_back(kind, upstream_bodies(upstream, kind)[-1])
        with pytest.raises(openai.NotFoundError):
            client.responses.retrieve(first.id)  # store: false kept nothing


def assert_reasoning_came_back(kind: str, body: dict[str, Any]) -> None:
    text = json.dumps(body)
    if kind == "anthropic":
        blocks = [b for m in body["messages"] if isinstance(m["content"], list) for b in m["content"]]
        assert {"type": "thinking", "thinking": THINKING, "signature": SIGNATURE} in blocks
    elif kind == "gemini":
        parts = [p for c in body["contents"] for p in c["parts"]]
        assert any(p.get("thoughtSignature") == THOUGHT and "functionCall" in p for p in parts)
    elif kind == "native":
        assert "previous_response_id" not in body  # the gateway resolved it
        assert any(i.get("type") == "reasoning" and i.get("encrypted_content") == ENCRYPTED for i in body["input"])
    else:
        assert "previous_response_id" not in text


def assert_tool_result_came_back(kind: str, body: dict[str, Any], call_id: str) -> None:
    text = json.dumps(body)
    assert "sunny, 24C" in text
    if kind == "openai":
        assert any(m.get("role") == "tool" and m["tool_call_id"] == call_id for m in body["messages"])


# -- structured output ----------------------------------------------------------------------------

class Weather(BaseModel):
    city: str
    sunny: bool


@pytest.mark.parametrize("kind", ["openai", "anthropic", "gemini", "native"])
def test_parse_structured_output(gateway: Gateway, upstream: Upstream, kind: str) -> None:
    parsed = sdk(gateway).responses.parse(model=MODELS[kind], input=f"{STRUCTURED}: weather in Paris?",
                                          text_format=Weather)
    assert parsed.output_parsed == Weather(city="Paris", sunny=True)
    if kind == "openai":
        [sent] = upstream_bodies(upstream, kind)
        assert sent["response_format"]["type"] == "json_schema"
        assert sent["response_format"]["json_schema"]["name"] == "Weather"


# -- state: stored responses are the calling key's -------------------------------------------------

def test_stored_response_get_delete_and_other_keys(gateway: Gateway) -> None:
    client = sdk(gateway)
    first = client.responses.create(model="test/gpt", input="Say hello")
    assert client.responses.retrieve(first.id).output_text == TEXT
    items = client.responses.input_items.list(first.id)
    assert [i.type for i in items.data] == ["message"]
    other = sdk(gateway, OTHER_KEY)
    with pytest.raises(openai.NotFoundError) as caught:
        other.responses.create(model="test/gpt", input="more", previous_response_id=first.id)
    assert caught.value.body["message"] == f"Previous response with id '{first.id}' not found."  # type: ignore[index]
    assert caught.value.body["param"] == "previous_response_id"  # type: ignore[index]
    with pytest.raises(openai.NotFoundError):
        other.responses.retrieve(first.id)
    with pytest.raises(openai.NotFoundError):
        other.responses.delete(first.id)
    with pytest.raises(openai.NotFoundError):
        client.responses.create(model="test/gpt", input="more", previous_response_id="resp_missing")
    client.responses.delete(first.id)
    with pytest.raises(openai.NotFoundError):
        client.responses.retrieve(first.id)


def test_conversation_accumulates_over_turns(gateway: Gateway, upstream: Upstream) -> None:
    client = sdk(gateway)
    first = client.responses.create(model="test/gpt", input="One", instructions="Be brief.")
    second = client.responses.create(model="test/gpt", input="Two", previous_response_id=first.id)
    client.responses.create(model="test/gpt", input="Three", previous_response_id=second.id)
    messages = upstream_bodies(upstream, "openai")[-1]["messages"]
    # instructions are not carried over (as OpenAI's API does); every turn and answer is
    assert [(m["role"], m["content"]) for m in messages] == [
        ("user", "One"), ("assistant", TEXT), ("user", "Two"), ("assistant", TEXT), ("user", "Three")]


# -- errors ---------------------------------------------------------------------------------------

def test_hosted_tool_on_a_chat_endpoint_is_a_400_naming_it(gateway: Gateway, upstream: Upstream) -> None:
    for model in ("test/gpt", "test/claude", "test/gemini"):
        with pytest.raises(openai.BadRequestError) as caught:
            sdk(gateway).responses.create(model=model, input="News?", tools=[WEATHER_TOOL, {"type": "web_search"}])
        assert "web_search" in caught.value.message and "tools[1]" in caught.value.message
    assert not upstream.received


def test_errors_use_openais_envelope(gateway: Gateway) -> None:
    client = sdk(gateway)
    with pytest.raises(openai.AuthenticationError):
        sdk(gateway, "sk-sp-v1-wrong").responses.create(model="test/gpt", input="Hi")
    with pytest.raises(openai.BadRequestError) as caught:
        client.responses.create(model="test/gpt", input="Hi", max_output_tokens="many")  # type: ignore[arg-type]
    assert caught.value.body["type"] == "invalid_request_error"  # type: ignore[index]
    assert caught.value.body["param"] == "max_output_tokens"  # type: ignore[index]
    response = httpx.post(f"{gateway.url}/v1/responses", json={"model": "test/gpt", "input": [{"type": "message"}]},
                          headers={"authorization": f"Bearer {TEST_KEY}"})
    assert response.status_code == 400
    assert response.json()["error"] == {"message": "input[0].role: must be one of user, system, developer, assistant",
                                         "type": "invalid_request_error", "param": "input[0].role", "code": None,
                                         "metadata": {"param": "input[0].role"}}
    deep: Any = "x"
    for _ in range(300):
        deep = {"a": deep}
    nested = httpx.post(f"{gateway.url}/v1/responses", json={"model": "test/gpt", "input": "x", "metadata": deep},
                        headers={"authorization": f"Bearer {TEST_KEY}"})
    assert nested.status_code == 400 and nested.json()["error"]["param"] == "metadata"
    refused = [(r["api_type"], r["status"], r["http_status"], r["model"]) for r in gateway.ledger()]
    assert refused == [("responses", "refused", 400, "test/gpt")] * 3  # the ledger shows each refusal


def test_an_error_after_the_first_byte_is_response_failed(gateway: Gateway, upstream: Upstream) -> None:
    upstream.queue(PATHS["openai"], Reply.sse("openai/chat_stream_midstream_error.sse", pause=0.05))
    with sdk(gateway).responses.create(model="test/gpt", input="Hi", stream=True) as stream:
        events = list(stream)
    assert [e.type for e in events][-2:] == ["error", "response.failed"]
    assert events[-1].response.status == "failed"  # type: ignore[union-attr]
    [row] = gateway.ledger()
    assert row["status"] == "error" and row["api_type"] == "responses"


# -- first-class: failover, budgets, rate limits ------------------------------------------------------

def test_failover_before_the_first_byte(make_gateway: Callable[..., Gateway], upstream: Upstream) -> None:
    ScriptedModel().install(upstream)
    upstream.script("/backup/v1/chat/completions", lambda r: ScriptedModel().reply("openai", r))
    for stream in (False, True):
        gateway = make_gateway()  # a fresh one: the failed endpoint is not demoted by the last test
        upstream.queue("/v1/chat/completions", Reply.json({"error": {"message": "overloaded"}}, status=503))
        order = {"provider": {"order": ["up", "backup"]}}  # OpenRouter's preferences, on Responses too
        if stream:
            with sdk(gateway).responses.stream(model="test/fallback", input="Say hello", extra_body=order) as events:
                response = events.get_final_response()
        else:
            response = sdk(gateway).responses.create(model="test/fallback", input="Say hello", extra_body=order)
        assert response.output_text == TEXT
        [row] = gateway.ledger()
        assert (row["provider"], [a["status"] for a in json.loads(row["attempts"])]) == ("backup", [503, 200])


def test_budget_and_rate_limit_refusals_in_openais_envelope(make_gateway: Callable[..., Gateway],
                                                            upstream: Upstream) -> None:
    gateway = make_gateway(keys=[{"name": "poor", "key": TEST_KEY, "limit": 0.0000001},
                                 {"name": "busy", "key": OTHER_KEY, "rate_limit": {"requests": 1, "interval": 60}}])
    ScriptedModel().install(upstream)
    with pytest.raises(openai.APIStatusError) as caught:
        sdk(gateway).responses.create(model="test/gpt", input="Say hello", max_output_tokens=4000)
    assert caught.value.status_code in (402, 403)
    assert caught.value.body["type"] in ("insufficient_quota", "permission_error")  # type: ignore[index]
    busy = sdk(gateway, OTHER_KEY)
    busy.responses.create(model="test/gpt", input="Say hello")
    with pytest.raises(openai.RateLimitError) as limited:
        busy.responses.create(model="test/gpt", input="Say hello")
    assert limited.value.response.headers.get("retry-after")
    assert limited.value.body["type"] == "rate_limit_error"  # type: ignore[index]


def test_response_cache_replays_requests_that_store_nothing(gateway: Gateway, upstream: Upstream) -> None:
    client = openai.OpenAI(base_url=f"{gateway.url}/api/v1", api_key=TEST_KEY, max_retries=0, timeout=20,
                           default_headers={"x-switchpoint-cache": "true"})
    first = client.responses.create(model="test/gpt", input="Say hello", store=False)
    again = client.responses.create(model="test/gpt", input="Say hello", store=False)
    assert again.output_text == first.output_text == TEXT and again.id != first.id
    assert again.usage is not None and again.usage.model_extra["cost"] == 0
    with client.responses.stream(model="test/gpt", input="Stream hello", store=False) as events:
        streamed = events.get_final_response()
    with client.responses.stream(model="test/gpt", input="Stream hello", store=False) as events:
        replayed = events.get_final_response()
    assert replayed.output_text == streamed.output_text == TEXT
    stored = client.responses.create(model="test/gpt", input="Say hello")  # store: a real generation
    assert stored.output_text == TEXT
    assert len(upstream_bodies(upstream, "openai")) == 3
    assert [r["cache_hit"] for r in gateway.ledger()] == [False, True, False, True, False]
