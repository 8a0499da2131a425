"""Model names through every API: aliases and globs, the default model, bare and `openrouter/` ids,
`GET /models` listing the aliases, and the 400s, with the real SDKs against the upstream stand-in."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import anthropic
import openai
import pytest
from openrouter import OpenRouter

from ..conftest import TEST_KEY, Gateway
from ..upstream import Reply, Upstream
from .conftest import CHAT, USER, call, post, sdk

OK = Reply.file("openai/chat_text.response.json")
ALIASES = {"mini": "test/gpt", "gpt-4o-mini": "test/gpt", "cheap/*": "test/fallback", "fast": "rt/trio:floor",
           "claude-*": "test/gpt", "webby": "test/gpt:online"}


@pytest.fixture
def named(make_routed: Callable[..., Gateway], upstream: Upstream) -> Gateway:
    for path in ("/v1", "/backup/v1", "/third/v1"):
        upstream.always(path + CHAT, OK)
    return make_routed(aliases=ALIASES, default_model="mini")


def upstream_models(upstream: Upstream) -> list[str]:
    return [r.json["model"] for r in upstream.received if r.path.endswith(CHAT)]


def test_chat_aliases_globs_default_bare_and_prefixed_ids(named: Gateway, upstream: Upstream) -> None:
    client = sdk(named)
    served = {name: client.chat.completions.create(model=name, messages=USER).model
              for name in ("mini", "cheap/anything", "fast", "gpt-4o-mini", "openrouter/test/gpt",
                           "openrouter/rt/trio")}
    assert served == {"mini": "test/gpt", "cheap/anything": "test/fallback", "fast": "rt/trio",
                      "gpt-4o-mini": "test/gpt", "openrouter/test/gpt": "test/gpt", "openrouter/rt/trio": "rt/trio"}
    assert post(named, {"messages": USER}).json()["model"] == "test/gpt"  # no model: the default
    trio = post(named, {"model": "trio", "messages": USER})  # a bare id only rt/ has
    assert trio.status_code == 200 and trio.json()["model"] == "rt/trio"
    legacy = call(named, "POST", "/api/v1/completions", {"prompt": "Say hi"})
    assert legacy.status_code == 200 and legacy.json()["model"] == "test/gpt"
    # `fast` is rt/trio:floor: the cheapest endpoint, every time
    assert upstream_models(upstream)[2] == "up-model"


def test_messages_and_responses_use_the_aliases_and_the_default(named: Gateway, upstream: Upstream) -> None:
    claude = anthropic.Anthropic(base_url=named.url, api_key=TEST_KEY, max_retries=0, timeout=20)
    message = claude.messages.create(model="mini", max_tokens=50, messages=[{"role": "user", "content": "hi"}])
    assert message.model == "test/gpt"
    # top-level globs reach Claude model names too
    assert claude.messages.create(model="claude-sonnet-4-5", max_tokens=50,
                                  messages=[{"role": "user", "content": "hi"}]).model == "test/gpt"
    bare = call(named, "POST", "/v1/messages", {"max_tokens": 50, "messages": [{"role": "user", "content": "hi"}]})
    assert bare.status_code == 200 and bare.json()["model"] == "test/gpt"
    responses = openai.OpenAI(base_url=f"{named.url}/v1", api_key=TEST_KEY, max_retries=0, timeout=20)
    assert responses.responses.create(model="cheap/x", input="hi", store=False).model == "test/fallback"
    no_model = call(named, "POST", "/v1/responses", {"input": "hi", "store": False})
    assert no_model.status_code == 200 and no_model.json()["model"] == "test/gpt"
    assert upstream_models(upstream)[0] == "gpt-4o-mini"


def test_messages_model_aliases_win_over_the_top_level_ones(make_routed: Callable[..., Gateway],
                                                            upstream: Upstream) -> None:
    upstream.always("/v1" + CHAT, OK)
    upstream.always("/backup/v1" + CHAT, OK)
    gateway = make_routed(aliases={"claude-*": "test/gpt", "test/*": "rt/trio"},
                          messages={"model_aliases": {"claude-haiku-*": "test/fallback"}})
    claude = anthropic.Anthropic(base_url=gateway.url, api_key=TEST_KEY, max_retries=0, timeout=20)
    ask = {"max_tokens": 50, "messages": [{"role": "user", "content": "hi"}]}
    assert claude.messages.create(model="claude-haiku-4-5", **ask).model == "test/fallback"
    assert claude.messages.create(model="claude-opus-4-1", **ask).model == "test/gpt"


def test_models_lists_the_aliases_for_every_sdk(named: Gateway) -> None:
    listed = {m["id"]: m for m in call(named, "GET", "/api/v1/models").json()["data"]}
    assert listed["mini"]["alias_target"] == {"slug": "test/gpt", "name": "Test GPT"}
    assert listed["mini"]["pricing"] == listed["test/gpt"]["pricing"]
    assert listed["fast"]["alias_target"] == {"slug": "rt/trio:floor", "name": "Trio"}
    assert "cheap/*" not in listed and "claude-*" not in listed
    openrouter = OpenRouter(api_key=TEST_KEY, server_url=f"{named.url}/api/v1")
    ids = [m.id for m in openrouter.models.list().result.data]
    assert {"mini", "gpt-4o-mini", "fast", "test/gpt"} <= set(ids)
    assert openrouter.models.count().data.count == len(ids)
    assert "mini" in [m.id for m in sdk(named).models.list()]
    assert call(named, "GET", "/api/v1/models/cheap/thing").json()["id"] == "test/fallback"


@pytest.mark.parametrize(("body", "message", "metadata"), [
    ({"model": "test/gpt:bogus"}, "test/gpt:bogus: unknown model variant ':bogus'", {"variant": "bogus"}),
    ({"model": "no/such"}, "no/such is not a valid model ID", {"model": "no/such"}),
    ({"model": "test/gpt:online"}, "model: web search is not configured", {"param": "model"}),
    ({"model": "webby"}, "model: web search is not configured", {"param": "model"}),  # the plugin sees the alias's :online
])
def test_bad_names_are_400s(named: Gateway, upstream: Upstream, body: dict[str, Any], message: str,
                            metadata: dict[str, Any]) -> None:
    answer = post(named, {**body, "messages": USER})
    assert answer.status_code == 400, answer.text
    error = answer.json()["error"]
    assert error["message"].startswith(message)
    assert metadata.items() <= error["metadata"].items()
    assert upstream_models(upstream) == []


def test_an_ambiguous_bare_id_lists_the_candidates(make_gateway: Callable[..., Gateway]) -> None:
    gateway = make_gateway(models=[{"id": "a/same", "endpoints": [{"provider": "up", "model": "x"}]},
                                  {"id": "b/same", "endpoints": [{"provider": "up", "model": "y"}]}])
    error = post(gateway, {"model": "same", "messages": USER}).json()["error"]
    assert error["code"] == 400 and error["metadata"]["candidates"] == ["a/same", "b/same"]


def test_without_a_default_model_a_missing_model_is_a_400_on_every_api(routed: Gateway) -> None:
    chat = post(routed, {"messages": USER})
    assert chat.status_code == 400 and chat.json()["error"]["metadata"]["param"] == "model"
    messages = call(routed, "POST", "/v1/messages", {"max_tokens": 5, "messages": [{"role": "user", "content": "x"}]})
    assert messages.status_code == 400 and messages.json()["error"]["message"].startswith("model: required")
    responses = call(routed, "POST", "/v1/responses", {"input": "x"})
    assert responses.status_code == 400 and "default_model" in responses.json()["error"]["message"]
