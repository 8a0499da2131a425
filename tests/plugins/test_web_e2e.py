"""The web plugin and the `:online` variant end to end: the gateway searches Exa (a loopback stand-in
replaying Exa's documented answer), gives the model the results, annotates the answer with
url_citation annotations and bills the search."""

from __future__ import annotations

import datetime as dt
import json

import httpx
import openai
import pytest

from ..conftest import TEST_KEY
from ..upstream import Reply
from .support import CHAT, EXA_TITLE, EXA_URL, SEARCH, answer, search_config, sse_chunks, streamed

CITED = f"Large language models keep improving, as [arxiv.org]({EXA_URL}) surveys."
TOKENS_NANOS = 14 * 150 + 37 * 600  # the recorded answer's usage at the test price
SEARCH_NANOS = 4_000_000  # one result at the default $0.004 a result


@pytest.fixture
def online(make_gateway, upstream):
    return make_gateway(search=search_config(upstream))


@pytest.fixture
def client(online):
    return openai.OpenAI(base_url=f"{online.url}/api/v1", api_key=TEST_KEY, max_retries=0, timeout=20)


def post(gateway, body, stream=False):
    with httpx.Client(timeout=20) as http:
        return http.post(f"{gateway.url}/api/v1/chat/completions", json={**body, "stream": stream},
                         headers={"authorization": f"Bearer {TEST_KEY}"})


def test_web_plugin_searches_injects_results_and_annotates(online, upstream, client):
    upstream.queue(SEARCH, Reply.file("exa/search.response.json"))
    upstream.queue(CHAT, answer(CITED))
    response = client.chat.completions.create(
        model="test/gpt", messages=[{"role": "system", "content": "Be brief."},
                                    {"role": "user", "content": "What is new in LLM research?"}],
        extra_body={"plugins": [{"id": "web", "max_results": 3}]})

    search = upstream.hits(SEARCH)[-1]
    assert search.headers["x-api-key"] == "exa-test-key"
    assert search.json == {"query": "What is new in LLM research?", "type": "auto", "numResults": 3,
                           "contents": {"highlights": {"maxCharacters": 4000}}}
    messages = upstream.hits(CHAT)[-1].json["messages"]
    assert [m["role"] for m in messages] == ["system", "system", "user"]
    injected = messages[1]["content"]
    today = dt.datetime.now(dt.UTC).date()
    assert injected.startswith(f"A web search was conducted on {today:%B} {today.day}, {today.year}. "
                               "Incorporate the following web search results into your response.")
    assert f"[1] {EXA_TITLE}\nURL: {EXA_URL}\nPublished: 2023-11-16\nSuch requirements have limited" in injected

    message = response.choices[0].message
    assert message.content == CITED
    start = CITED.index("[arxiv.org]")
    assert [a.model_dump() for a in message.annotations] == [{"type": "url_citation", "url_citation": {
        "url": EXA_URL, "title": EXA_TITLE, "start_index": start, "end_index": start + len(f"[arxiv.org]({EXA_URL})"),
        "content": "Such requirements have limited their adoption..."}}]
    assert response.usage.cost == pytest.approx((TOKENS_NANOS + SEARCH_NANOS) / 1e9, abs=1e-12)
    row = online.ledger()[-1]
    assert row["cost_nanos"] == TOKENS_NANOS + SEARCH_NANOS
    generation = httpx.get(f"{online.url}/api/v1/generation", params={"id": response.id},
                           headers={"authorization": f"Bearer {TEST_KEY}"}).json()["data"]
    assert generation["total_cost"] == pytest.approx((TOKENS_NANOS + SEARCH_NANOS) / 1e9, abs=1e-12)


def test_online_variant_is_the_web_plugin(online, upstream, client):
    upstream.queue(SEARCH, Reply.file("exa/search.response.json"))
    upstream.queue(CHAT, answer("Nothing cited."))
    response = client.chat.completions.create(
        model="test/gpt:online", messages=[{"role": "user", "content": [{"type": "text", "text": "LLM news?"}]}])
    assert upstream.hits(SEARCH)[-1].json["numResults"] == 5  # the documented default
    assert upstream.hits(CHAT)[-1].json["messages"][0]["role"] == "system"
    notes = response.choices[0].message.annotations
    assert [(n.url_citation.url, n.url_citation.start_index, n.url_citation.end_index) for n in notes] == [(EXA_URL, 0, 0)]
    assert online.ledger()[-1]["cost_nanos"] == TOKENS_NANOS + SEARCH_NANOS


def test_search_price_is_configurable(make_gateway, upstream):
    gateway = make_gateway(search=search_config(upstream, pricing={"result": "0", "request": "0.007"}))
    upstream.queue(SEARCH, Reply.file("exa/search.response.json"))
    upstream.queue(CHAT, answer("ok"))
    post(gateway, {"model": "test/gpt:online", "messages": [{"role": "user", "content": "hi"}]}).raise_for_status()
    assert gateway.ledger()[-1]["cost_nanos"] == TOKENS_NANOS + 7_000_000


def test_streamed_answer_gets_annotations_on_a_delta(online, upstream, client):
    upstream.queue(SEARCH, Reply.file("exa/search.response.json"))
    pieces = ["Large language models keep improving, as ", f"[arxiv.org]({EXA_URL})", " surveys."]
    upstream.queue(CHAT, streamed(*pieces))
    stream = client.chat.completions.create(model="test/gpt", stream=True,
                                            messages=[{"role": "user", "content": "LLM news?"}],
                                            extra_body={"plugins": [{"id": "web"}]})
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "".join(pieces)
    noted = [c for c in chunks if c.choices and getattr(c.choices[0].delta, "annotations", None)]
    assert len(noted) == 1
    (note,) = noted[0].choices[0].delta.annotations
    start = text.index("[arxiv.org]")
    assert note["url_citation"]["url"] == EXA_URL
    assert (note["url_citation"]["start_index"], note["url_citation"]["end_index"]) == (
        start, start + len(f"[arxiv.org]({EXA_URL})"))
    finishing = next(i for i, c in enumerate(chunks) if c.choices and c.choices[0].finish_reason)
    assert chunks.index(noted[0]) == finishing - 1  # just before the finishing chunk
    assert chunks[-1].usage.cost == pytest.approx(online.ledger()[-1]["cost_nanos"] / 1e9, abs=1e-12)
    assert online.ledger()[-1]["cost_nanos"] > SEARCH_NANOS


def test_without_search_section_web_and_online_are_refused(make_gateway, upstream):
    gateway = make_gateway()
    for body, named in (({"model": "test/gpt", "plugins": [{"id": "web"}]}, "plugins[0]"),
                        ({"model": "test/gpt:online"}, "model")):
        for stream in (False, True):
            response = post(gateway, {**body, "messages": [{"role": "user", "content": "hi"}]}, stream)
            assert response.status_code == 400
            error = response.json()["error"]
            assert error["message"] == f"{named}: web search is not configured on this gateway (no `search:` section)"
    assert upstream.hits(CHAT) == []
    assert {r["status"] for r in gateway.ledger()} == {"refused"}


def test_disabled_web_plugin_does_not_search(online, upstream):
    upstream.queue(CHAT, answer("ok"))
    response = post(online, {"model": "test/gpt:online", "messages": [{"role": "user", "content": "hi"}],
                             "plugins": [{"id": "web", "enabled": False}]})
    assert response.status_code == 200
    assert upstream.hits(SEARCH) == []
    assert "annotations" not in response.json()["choices"][0]["message"]


def test_failed_search_is_a_502_and_nothing_is_sent(online, upstream):
    upstream.queue(SEARCH, Reply.json({"error": "Invalid API key"}, status=401))
    response = post(online, {"model": "test/gpt:online", "messages": [{"role": "user", "content": "hi"}]})
    assert response.status_code == 502
    assert response.json()["error"]["message"] == "web search failed: the search API answered 401"
    assert upstream.hits(CHAT) == []


def test_raw_stream_chunks_carry_annotations(online, upstream):
    upstream.queue(SEARCH, Reply.file("exa/search.response.json"))
    upstream.queue(CHAT, streamed("see ", EXA_URL))
    response = post(online, {"model": "test/gpt:online", "messages": [{"role": "user", "content": "hi"}]}, True)
    chunks = sse_chunks(response.content)
    notes = [c["choices"][0]["delta"]["annotations"] for c in chunks
             if c["choices"] and "annotations" in c["choices"][0]["delta"]]
    assert notes == [[{"type": "url_citation", "url_citation": {
        "url": EXA_URL, "title": EXA_TITLE, "content": "Such requirements have limited their adoption...",
        "start_index": 4, "end_index": 4 + len(EXA_URL)}}]]
    assert json.loads(json.dumps(chunks[-1]))["usage"]["cost"] > 0


def test_online_on_the_responses_and_messages_surfaces(online, upstream):
    """Those APIs carry no `plugins`, but a `:online` model searches there too: the Responses API shows
    the citations as output_text annotations; the Messages API answers with the searched text (its
    citation blocks need Anthropic's own encrypted indexes, so none are made up)."""
    import anthropic

    upstream.queue(SEARCH, Reply.file("exa/search.response.json"), Reply.file("exa/search.response.json"))
    upstream.queue(CHAT, answer(CITED), answer(CITED))
    responses = openai.OpenAI(base_url=f"{online.url}/api/v1", api_key=TEST_KEY, max_retries=0)
    result = responses.responses.create(model="test/gpt:online", input="What is new in LLM research?")
    (note,) = result.output[0].content[0].annotations
    assert (note.type, note.url, note.title) == ("url_citation", EXA_URL, EXA_TITLE)
    assert upstream.hits(CHAT)[-1].json["messages"][0]["content"].startswith("A web search was conducted on")

    messages = anthropic.Anthropic(base_url=f"{online.url}/api", api_key=TEST_KEY, max_retries=0)
    reply = messages.messages.create(model="test/gpt:online", max_tokens=100,
                                     messages=[{"role": "user", "content": "What is new in LLM research?"}])
    assert reply.content[0].text == CITED
    assert upstream.hits(SEARCH)[-1].json["query"] == "What is new in LLM research?"
    assert [m["role"] for m in upstream.hits(CHAT)[-1].json["messages"]] == ["system", "user"]
    assert [r["cost_nanos"] >= SEARCH_NANOS for r in online.ledger()[-2:]] == [True, True]


def test_responses_body_plugins_are_honoured_or_refused(online, upstream):
    upstream.queue(SEARCH, Reply.file("exa/search.response.json"))
    upstream.queue(CHAT, answer(CITED))
    with httpx.Client(timeout=20) as http:
        url, auth = f"{online.url}/api/v1/responses", {"authorization": f"Bearer {TEST_KEY}"}
        ok = http.post(url, headers=auth, json={"model": "test/gpt", "input": "LLM news?",
                                                "plugins": [{"id": "web", "max_results": 1}]})
        refused = http.post(url, headers=auth, json={"model": "test/gpt", "input": "hi", "plugins": [{"id": "fusion"}]})
    assert upstream.hits(SEARCH)[-1].json["numResults"] == 1
    assert ok.json()["output"][0]["content"][0]["annotations"][0]["url"] == EXA_URL
    assert refused.status_code == 400
    assert refused.json()["error"]["message"].startswith("plugins[0].id: the 'fusion' plugin is not supported")


def test_search_counts_against_the_keys_limit(make_gateway, upstream):
    key = "sk-sp-v1-limited-key-0123456789abcdef"
    gateway = make_gateway(search=search_config(upstream), keys=[{"name": "capped", "key": key, "limit": 0.01}])
    upstream.queue(SEARCH, Reply.file("exa/search.response.json"))
    upstream.queue(CHAT, answer(CITED))
    with httpx.Client(timeout=20) as http:
        auth = {"authorization": f"Bearer {key}"}
        ok = http.post(f"{gateway.url}/api/v1/chat/completions", headers=auth, json={
            "model": "test/gpt:online", "max_tokens": 100, "messages": [{"role": "user", "content": "hi"}]})
        assert ok.status_code == 200
        gateway.flush()
        usage = http.get(f"{gateway.url}/api/v1/key", headers=auth).json()["data"]["usage"]
    assert usage == pytest.approx((TOKENS_NANOS + SEARCH_NANOS) / 1e9, abs=1e-12)


def test_a_limit_that_cannot_cover_the_search_is_a_402(make_gateway, upstream):
    key = "sk-sp-v1-limited-key-0123456789abcdef"
    gateway = make_gateway(search=search_config(upstream), keys=[{"name": "capped", "key": key, "limit": 0.004}])
    upstream.queue(SEARCH, Reply.file("exa/search.response.json"))
    with httpx.Client(timeout=20) as http:
        refused = http.post(f"{gateway.url}/api/v1/chat/completions", headers={"authorization": f"Bearer {key}"},
                            json={"model": "test/gpt:online", "max_tokens": 100,
                                  "messages": [{"role": "user", "content": "hi"}]})
    assert refused.status_code == 402  # $0.004 covers the tokens alone, not the tokens and the search
    assert upstream.hits(CHAT) == []
