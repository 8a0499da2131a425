"""Table tests for the pure parts of the plugins: the plugins array, the web prompt and citations,
Exa's answer, the JSON repair and the stream edits."""

from __future__ import annotations

import datetime as dt

import pytest

from switchpoint.config.schema import SearchConfig
from switchpoint.errors import BadRequestError
from switchpoint.plugins import exa, healing, web
from switchpoint.plugins.run import StreamEdit
from switchpoint.plugins.spec import NONE, PluginSet, WebOptions, online_variant, parse_plugins
from switchpoint.types import Delta

from ..upstream import fixture


@pytest.mark.parametrize("entries, models, expected", [
    (None, ["a/b"], NONE),
    ([], ["a/b:online"], PluginSet(web=WebOptions(where="model"))),
    ([{"id": "web", "enabled": False}], ["a/b:online"], NONE),
    ([{"id": "web", "max_results": 2, "search_prompt": "Results:", "engine": "exa", "mode": "fast",
       "include_domains": ["arxiv.org"], "exclude_domains": ["reddit.com"]}], ["a/b"],
     PluginSet(web=WebOptions(2, "Results:", "exa", "fast", ("arxiv.org",), ("reddit.com",), "plugins[0]"))),
    ([{"id": "response-healing"}], ["a/b"], PluginSet(healing=True)),
    ([{"id": "response-healing", "enabled": False}], ["a/b"], NONE),
    ([{"id": "file-parser", "pdf": {"engine": "pdf-text"}}], ["a/b"],
     PluginSet(pdf_engine="pdf-text", file_parser="plugins[0].pdf.engine")),
    ([{"id": "file-parser", "pdf": {"engine": "cloudflare-ai"}}], ["a/b"],
     PluginSet(pdf_engine="cloudflare-ai", file_parser="plugins[0].pdf.engine")),
    ([{"id": "file-parser"}], ["a/b"], PluginSet(file_parser="plugins[0].pdf.engine")),
    ([{"id": "context-compression", "engine": "middle-out"}], ["a/b"], NONE),
])
def test_parse_plugins(entries, models, expected):
    assert parse_plugins(entries, models) == expected


@pytest.mark.parametrize("entries, field", [
    ([{"id": "fusion"}], "plugins[0].id"),
    ([{"id": "nope"}], "plugins[0].id"),
    ([{}], "plugins[0].id"),
    ([{"id": "web", "enabled": "yes"}], "plugins[0].enabled"),
    ([{"id": "web", "max_results": 0}], "plugins[0].max_results"),
    ([{"id": "web", "max_results": True}], "plugins[0].max_results"),
    ([{"id": "web", "engine": "parallel"}], "plugins[0].engine"),
    ([{"id": "web", "mode": "turbo"}], "plugins[0].mode"),
    ([{"id": "web", "include_domains": "arxiv.org"}], "plugins[0].include_domains"),
    ([{"id": "web", "search_prompt": 3}], "plugins[0].search_prompt"),
    ([{"id": "response-healing", "strict": True}], "plugins[0].strict"),
    ([{"id": "file-parser", "pdf": {"engine": "mistral-ocr"}}], "plugins[0].pdf.engine"),
    ([{"id": "file-parser", "pdf": {"engine": "ocr"}}], "plugins[0].pdf.engine"),
    ([{"id": "file-parser", "pdf": "pdf-text"}], "plugins[0].pdf"),
    ([{"id": "response-healing"}, {"id": "web", "x_search": {}}], "plugins[1].x_search"),
])
def test_refusals_name_the_field(entries, field):
    with pytest.raises(BadRequestError) as caught:
        parse_plugins(entries)
    assert caught.value.message.startswith(field + ": ")
    assert caught.value.metadata["param"] == field


@pytest.mark.parametrize("model, online", [("a/b:online", True), ("a/b:free:online", True), ("a/b", False),
                                           ("a/b:free", False), ("a/online", False)])
def test_online_variant(model, online):
    assert online_variant(model) is online


@pytest.mark.parametrize("answer, span", [
    ("see [arxiv.org](https://x.org/p) now", (4, 32)),
    ("see [arxiv.org](https://x.org/p/) now", (4, 33)),
    ("bare https://x.org/p here", (5, 20)),
    ("not cited", (0, 0)),
    ("", (0, 0)),
])
def test_cited_span(answer, span):
    assert web.cited_span(answer, "https://x.org/p") == span


def test_last_user_text_and_injection():
    messages = [{"role": "user", "content": "first"}, {"role": "assistant", "content": "ok"},
                {"role": "user", "content": [{"type": "image_url", "image_url": {"url": "u"}},
                                             {"type": "text", "text": " second "}]},
                {"role": "tool", "tool_call_id": "1", "content": "x"}]
    assert web.last_user_text(messages) == (2, "second")
    assert web.last_user_text([{"role": "system", "content": "s"}]) is None
    note = {"role": "system", "content": "results"}
    assert web.inject(messages, 2, note)[2] is note and len(messages) == 4


def test_default_prompt_names_the_date():
    assert web.search_prompt(None, dt.date(2026, 12, 4)).startswith("A web search was conducted on December 4, 2026.")
    assert web.search_prompt("Some relevant web results:", dt.date(2026, 12, 4)) == "Some relevant web results:"


def test_exa_request_and_documented_answer():
    config = SearchConfig(base_url="http://127.0.0.1:9/", api_key="k", max_characters=20)
    request = exa.search_request(config, "q", max_results=2, mode="deep", include_domains=("a.org",))
    assert request.url == "http://127.0.0.1:9/search" and request.headers["x-api-key"] == "k"
    assert request.body == (b'{"query":"q","type":"deep","numResults":2,"contents":{"highlights":'
                            b'{"maxCharacters":20}},"includeDomains":["a.org"]}')
    results = exa.parse_results(fixture("exa/search.response.json"), 5, 20)
    assert results == [exa.SearchResult("https://arxiv.org/pdf/2307.06435.pdf",
                                        "A Comprehensive Overview of Large Language Models",
                                        "Such requirements ha", "2023-11-16T01:36:32.547Z")]
    with pytest.raises(exa.SearchError):
        exa.parse_results(b'{"error": "bad"}', 5, 20)


@pytest.mark.parametrize("text, healed", [
    ('{"a": 1}', '{"a": 1}'),
    ('```json\n{"a": 1}\n```', '{"a": 1}'),
    ('{"a": [1, {"b": "x', '{"a": [1, {"b": "x"}]}'),
    ('{"a": 1} and more text', '{"a": 1}'),
    ("no json here", "no json here"),
])
def test_heal(text, healed):
    assert healing.heal(text) == healed


def test_stream_edit_holds_text_and_annotates_before_the_finish():
    results = [exa.SearchResult("https://x.org/p", "X", "excerpt")]
    edit = StreamEdit(results, healing=True)
    first = edit.batch([Delta(role="assistant", content=""), Delta(content='{"a": ')])
    assert [(d.role, d.content) for d in first] == [("assistant", "")]
    last = edit.batch([Delta(content="1,"), Delta(finish_reason="stop")])
    assert [d.content for d in last] == ['{"a": 1}', None, None]
    assert last[1].extra == {"annotations": [{"type": "url_citation", "url_citation": {
        "url": "https://x.org/p", "title": "X", "content": "excerpt", "start_index": 0, "end_index": 0}}]}
    assert last[2].finish_reason == "stop"
    assert edit.close() == []
