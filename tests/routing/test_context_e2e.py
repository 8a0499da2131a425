"""Context windows end to end, through the upstream stand-in with real SDKs as clients: endpoints that
cannot hold a request are skipped (404 naming context_length when none can), an upstream's recorded
"context length exceeded" fails over to a larger window or the next `models` entry (400 with the
provider's message when none is left), middle-out cuts prompts for small windows (off with
`transforms: []`) on every inbound API, and unknown transforms are a 400 naming the field."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import anthropic
import openai
import pytest

from ..conftest import TEST_KEY, Gateway, base_config
from ..upstream import Reply, Upstream
from .conftest import CHAT, PATHS, call, ep, generation, post, routing_providers, sdk, tried

OK = Reply.file("openai/chat_text.response.json")
BY_PRICE = {"provider": {"sort": "price"}}
CONTEXT_MODELS: list[dict[str, Any]] = [
    {"id": "ctx/two", "name": "Two windows",
     "endpoints": [ep("up", 1, context_length=16000), ep("backup", 2, context_length=200000)]},
    {"id": "ctx/three", "name": "Three windows",
     "endpoints": [ep("up", 1, context_length=32000), ep("backup", 2, context_length=32000),
                   ep("third", 3, context_length=128000)]},
    {"id": "ctx/one", "name": "One 32k", "endpoints": [ep("up", 1, context_length=32000)]},
    {"id": "ctx/same", "name": "Another 32k", "endpoints": [ep("backup", 1, context_length=32000)]},
    {"id": "ctx/big", "name": "A 128k", "endpoints": [ep("third", 1, context_length=128000)]},
    {"id": "ctx/tiny", "name": "A 4k", "endpoints": [ep("up", 1, context_length=4096)]},
]


@pytest.fixture
def gateway(make_gateway: Callable[..., Gateway], upstream: Upstream, tmp_path: Path) -> Gateway:
    shared = base_config(upstream, tmp_path)["models"]
    return make_gateway(providers=routing_providers(upstream), models=[*shared, *CONTEXT_MODELS])


def user(text: str) -> list[dict[str, Any]]:
    return [{"role": "user", "content": text}]


def conversation(turns: int, size: int = 600) -> list[dict[str, Any]]:
    """A system prompt and `turns` alternating turns of `size` bytes each (~size/3 tokens)."""
    out: list[dict[str, Any]] = [{"role": "system", "content": "You are terse."}]
    for i in range(turns):
        out.append({"role": "user" if i % 2 == 0 else "assistant", "content": f"turn {i} " + "x" * size})
    return out


def sent_messages(upstream: Upstream, path: str = PATHS["up"]) -> list[dict[str, Any]]:
    [received] = [r for r in upstream.received if r.path == path + CHAT]
    messages: list[dict[str, Any]] = received.json["messages"]
    return messages


# -- the window filter -------------------------------------------------------------------------------

def test_an_endpoint_whose_window_cannot_hold_prompt_plus_max_tokens_is_skipped(
        gateway: Gateway, upstream: Upstream) -> None:
    upstream.queue(PATHS["backup"] + CHAT, OK)
    completion = sdk(gateway).chat.completions.create(model="ctx/two", messages=user("x" * 30000), max_tokens=8000,
                                                      extra_body=BY_PRICE)
    assert completion.model_extra["provider"] == "backup"
    assert tried(upstream) == ["backup"]


def test_no_window_large_enough_is_a_404_naming_context_length(gateway: Gateway, upstream: Upstream) -> None:
    response = post(gateway, {"model": "ctx/two", "messages": user("x" * 900_000)})
    assert response.status_code == 404, response.text
    error = response.json()["error"]
    assert error["metadata"]["excluded_by"] == ["context_length"]
    assert error["metadata"]["requested_tokens"] > 200000
    assert "context window" in error["message"]
    assert tried(upstream) == []


# -- the upstream's own "context length exceeded" ----------------------------------------------------

def test_context_exceeded_fails_over_to_a_larger_window_skipping_equal_ones(gateway: Gateway,
                                                                           upstream: Upstream) -> None:
    upstream.queue(PATHS["up"] + CHAT, Reply.file("openai/error_400_context_length_exceeded.json", status=400))
    upstream.queue(PATHS["third"] + CHAT, OK)
    completion = sdk(gateway).chat.completions.create(model="ctx/three", messages=user("Say hi"),
                                                      extra_body=BY_PRICE)
    assert completion.model_extra["provider"] == "third"
    assert tried(upstream) == ["up", "third"]                     # backup's 32k is no larger: skipped
    attempts = generation(gateway, completion.id)["provider_responses"]
    assert [(a["provider"], a["status"], a["kind"]) for a in attempts] == [
        ("up", 400, "context_length"), ("third", 200, None)]


def test_a_stream_fails_over_on_context_exceeded_before_its_first_byte(gateway: Gateway, upstream: Upstream) -> None:
    upstream.queue(PATHS["up"] + CHAT, Reply.file("llamacpp/error_500_context_size_exceeded.json", status=500))
    upstream.queue(PATHS["third"] + CHAT, Reply.sse("openai/chat_stream_text_usage.sse"))
    chunks = list(sdk(gateway).chat.completions.create(model="ctx/three", messages=user("Say hi"), stream=True,
                                                       extra_body=BY_PRICE))
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert tried(upstream) == ["up", "third"]


def test_context_exceeded_fails_over_to_the_next_models_entry_with_a_larger_window(
        gateway: Gateway, upstream: Upstream) -> None:
    upstream.queue(PATHS["up"] + CHAT, Reply.file("vllm/error_400_max_context_length.json", status=400))
    upstream.queue(PATHS["third"] + CHAT, OK)
    completion = sdk(gateway).chat.completions.create(
        model="ctx/one", messages=user("Say hi"), extra_body={"models": ["ctx/same", "ctx/big"]})
    assert (completion.model, completion.model_extra["provider"]) == ("ctx/big", "third")
    assert tried(upstream) == ["up", "third"]


def test_with_no_larger_window_left_the_client_gets_a_400_with_the_providers_message(
        gateway: Gateway, upstream: Upstream) -> None:
    upstream.queue(PATHS["up"] + CHAT, Reply.file("llamacpp/error_400_exceed_context_size.json", status=400))
    upstream.queue(PATHS["third"] + CHAT, Reply.file("openai/error_400_context_length_exceeded.json", status=400))
    with pytest.raises(openai.BadRequestError) as info:
        sdk(gateway).chat.completions.create(model="ctx/three", messages=user("Say hi"), extra_body=BY_PRICE)
    error = info.value.body
    assert isinstance(error, dict)
    assert info.value.status_code == 400
    assert error["message"].startswith("This model's maximum context length is 8192 tokens.")
    assert error["metadata"]["error_type"] == "context_length_exceeded"
    assert error["metadata"]["provider_name"] == "third"
    assert tried(upstream) == ["up", "third"]


def test_when_a_larger_window_failed_otherwise_its_error_is_the_answer(gateway: Gateway,
                                                                     upstream: Upstream) -> None:
    upstream.queue(PATHS["up"] + CHAT, Reply.file("openai/error_400_context_length_exceeded.json", status=400))
    upstream.queue(PATHS["third"] + CHAT, Reply.file("openai/error_500_server_error.json", status=500))
    response = post(gateway, {"model": "ctx/three", "messages": user("Say hi"), **BY_PRICE})
    assert response.status_code == 502, response.text
    assert response.json()["error"]["metadata"]["provider_name"] == "third"
    assert tried(upstream) == ["up", "third"]


# -- middle-out -------------------------------------------------------------------------------------

def test_middle_out_cuts_the_middle_by_default_on_a_small_window(gateway: Gateway, upstream: Upstream) -> None:
    upstream.queue(PATHS["up"] + CHAT, OK)
    messages = conversation(40)  # ~8,000 tokens into a 4,096 window
    completion = sdk(gateway).chat.completions.create(model="ctx/tiny", messages=messages, max_tokens=256)
    assert completion.choices[0].message.content
    sent = sent_messages(upstream)
    assert 3 < len(sent) < len(messages)
    assert sent[0] == messages[0] and sent[1] == messages[1]      # the system prompt and the first turn
    assert sent[-1] == messages[-1]                               # the latest turn
    assert sum(len(m["content"]) for m in sent) <= 3 * (4096 - 256)


def test_transforms_off_sends_no_cut_prompt_and_the_window_filter_answers(gateway: Gateway,
                                                                          upstream: Upstream) -> None:
    response = post(gateway, {"model": "ctx/tiny", "messages": conversation(40), "max_tokens": 256,
                              "transforms": []})
    assert response.status_code == 404, response.text
    assert response.json()["error"]["metadata"]["excluded_by"] == ["context_length"]
    assert tried(upstream) == []


def test_the_context_compression_plugin_is_openrouters_newer_spelling(gateway: Gateway, upstream: Upstream) -> None:
    off = post(gateway, {"model": "ctx/tiny", "messages": conversation(40), "max_tokens": 256,
                         "plugins": [{"id": "context-compression", "enabled": False}]})
    assert off.status_code == 404, off.text
    upstream.queue(PATHS["up"] + CHAT, OK)
    on = post(gateway, {"model": "ctx/one", "messages": conversation(80, size=1500), "max_tokens": 1000,
                        "plugins": [{"id": "context-compression"}]})
    assert on.status_code == 200, on.text
    assert len(sent_messages(upstream)) < 81


def test_middle_out_asked_for_applies_to_a_large_window_too(gateway: Gateway, upstream: Upstream) -> None:
    upstream.queue(PATHS["up"] + CHAT, OK)
    messages = conversation(80, size=1500)  # ~40,000 tokens: more than the 32k window, less than twice it
    sdk(gateway).chat.completions.create(model="ctx/one", messages=messages, max_tokens=1000,
                                         extra_body={"transforms": ["middle-out"]})
    sent = sent_messages(upstream)
    assert len(sent) < len(messages) and sent[-1] == messages[-1]


def test_middle_out_applies_to_the_anthropic_messages_api(gateway: Gateway, upstream: Upstream) -> None:
    upstream.queue(PATHS["up"] + CHAT, OK)
    turns = [{"role": "user" if i % 2 == 0 else "assistant", "content": f"turn {i} " + "x" * 600}
             for i in range(41)]
    client = anthropic.Anthropic(base_url=gateway.url, api_key=TEST_KEY, max_retries=0, timeout=20)
    message = client.messages.create(model="ctx/tiny", max_tokens=256, system="You are terse.", messages=turns)
    assert message.content[0].type == "text"
    sent = sent_messages(upstream)
    assert len(sent) < len(turns) and sent[0]["role"] == "system"
    assert sent[-1]["content"] == turns[-1]["content"]


def test_middle_out_applies_to_the_responses_api(gateway: Gateway, upstream: Upstream) -> None:
    upstream.queue(PATHS["up"] + CHAT, OK)
    items = [{"role": "user" if i % 2 == 0 else "assistant", "content": f"turn {i} " + "x" * 600}
             for i in range(41)]
    client = openai.OpenAI(base_url=gateway.url + "/api/v1", api_key=TEST_KEY, max_retries=0, timeout=20)
    response = client.responses.create(model="ctx/tiny", input=items, instructions="You are terse.",  # type: ignore[arg-type]
                                       max_output_tokens=256)
    assert response.output_text
    sent = sent_messages(upstream)
    assert len(sent) < len(items) and sent[0]["role"] == "system"


# -- unknown transforms ------------------------------------------------------------------------------

@pytest.mark.parametrize(("path", "body"), [
    ("/api/v1/chat/completions", {"model": "ctx/tiny", "messages": user("hi"), "transforms": ["middle-out", "zip"]}),
    ("/api/v1/messages", {"model": "ctx/tiny", "max_tokens": 10, "messages": user("hi"),
                          "transforms": ["middle-out", "zip"]}),
    ("/api/v1/responses", {"model": "ctx/tiny", "input": "hi", "transforms": ["middle-out", "zip"]}),
])
def test_an_unknown_transform_is_a_400_naming_the_field(gateway: Gateway, upstream: Upstream, path: str,
                                                       body: dict[str, Any]) -> None:
    response = call(gateway, "POST", path, body)
    assert response.status_code == 400, response.text
    assert "transforms[1]" in response.text
    assert tried(upstream) == []
