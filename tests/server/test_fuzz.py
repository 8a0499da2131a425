"""Fuzzing a real gateway: schemathesis against the OpenAPI document it serves, and hypothesis
mutating valid chat, completions and embeddings bodies (types swapped, deep nesting, huge numbers,
wrong enums). The property: never a 5xx, and every error in the OpenRouter envelope.

The upstream stand-in answers every request properly (a stream to a stream request, one vector per
input), so any 5xx is the gateway's own. Bounded: a fixed number of examples, derandomized, so the
whole file runs in well under a minute on two cores."""

from __future__ import annotations

import http.client
import json
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.config import SchemathesisConfig

from switchpoint.server.openapi import document

from ..conftest import ADMIN_KEY, TEST_KEY, Gateway, base_config
from ..upstream import Received, Reply

SCHEMATHESIS_EXAMPLES = 20
MUTATION_EXAMPLES = 100
FUZZ_SETTINGS = settings(deadline=None, derandomize=True, database=None,
                         suppress_health_check=list(HealthCheck))
MODELS = ["test/gpt", "test/claude", "test/gemini"]


def _chat_reply(openai_stream: str, openai_body: str) -> Any:
    def reply(request: Received) -> Reply:
        wants_stream = bool(request.json and request.json.get("stream"))
        return Reply.sse(openai_stream) if wants_stream else Reply.file(openai_body)
    return reply


def _embeddings_reply(request: Received) -> Reply:
    inputs = request.json.get("input") if request.json else None
    count = len(inputs) if isinstance(inputs, list) and inputs and not isinstance(inputs[0], int) else 1
    data = [{"object": "embedding", "index": i, "embedding": [0.25, -0.5, 0.125]} for i in range(count)]
    return Reply.json({"object": "list", "data": data, "model": "text-embedding-3-small",
                       "usage": {"prompt_tokens": count, "total_tokens": count}})


def _gemini_reply(request: Received) -> Reply:
    if request.path.endswith(":streamGenerateContent"):
        return Reply.events("gemini/streamGenerateContent_text.sse")
    return Reply.file("gemini/generateContent_max_tokens.response.json")


@pytest.fixture(scope="module")
def fuzz_gateway(loop_thread, _upstream_server, tmp_path_factory):
    """One gateway for the whole module (starting one per operation would cost more than the fuzzing)."""
    upstream = _upstream_server
    upstream.reset()
    upstream.script("/v1/chat/completions", _chat_reply("openai/chat_stream_text_usage.sse",
                                                         "openai/chat_text.response.json"))
    upstream.script("/v1/embeddings", _embeddings_reply)
    upstream.script("/anthropic/v1/messages", lambda r: Reply.sse("anthropic/stream_text.sse")
                     if r.json and r.json.get("stream") else Reply.file("anthropic/messages_text.response.json"))
    for method in ("generateContent", "streamGenerateContent"):
        upstream.script(f"/gemini/v1beta/models/gemini-2.5-flash:{method}", _gemini_reply)
    common = {"max_retries": 0, "timeout": 5}
    price = {"prompt": "0.000003", "completion": "0.000015"}
    directory = tmp_path_factory.mktemp("fuzz")
    config = base_config(
        upstream, directory,
        providers={"up": {"type": "openai", "base_url": f"{upstream.url}/v1", "api_key": "upstream-key", **common},
                   "anthropic": {"type": "anthropic", "base_url": f"{upstream.url}/anthropic", "api_key": "a-key",
                                 **common},
                   "gemini": {"type": "gemini", "base_url": f"{upstream.url}/gemini", "api_key": "g-key", **common}},
        models=[
            {"id": "test/gpt", "name": "GPT", "context_length": 128000,
             "endpoints": [{"provider": "up", "model": "gpt-4o-mini", "pricing": price}]},
            {"id": "test/claude", "name": "Claude", "context_length": 200000,
             "endpoints": [{"provider": "anthropic", "model": "claude-sonnet-4-5", "pricing": price}]},
            {"id": "test/gemini", "name": "Gemini", "context_length": 200000,
             "endpoints": [{"provider": "gemini", "model": "gemini-2.5-flash", "pricing": price}]},
            {"id": "test/embed", "name": "Embed", "context_length": 8192, "output_modalities": ["embeddings"],
             "endpoints": [{"provider": "up", "model": "text-embedding-3-small", "pricing": {"prompt": "0.00000002"}}]},
        ],
        # every key may spend: limits are exercised, the fuzzing never runs out of budget
        keys=[{"name": "fuzz", "key": TEST_KEY, "limit": 1000.0}],
    )
    gateway = Gateway(loop_thread, config, directory).start()
    connection = http.client.HTTPConnection("127.0.0.1", gateway.port, timeout=10)
    connection.request("POST", "/api/v1/keys", json.dumps({"name": "fuzzed"}),
                       {"authorization": f"Bearer {ADMIN_KEY}", "content-type": "application/json"})
    gateway.fuzzed_key_hash = json.loads(connection.getresponse().read())["data"]["hash"]  # PATCH's target
    yield gateway
    gateway.stop()
    upstream.reset()


def assert_no_5xx(status: int, body: bytes, what: str) -> None:
    assert status < 500, f"{what} -> {status}: {body[:500]!r}"
    if status >= 400:
        error = json.loads(body)
        assert set(error) == {"error"}, body
        assert error["error"]["code"] == status and isinstance(error["error"]["message"], str), body
        assert isinstance(error["error"].get("metadata", {}), dict), body


# -- schemathesis, against the document the gateway serves ------------------------------------------


def get(port: int, path: str) -> tuple[int, bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    connection.request("GET", path)
    response = connection.getresponse()
    return response.status, response.read()


def test_the_document_is_served_without_a_key(fuzz_gateway):
    for path in ("/api/v1/openapi.json", "/v1/openapi.json"):
        status, body = get(fuzz_gateway.port, path)
        assert status == 200
        assert json.loads(body) == json.loads(json.dumps(document()))  # what the fuzzing below reads


# The document the gateway serves (checked equal above), loaded at collection: schemathesis's lazy
# loader from a fixture does not run under pytest 9.
# The coverage phase writes every boundary and wrong type of every field: ~1,600 cases and ~40 s for
# the chat body alone, so the three generation bodies get the random phase here and their fields are
# swapped one by one by the mutation test below.
schema = schemathesis.openapi.from_dict(document(), config=SchemathesisConfig.from_dict({
    "generation": {"mode": "all", "max-examples": SCHEMATHESIS_EXAMPLES},
    "operations": [{"include-path-regex": "/(chat/completions|completions|embeddings)$",
                    "phases": {"coverage": {"enabled": False}}}],
}))


@schema.parametrize()
@settings(FUZZ_SETTINGS, max_examples=SCHEMATHESIS_EXAMPLES)
def test_schemathesis_finds_no_5xx(case, fuzz_gateway):
    if isinstance(case.body, dict) and "model" in case.body and len(repr(case.body)) % 2:
        case.body["model"] = "test/embed" if case.path.endswith("/embeddings") else MODELS[len(case.body) % 3]
    if case.method == "PATCH" and len(repr(case.body)) % 2:  # else a random hash: the body is never read
        case.path_parameters["hash"] = fuzz_gateway.fuzzed_key_hash
    admin = "/keys" in case.path or "/teams" in case.path or "/openapi" in case.path
    headers = {"authorization": f"Bearer {ADMIN_KEY if admin else TEST_KEY}"}
    response = case.call(base_url=fuzz_gateway.url, headers=headers, timeout=20)
    assert_no_5xx(response.status_code, response.content, f"{case.method} {case.formatted_path}")


# -- hypothesis, mutating valid bodies ------------------------------------------------------------

JSON = st.recursive(
    st.none() | st.booleans() | st.integers(min_value=-(2**64), max_value=2**64)
    | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)
HUGE = st.sampled_from([2**63, 2**64 - 1, -(2**63) - 1, 1e308, -1e308, 10**30, 1.5, -1, 0])
WRONG_ENUM = st.sampled_from(["", "fastest", "HIGH", "json", "function ", "\u0000", "x" * 300])


def deep(depth: int, leaf: Any) -> Any:
    for _ in range(depth):
        leaf = [leaf] if depth % 2 else {"k": leaf}
    return leaf


NESTED = st.builds(deep, st.sampled_from([100, 126, 127, 128, 200, 253, 254, 255, 300, 600]), JSON)
VALUE = st.one_of(JSON, HUGE, WRONG_ENUM, NESTED)

CHAT_FIELDS = ["model", "models", "messages", "stream", "temperature", "top_p", "top_k", "max_tokens",
               "max_completion_tokens", "n", "seed", "stop", "tools", "tool_choice", "response_format",
               "reasoning", "reasoning_effort", "route", "provider", "user", "session_id", "metadata",
               "logit_bias", "logprobs", "top_logprobs", "usage", "transforms", "plugins", "prediction",
               "stream_options", "parallel_tool_calls", "include_reasoning", "verbosity", "service_tier",
               "modalities", "cache_control", "prompt", "frequency_penalty", "repetition_penalty", "x_extra"]
EMBED_FIELDS = ["model", "input", "encoding_format", "dimensions", "user", "provider", "input_type", "models"]
COMPLETION_FIELDS = ["model", "prompt", "logprobs", "best_of", "echo", "suffix", "max_tokens", "stream", "user"]

TOOL = {"type": "function", "function": {"name": "get_weather", "description": "Weather",
                                         "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}}


def chat_body(model: str) -> dict[str, Any]:
    return {"model": model, "max_tokens": 64, "temperature": 0.5, "tools": [TOOL], "tool_choice": "auto",
            "reasoning": {"effort": "low"}, "provider": {"sort": "price"}, "stop": ["\n\n"],
            "response_format": {"type": "json_schema", "json_schema": {"name": "r", "schema": {"type": "object"}}},
            "messages": [{"role": "system", "content": "Be brief."},
                         {"role": "user", "content": [{"type": "text", "text": "Hi"},
                                                      {"type": "image_url", "image_url": {"url": "https://x/y.png"}}]},
                         {"role": "assistant", "content": None, "tool_calls": [
                             {"id": "c1", "type": "function", "function": {"name": "get_weather",
                                                                           "arguments": "{\"city\": \"Paris\"}"}}]},
                         {"role": "tool", "tool_call_id": "c1", "content": "sunny"}]}


def paths(value: Any, prefix: tuple = ()) -> list[tuple]:
    """Every place in a body a mutation can hit."""
    found = [prefix] if prefix else []
    if isinstance(value, dict):
        for key, member in value.items():
            found += paths(member, (*prefix, key))
    elif isinstance(value, list):
        for i, member in enumerate(value):
            found += paths(member, (*prefix, i))
    return found


def mutate(body: dict[str, Any], path: tuple, value: Any) -> dict[str, Any]:
    body = json.loads(json.dumps(body))
    target = body
    for part in path[:-1]:
        target = target[part]
    target[path[-1]] = value
    return body


@st.composite
def mutated(draw: Any, base: dict[str, Any], fields: list[str]) -> dict[str, Any]:
    body = base
    for _ in range(draw(st.integers(1, 3))):
        if draw(st.booleans()):
            body = mutate(body, (draw(st.sampled_from(fields)),), draw(VALUE))
        else:
            body = mutate(body, draw(st.sampled_from(paths(body))), draw(VALUE))
    return body


class Poster:
    """One keep-alive connection to the gateway."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.connection = http.client.HTTPConnection("127.0.0.1", port, timeout=20)

    def post(self, path: str, body: dict[str, Any]) -> tuple[int, bytes]:
        data = _dumps(body)
        try:
            self.connection.request("POST", path, data, {"authorization": f"Bearer {TEST_KEY}",
                                                         "content-type": "application/json"})
            response = self.connection.getresponse()
        except (http.client.HTTPException, ConnectionError):
            self.connection.close()
            self.connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=20)
            raise
        return response.status, response.read()


def _dumps(value: Any) -> bytes:
    """JSON past Python's recursion limit for json.dumps: nested values are written iteratively."""
    import sys

    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(max(limit, 10000))
    try:
        return json.dumps(value).encode()
    finally:
        sys.setrecursionlimit(limit)


@pytest.mark.parametrize(("path", "fields", "base"), [
    ("/api/v1/chat/completions", CHAT_FIELDS, chat_body("test/gpt")),
    ("/api/v1/chat/completions", CHAT_FIELDS, chat_body("test/claude")),
    ("/api/v1/chat/completions", CHAT_FIELDS, {**chat_body("test/gemini"), "stream": True}),
    ("/api/v1/completions", COMPLETION_FIELDS, {"model": "test/gpt", "prompt": "Say hi", "max_tokens": 8}),
    ("/api/v1/embeddings", EMBED_FIELDS, {"model": "test/embed", "input": ["a", "b"], "dimensions": 3}),
], ids=["chat-openai", "chat-anthropic", "chat-gemini-stream", "completions", "embeddings"])
def test_mutated_bodies_get_no_5xx(fuzz_gateway, path, fields, base):
    poster = Poster(fuzz_gateway.port)
    status, body = poster.post(path, base)
    assert status == 200, body  # the unmutated body is served

    @given(mutated(base, fields))
    @settings(FUZZ_SETTINGS, max_examples=MUTATION_EXAMPLES)
    def check(body: dict[str, Any]) -> None:
        status, answer = poster.post(path, body)
        assert_no_5xx(status, answer, json.dumps(body)[:300])

    check()
