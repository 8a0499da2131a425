"""The OpenAI wire format (providers/openai.py) for the `openai`, `azure` and `openrouter` types: the
exact upstream requests, recorded responses and streams read, and errors mapped to kinds.
Dialect quirks of OpenAI-compatible servers (typed content parts, usage conventions, error frames
of Groq and OpenRouter) are in test_openai_compatible.py."""

from __future__ import annotations

import hashlib
from typing import Any

import orjson
import pytest

from switchpoint.config.schema import ProviderConfig
from switchpoint.errors import (
    AUTH,
    ENDPOINT,
    INVALID,
    MALFORMED,
    OVERLOADED,
    QUOTA,
    RATE_LIMIT,
    SERVER,
    UpstreamError,
)
from switchpoint.providers.azure import AzureProvider
from switchpoint.providers.base import Connection, Target
from switchpoint.providers.openai import OpenAIProvider
from switchpoint.providers.openrouter import OpenRouterProvider
from switchpoint.providers.registry import PROVIDER_TYPES
from switchpoint.types import ChatRequest, Delta, EmbeddingRequest, ToolCall, ToolCallDelta, Usage

from .provider_support import fixture_bytes, fixture_json, replay

OPENAI = OpenAIProvider(Connection(name="oai", type="openai", base_url="https://api.openai.com/v1/",
                                   api_key="sk-oai", headers={"openai-organization": "org-1"}))
AZURE = AzureProvider(Connection(name="az", type="azure", base_url="https://acme.openai.azure.com/openai",
                                 api_key="az-key"))
OPENROUTER = OpenRouterProvider(Connection(name="or", type="openrouter", base_url="https://openrouter.ai/api/v1",
                                           api_key="sk-or"))
ALL = {"openai": OPENAI, "azure": AZURE, "openrouter": OPENROUTER}


def request_from(recorded: dict[str, Any], **extra: Any) -> ChatRequest:
    """The canonical request for a recorded upstream body: what the gateway gets from a client."""
    params = {k: v for k, v in recorded.items() if k not in ("model", "messages", "stream", "stream_options")}
    return ChatRequest(model="x/" + recorded["model"], messages=recorded["messages"],
                       stream=bool(recorded.get("stream")), params=params, **extra)


# -- construction ------------------------------------------------------------------------------

def test_each_type_is_built_from_its_config_with_its_own_options() -> None:
    assert {t: PROVIDER_TYPES[t] for t in ALL} == {t: type(p) for t, p in ALL.items()}
    azure = AzureProvider.from_config("az", ProviderConfig(type="azure", base_url="https://a.test", api_key="k",
                                                           options={"api_version": "2025-04-01-preview"}))
    assert azure.connection == Connection(name="az", type="azure", base_url="https://a.test", api_key="k",
                                          options={"api_version": "2025-04-01-preview"})
    assert azure.build_chat(ChatRequest(model="m", messages=[]), Target("dep")).url == (
        "https://a.test/openai/deployments/dep/chat/completions?api-version=2025-04-01-preview")
    plain = OpenAIProvider.from_config("o", ProviderConfig(type="openai", timeout=5, max_retries=0,
                                                           headers={"x-a": "1"}))
    assert plain.connection == Connection(name="o", type="openai", base_url="", headers={"x-a": "1"}, timeout=5,
                                          max_retries=0)
    assert plain.options == OpenAIProvider.Options()
    with pytest.raises(ValueError, match="api_version"):
        OpenAIProvider(Connection(name="o", type="openai", base_url="", options={"api_version": "1"}))


# -- requests ----------------------------------------------------------------------------------

def test_openai_chat_request_is_the_recorded_body() -> None:
    recorded = fixture_json("openai/chat_stream_text_usage.request.json")
    upstream = OPENAI.build_chat(request_from(recorded), Target("gpt-4o-mini"))
    assert (upstream.method, upstream.url) == ("POST", "https://api.openai.com/v1/chat/completions")
    assert upstream.headers == {"content-type": "application/json", "openai-organization": "org-1",
                                "authorization": "Bearer sk-oai"}
    assert orjson.loads(upstream.body or b"") == recorded
    assert list(orjson.loads(upstream.body or b"")) == ["model", "messages", "tool_choice", "tools", "stream",
                                                        "stream_options"]


def test_openai_non_streamed_request_sends_no_stream_keys() -> None:
    recorded = fixture_json("openai/chat_tools.request.json")  # the SDK sent "stream": false
    upstream = OPENAI.build_chat(request_from(recorded), Target("gpt-4o"))
    assert orjson.loads(upstream.body or b"") == {k: v for k, v in recorded.items() if k != "stream"}


def test_openai_hashes_the_user_maps_reasoning_and_strips_foreign_fields() -> None:
    request = ChatRequest(
        model="openai/o4-mini", reasoning={"effort": "high"}, params={"user": "alice@example.com", "seed": 7},
        messages=[{"role": "system", "content": [{"type": "text", "text": "Be brief.",
                                                  "cache_control": {"type": "ephemeral"}}]},
                  {"role": "assistant", "content": "4", "reasoning": "2+2", "reasoning_details": [{"x": 1}]},
                  {"role": "user", "content": "and 3+3?"}])
    body = orjson.loads(OPENAI.build_chat(request, Target("o4-mini")).body or b"")
    assert body == {"model": "o4-mini",
                    "messages": [{"role": "system", "content": [{"type": "text", "text": "Be brief."}]},
                                 {"role": "assistant", "content": "4"},
                                 {"role": "user", "content": "and 3+3?"}],
                    "user": hashlib.sha256(b"alice@example.com").hexdigest()[:32], "seed": 7,
                    "reasoning_effort": "high"}
    excluded = ChatRequest(model="m", messages=[], reasoning={"effort": "low", "exclude": True})
    assert "reasoning_effort" not in orjson.loads(OPENAI.build_chat(excluded, Target("m")).body or b"")


def test_openrouter_request_keeps_its_extensions_and_attribution() -> None:
    recorded = fixture_json("openrouter/stream_keepalive_usage.request.json")  # cache_control parts
    request = request_from(recorded, reasoning={"effort": "low", "exclude": True},
                           headers={"http-referer": "https://app.test", "x-title": "App", "x-other": "no"})
    upstream = OPENROUTER.build_chat(request, Target("anthropic/claude-sonnet-4.6"))
    assert upstream.url == "https://openrouter.ai/api/v1/chat/completions"
    assert upstream.headers == {"content-type": "application/json", "authorization": "Bearer sk-or",
                                "http-referer": "https://app.test", "x-title": "App"}
    assert orjson.loads(upstream.body or b"") == {**recorded, "reasoning": {"effort": "low", "exclude": True}}
    # The same messages sent to a plain OpenAI-compatible server lose the cache_control markers.
    plain = orjson.loads(OPENAI.build_chat(request_from(recorded), Target("m")).body or b"")
    assert [part for m in plain["messages"] for part in m["content"]] == [
        {"text": m["content"][0]["text"], "type": "text"} for m in recorded["messages"]]


def test_openrouter_non_streamed_request_is_the_recorded_body() -> None:
    recorded = fixture_json("openrouter/chat_usage_cost.request.json")
    upstream = OPENROUTER.build_chat(request_from(recorded), Target("openai/gpt-5-mini"))
    assert orjson.loads(upstream.body or b"") == {k: v for k, v in recorded.items() if k != "stream"}


def test_azure_request_goes_to_the_deployment_with_an_api_key() -> None:
    recorded = fixture_json("openai/chat_stream_tool_call.request.json")
    upstream = AZURE.build_chat(request_from(recorded), Target("gpt4o-mini-prod"))
    assert upstream.url == ("https://acme.openai.azure.com/openai/deployments/gpt4o-mini-prod/chat/completions"
                            "?api-version=2024-10-21")
    assert upstream.headers == {"content-type": "application/json", "api-key": "az-key"}
    assert orjson.loads(upstream.body or b"") == {**recorded, "model": "gpt4o-mini-prod"}


@pytest.mark.parametrize(("kind", "url"), [
    ("openai", "https://api.openai.com/v1/embeddings"),
    ("azure", "https://acme.openai.azure.com/openai/deployments/text-embedding-3-small/embeddings"
              "?api-version=2024-10-21"),
    ("openrouter", "https://openrouter.ai/api/v1/embeddings"),
])
def test_embeddings_request_asks_for_floats(kind: str, url: str) -> None:
    recorded = fixture_json("openai/embeddings_base64.request.json")
    request = EmbeddingRequest(model="openai/text-embedding-3-small", inputs=recorded["input"],
                               encoding_format="base64", dimensions=recorded["dimensions"], params={"user": "u"})
    upstream = ALL[kind].build_embeddings(request, Target("text-embedding-3-small"))
    assert (upstream.method, upstream.url) == ("POST", url)
    # The gateway base64-encodes itself when the client asked, so every provider is asked for floats.
    assert orjson.loads(upstream.body or b"") == {**recorded, "encoding_format": "float", "user": "u"}


# -- recorded responses ------------------------------------------------------------------------

@pytest.mark.parametrize("kind", list(ALL))
def test_text_response(kind: str) -> None:
    completion = ALL[kind].parse_chat(fixture_bytes("openai/chat_text.response.json"))
    raw = fixture_json("openai/chat_text.response.json")
    assert (completion.upstream_id, completion.upstream_model) == ("chatcmpl-ABfvaueLEMLNYbT8YzpJxsmiQ6HSY",
                                                                  "gpt-4o-2024-08-06")
    [choice] = completion.choices
    assert (choice.index, choice.content, choice.reasoning, choice.refusal, choice.tool_calls,
            choice.finish_reason, choice.native_finish_reason) == (
        0, raw["choices"][0]["message"]["content"], None, None, [], "stop", "stop")
    assert completion.usage == Usage(prompt_tokens=raw["usage"]["prompt_tokens"],
                                     completion_tokens=raw["usage"]["completion_tokens"])


def test_tool_call_response() -> None:
    completion = OPENAI.parse_chat(fixture_bytes("openai/chat_tools.response.json"))
    [choice] = completion.choices
    assert choice.tool_calls == [ToolCall(id="call_iXFttys57ap0o16JSlC8yhYo", name="get_user_country",
                                          arguments="{}")]
    assert (choice.content, choice.finish_reason) == (None, "tool_calls")
    assert (completion.system_fingerprint, completion.service_tier) == ("fp_f5bdcc3276", "default")
    assert completion.usage == Usage(prompt_tokens=68, completion_tokens=12)


def test_openrouter_response_keeps_reasoning_and_its_details() -> None:
    raw = fixture_json("openrouter/chat_usage_cost.response.json")
    completion = OPENROUTER.parse_chat(fixture_bytes("openrouter/chat_usage_cost.response.json"))
    [choice] = completion.choices
    message = raw["choices"][0]["message"]
    assert (choice.content, choice.reasoning) == ("Hello! How can I help you today?", message["reasoning"])
    assert choice.extra == {"reasoning_details": message["reasoning_details"]}
    assert (choice.finish_reason, choice.native_finish_reason) == ("stop", "completed")
    assert completion.usage == Usage(prompt_tokens=37, completion_tokens=92, reasoning_tokens=64)
    assert completion.upstream_model == "openai/gpt-5-mini-2025-08-07"


def test_base64_embeddings_response_is_decoded() -> None:
    embeddings = OPENAI.parse_embeddings(fixture_bytes("openai/embeddings_base64.response.json"))
    [vector] = embeddings.vectors
    assert len(vector) == 128  # the request asked for 128 dimensions
    assert vector[:3] == [-0.05322972685098648, -0.0702020674943924, -0.004702363163232803]  # little-endian f32
    assert embeddings.usage == Usage(prompt_tokens=4)
    assert embeddings.upstream_model == "text-embedding-3-small"


def test_float_embeddings_keep_the_input_order() -> None:
    body = orjson.dumps({"object": "list", "model": "text-embedding-3-small",
                         "data": [{"object": "embedding", "index": 1, "embedding": [0.5, -1.0]},
                                  {"object": "embedding", "index": 0, "embedding": [0.25, 2.0]}],
                         "usage": {"prompt_tokens": 6, "total_tokens": 6}})
    assert AZURE.parse_embeddings(body).vectors == [[0.25, 2.0], [0.5, -1.0]]


# -- streams -----------------------------------------------------------------------------------

@pytest.mark.parametrize("step", [None, 1, 97])
def test_text_stream_event_by_event(step: int | None) -> None:
    request = request_from(fixture_json("openai/chat_stream_text_usage.request.json"))
    parser = OPENAI.stream_parser(request, Target("gpt-4o-mini"))
    deltas = replay(parser, fixture_bytes("openai/chat_stream_text_usage.sse"), step)
    words = [d.content for d in deltas if d.content]
    assert deltas[0] == Delta(role="assistant", content="")
    assert deltas[1:-1] == [Delta(content=word) for word in words]
    assert "".join(words) == "The capital of the UK is London."
    assert deltas[-1] == Delta(finish_reason="stop", native_finish_reason="stop")
    assert parser.usage == Usage(prompt_tokens=78, completion_tokens=9)
    assert (parser.upstream_id, parser.upstream_model) == ("chatcmpl-Dx0Xq5Xx9rHB2ehcHZCRDsnuymUXc",
                                                           "gpt-4o-mini-2024-07-18")
    assert parser.done


def test_tool_call_stream_event_by_event() -> None:
    deltas = replay(AZURE.stream_parser(ChatRequest(model="m", messages=[], stream=True), Target("dep")),
                    fixture_bytes("openai/chat_stream_tool_call.sse"))
    assert deltas == [
        Delta(role="assistant", tool_calls=[ToolCallDelta(index=0, id="call_ZR5UUuTt3pf61kjwAJIYdVMj",
                                                          name="get_capital")]),
        *[Delta(tool_calls=[ToolCallDelta(index=0, arguments=piece)]) for piece in ('{"', "country", '":"', "UK",
                                                                                     '"}')],
        Delta(finish_reason="tool_calls", native_finish_reason="tool_calls"),
    ]


def test_openrouter_stream_skips_keepalive_comments() -> None:
    parser = OPENROUTER.stream_parser(ChatRequest(model="m", messages=[], stream=True), Target("m"))
    deltas = replay(parser, fixture_bytes("openrouter/stream_keepalive_usage.sse"), 64)
    assert deltas == [Delta(role="assistant", content="Hello!"),
                      Delta(role="assistant", content="", finish_reason="stop", native_finish_reason="stop")]
    assert parser.usage == Usage(prompt_tokens=254, completion_tokens=5)
    assert parser.upstream_model == "anthropic/claude-4.6-sonnet-20260217"


def test_error_event_mid_stream_keeps_the_text_already_sent() -> None:
    parser = OPENAI.stream_parser(ChatRequest(model="m", messages=[], stream=True), Target("m"))
    data = fixture_bytes("openai/chat_stream_midstream_error.sse")
    assert [d.content for d in parser.feed(data)] == ["", "The", " question", ' "']
    with pytest.raises(UpstreamError) as caught:
        parser.close()
    err = caught.value
    assert (err.kind, err.status, err.provider_code) == (SERVER, None, "server_error")
    assert err.message == "The server had an error while processing your request. Sorry about that!"


def test_stream_cut_before_done_is_a_server_error() -> None:
    data = fixture_bytes("openai/chat_stream_text_usage.sse")
    parser = OPENAI.stream_parser(ChatRequest(model="m", messages=[], stream=True), Target("m"))
    assert parser.feed(data[: data.index(b"data: [DONE]")])
    with pytest.raises(UpstreamError) as caught:
        parser.close()
    assert (caught.value.kind, caught.value.status) == (SERVER, 200)
    assert caught.value.message == "upstream stream ended before [DONE]"


def test_invalid_json_in_a_stream_is_malformed() -> None:
    parser = OPENAI.stream_parser(ChatRequest(model="m", messages=[], stream=True), Target("m"))
    with pytest.raises(UpstreamError) as caught:
        parser.feed(b'data: {"id": "x", "choices": [\n\n')
    assert caught.value.kind == MALFORMED


# -- errors ------------------------------------------------------------------------------------

ERRORS = [  # type, fixture, status, headers -> kind, provider code, retry after
    ("openai", "openai/error_400_unsupported_value.json", 400, {}, INVALID, "unsupported_value", None),
    ("openai", "openai/error_401_invalid_api_key.json", 401, {}, AUTH, "invalid_api_key", None),
    ("openai", "openai/error_404_model_not_found.json", 404, {}, ENDPOINT, "model_not_found", None),
    ("openai", "openai/error_429_insufficient_quota.json", 429, {}, QUOTA, "insufficient_quota", None),
    ("openai", "openai/error_429_rate_limit_tokens.json", 429, {"retry-after-ms": "1500"}, RATE_LIMIT,
     "rate_limit_exceeded", 1.5),
    ("openai", "openai/error_500_server_error.json", 500, {}, SERVER, "server_error", None),
    ("openai", "openai/embeddings_error_404.json", 404, {}, ENDPOINT, "model_not_found", None),
    ("openrouter", "openrouter/error_429_provider.json", 429, {"retry-after": "3"}, RATE_LIMIT, None, 3.0),
    ("azure", "azure/error_404_deployment_not_found.json", 404, {}, ENDPOINT, "DeploymentNotFound", None),
    ("azure", "azure/error_429_rate_limit.json", 429, {"retry-after": "6"}, RATE_LIMIT, "429", 6.0),
    ("azure", "azure/error_400_content_filter.json", 400, {}, INVALID, "content_filter", None),
]


@pytest.mark.parametrize(("kind", "name", "status", "headers", "error_kind", "code", "retry"), ERRORS)
def test_recorded_errors_map_to_kinds(kind: str, name: str, status: int, headers: dict[str, str], error_kind: str,
                                      code: str | None, retry: float | None) -> None:
    body = fixture_bytes(name)
    err = ALL[kind].parse_error(status, headers, body)
    assert (err.kind, err.status, err.provider_code, err.retry_after) == (error_kind, status, code, retry)
    assert err.message == fixture_json(name)["error"]["message"]
    assert err.raw == body.decode()


@pytest.mark.parametrize(("status", "body", "error_kind", "message"), [
    (403, b'{"error": {"message": "Your account is not active", "code": "account_deactivated"}}', AUTH,
     "Your account is not active"),
    (402, b'{"error": {"message": "Insufficient credits", "code": 402}}', QUOTA, "Insufficient credits"),
    (429, b'{"error": {"message": "Billing hard limit reached", "code": "billing_hard_limit_reached"}}', QUOTA,
     "Billing hard limit reached"),
    (408, b'{"error": "Request timed out"}', "timeout", "Request timed out"),
    (502, b"<html>502 Bad Gateway</html>", SERVER, "<html>502 Bad Gateway</html>"),
    (503, b"", OVERLOADED, "upstream returned HTTP 503"),
    (529, b'{"error": {"message": "Overloaded", "type": "overloaded_error"}}', OVERLOADED, "Overloaded"),
])
def test_statuses_and_codes_map_to_kinds(status: int, body: bytes, error_kind: str, message: str) -> None:
    for provider in ALL.values():
        err = provider.parse_error(status, {}, body)
        assert (err.kind, err.status, err.message) == (error_kind, status, message)


def test_error_object_in_a_200_body_keeps_its_status() -> None:
    with pytest.raises(UpstreamError) as caught:
        OPENROUTER.parse_chat(fixture_bytes("openrouter/error_429_provider.json"))
    assert (caught.value.kind, caught.value.status, caught.value.message) == (RATE_LIMIT, 429,
                                                                              "Provider returned error")
    with pytest.raises(UpstreamError) as caught:
        OPENAI.parse_chat(b"[]")
    assert (caught.value.kind, caught.value.message) == (SERVER, "upstream sent a non-object body")
    with pytest.raises(UpstreamError) as caught:
        OPENAI.parse_chat(b"<html>")
    assert caught.value.kind == MALFORMED
