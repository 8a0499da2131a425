"""Native formats read whole: Anthropic server tools and citations, Ollama's final message without
done_reason, every Gemini finish and block reason, and Gemini function calls streamed in pieces."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from switchpoint.providers.anthropic import AnthropicProvider
from switchpoint.providers.base import Connection, Target
from switchpoint.providers.gemini import GeminiProvider
from switchpoint.providers.ollama import OllamaProvider
from switchpoint.types import ChatRequest

from .provider_support import assemble, fixture_bytes, replay

ANTHROPIC = AnthropicProvider(Connection(name="anthropic", type="anthropic", base_url="https://a.test", api_key="k"))
GEMINI = GeminiProvider(Connection(name="gemini", type="gemini", base_url="https://g.test", api_key="k"))
OLLAMA = OllamaProvider(Connection(name="local", type="ollama", base_url="http://127.0.0.1:11434"))
REQUEST = ChatRequest(model="m", messages=[], stream=True)


def streamed(provider: Any, data: bytes, step: int | None = None) -> list[Any]:
    return replay(provider.stream_parser(REQUEST, Target("m")), data, step)


# -- Anthropic server tools ------------------------------------------------------------------------

def test_web_search_stream_sends_no_tool_call_and_cites_the_result(step: int | None) -> None:
    deltas = streamed(ANTHROPIC, fixture_bytes("anthropic/stream_web_search.sse"), step)
    out = assemble(deltas)
    assert out.tool_calls == {}
    assert not any(d.tool_calls for d in deltas)
    assert out.content == "Error-corrected logical qubits were demonstrated in 2025."
    assert out.finish == [("stop", "end_turn")]
    assert [a for extra in out.extras for a in extra.get("annotations", ())] == [{
        "type": "url_citation", "url_citation": {
            "url": "https://example.com", "title": "Quantum Computing Breakthroughs in 2025", "start_index": 0,
            "end_index": len(out.content), "content": "Researchers demonstrated error-corrected logical qubits..."}}]


def test_web_fetch_and_code_execution_stream(step: int | None) -> None:
    deltas = streamed(ANTHROPIC, fixture_bytes("anthropic/stream_web_fetch_code_execution.sse"), step)
    out = assemble(deltas)
    assert out.tool_calls == {}
    assert out.content == "Based on the article, it is short"
    start = len("Based on the article, ")
    assert [a for extra in out.extras for a in extra.get("annotations", ())] == [{
        "type": "url_citation", "url_citation": {"url": "https://example.com/article", "title": "Article Title",
                                                 "start_index": start, "end_index": len(out.content),
                                                 "content": "Article content..."}}]


def test_client_tool_calls_still_stream_next_to_server_tools() -> None:
    events = [
        {"type": "message_start", "message": {"id": "msg_1", "model": "claude", "usage": {"input_tokens": 5}}},
        {"type": "content_block_start", "index": 0, "content_block": {"type": "server_tool_use", "id": "srvtoolu_1",
                                                                      "name": "web_search", "input": {}}},
        {"type": "content_block_delta", "index": 0, "delta": {"type": "input_json_delta", "partial_json": '{"q":1}'}},
        {"type": "content_block_stop", "index": 0},
        {"type": "content_block_start", "index": 1, "content_block": {"type": "mcp_tool_use", "id": "mcptoolu_1",
                                                                      "name": "echo", "server_name": "s", "input": {}}},
        {"type": "content_block_stop", "index": 1},
        {"type": "content_block_start", "index": 2, "content_block": {"type": "tool_use", "id": "toolu_1",
                                                                      "name": "get_weather", "input": {}}},
        {"type": "content_block_delta", "index": 2, "delta": {"type": "input_json_delta",
                                                              "partial_json": '{"city": "Paris"}'}},
        {"type": "content_block_stop", "index": 2},
        {"type": "message_delta", "delta": {"stop_reason": "tool_use"}, "usage": {"output_tokens": 9}},
        {"type": "message_stop"},
    ]
    data = b"".join(b"event: " + e["type"].encode() + b"\ndata: " + orjson.dumps(e) + b"\n\n" for e in events)
    out = assemble(streamed(ANTHROPIC, data))
    assert out.tool_calls == {0: {"id": "toolu_1", "name": "get_weather", "arguments": '{"city": "Paris"}',
                                  "extra": None}}


def test_web_search_response_has_annotations_and_no_tool_calls() -> None:
    [choice] = ANTHROPIC.parse_chat(fixture_bytes("anthropic/messages_web_search.response.json")).choices
    assert choice.tool_calls == []
    assert choice.content == ("I'll search for when Claude Shannon was born.Based on the search results, "
                              "Claude Shannon was born on April 30, 1916, in Petoskey, Michigan")
    [annotation] = choice.extra["annotations"]
    cited = "Claude Shannon was born on April 30, 1916, in Petoskey, Michigan"
    span = annotation["url_citation"]
    assert choice.content[span["start_index"]:span["end_index"]] == cited
    assert (span["url"], span["title"]) == ("https://en.wikipedia.org/wiki/Claude_Shannon", "Claude Shannon - Wikipedia")
    assert span["content"].startswith("Claude Elwood Shannon (April 30, 1916")


def test_web_fetch_response_cites_the_fetched_page() -> None:
    [choice] = ANTHROPIC.parse_chat(fixture_bytes("anthropic/messages_web_fetch.response.json")).choices
    [annotation] = choice.extra["annotations"]
    span = annotation["url_citation"]
    assert (span["url"], span["title"]) == ("https://example.com/article", "Article Title")
    assert choice.content[span["start_index"]:span["end_index"]] == \
        "the main argument presented is that artificial intelligence will transform healthcare"


def test_citations_of_client_documents_carry_no_url() -> None:
    body = {"id": "m", "content": [{"type": "text", "text": "green", "citations": [
        {"type": "char_location", "cited_text": "The grass is green.", "document_index": 0,
         "document_title": "Example Document", "start_char_index": 0, "end_char_index": 20}]}],
        "stop_reason": "end_turn", "usage": {"input_tokens": 1, "output_tokens": 1}}
    [choice] = ANTHROPIC.parse_chat(orjson.dumps(body)).choices
    assert (choice.content, choice.extra) == ("green", None)


# -- Ollama ---------------------------------------------------------------------------------------

def test_ollama_final_message_without_done_reason_is_stop(step: int | None) -> None:
    out = assemble(streamed(OLLAMA, fixture_bytes("ollama/api_chat_stream_no_done_reason.ndjson"), step))
    assert (out.content, out.finish) == (". How cool is that?", [("stop", None)])


def test_ollama_without_done_reason_after_tool_calls_is_tool_calls() -> None:
    lines = fixture_bytes("ollama/api_chat_tool_call_stream.ndjson").replace(b',"done_reason":"stop"', b"")
    out = assemble(streamed(OLLAMA, lines))
    assert len(out.tool_calls) == 2 and out.finish == [("tool_calls", None)]
    final = orjson.loads(lines.splitlines()[-1])
    final["message"] = orjson.loads(lines.splitlines()[1])["message"]
    [choice] = OLLAMA.parse_chat(orjson.dumps(final)).choices
    assert (len(choice.tool_calls), choice.finish_reason) == (2, "tool_calls")
    plain = orjson.loads(fixture_bytes("ollama/api_chat_stream_no_done_reason.ndjson").splitlines()[-1])
    assert OLLAMA.parse_chat(orjson.dumps(plain)).choices[0].finish_reason == "stop"


# -- Gemini ----------------------------------------------------------------------------------------

FINISH_REASONS = {
    "STOP": "stop", "MAX_TOKENS": "length", "FINISH_REASON_UNSPECIFIED": "stop", "OTHER": "stop",
    "SAFETY": "content_filter", "RECITATION": "content_filter", "LANGUAGE": "content_filter",
    "BLOCKLIST": "content_filter", "PROHIBITED_CONTENT": "content_filter", "SPII": "content_filter",
    "IMAGE_SAFETY": "content_filter", "IMAGE_PROHIBITED_CONTENT": "content_filter",
    "IMAGE_RECITATION": "content_filter", "IMAGE_OTHER": "content_filter", "MODEL_ARMOR": "content_filter",
    "MALFORMED_FUNCTION_CALL": "error", "UNEXPECTED_TOOL_CALL": "error", "TOO_MANY_TOOL_CALLS": "error",
    "MISSING_THOUGHT_SIGNATURE": "error", "MALFORMED_RESPONSE": "error", "NO_IMAGE": "error",
    "SOME_FUTURE_SAFETY_REASON": "content_filter", "SOME_FUTURE_REASON": "stop",
}


@pytest.mark.parametrize(("native", "expected"), FINISH_REASONS.items())
def test_every_gemini_finish_reason(native: str, expected: str) -> None:
    body = {"candidates": [{"content": {"role": "model", "parts": [{"text": "x"}]}, "finishReason": native}]}
    [choice] = GEMINI.parse_chat(orjson.dumps(body)).choices
    assert (choice.finish_reason, choice.native_finish_reason) == (expected, native)
    out = assemble(streamed(GEMINI, b"data: " + orjson.dumps(body) + b"\r\n\r\n"))
    assert out.finish == [(expected, native)]


def test_malformed_function_call_is_an_error_finish() -> None:
    [choice] = GEMINI.parse_chat(fixture_bytes("gemini/generateContent_malformed_function_call.response.json")).choices
    assert (choice.finish_reason, choice.native_finish_reason) == ("error", "MALFORMED_FUNCTION_CALL")


@pytest.mark.parametrize("reason", ["SAFETY", "OTHER", "BLOCKLIST", "PROHIBITED_CONTENT", "IMAGE_SAFETY",
                                    "MODEL_ARMOR", "JAILBREAK", "BLOCK_REASON_UNSPECIFIED"])
def test_every_block_reason_is_content_filter(reason: str) -> None:
    body = orjson.loads(fixture_bytes("gemini/generateContent_prompt_blocked.response.json"))
    body["promptFeedback"]["blockReason"] = reason
    [choice] = GEMINI.parse_chat(orjson.dumps(body)).choices
    assert (choice.finish_reason, choice.native_finish_reason) == ("content_filter", reason)
    out = assemble(streamed(GEMINI, b"data: " + orjson.dumps(body) + b"\r\n\r\n"))
    assert out.finish == [("content_filter", reason)]


def test_streamed_function_call_pieces_become_one_whole_call(step: int | None) -> None:
    deltas = streamed(GEMINI, fixture_bytes("gemini/streamGenerateContent_partialArgs.sse"), step)
    out = assemble(deltas)
    [call] = out.tool_calls.values()
    assert call["name"] == "control_light" and call["id"].startswith("call_")
    assert orjson.loads(call["arguments"]) == {"location": "Boston, MA", "brightness": 50}
    assert call["extra"] == {"extra_content": {"google": {"thought_signature": "CiIBjz1rX0TxQ3BqVQ6Lw9yGf8n2aXcS1kz7m3Q0bQ7kVt8="}}}
    assert sum(len(d.tool_calls or ()) for d in deltas) == 1
    assert out.finish == [("tool_calls", "STOP")]


def test_partial_args_of_every_value_kind_and_nested_paths() -> None:
    def event(call: dict[str, Any], finish: str | None = None) -> bytes:
        candidate: dict[str, Any] = {"content": {"role": "model", "parts": [{"functionCall": call}]}, "index": 0}
        if finish:
            candidate["finishReason"] = finish
        return b"data: " + orjson.dumps({"candidates": [candidate]}) + b"\n\n"

    data = b"".join([
        event({"id": "fc_1", "name": "plan", "args": {"kept": "yes"}, "willContinue": True}),
        event({"partialArgs": [{"jsonPath": "$.recipe.ingredients[0].name", "stringValue": "San ", "willContinue": True}],
               "willContinue": True}),
        event({"partialArgs": [{"jsonPath": "$.recipe.ingredients[0].name", "stringValue": "Marzano"},
                               {"jsonPath": "$.recipe.quantity", "numberValue": 2},
                               {"jsonPath": "$['with space']", "boolValue": True},
                               {"jsonPath": "note", "nullValue": "NULL_VALUE"}], "willContinue": True}),
        event({"partialArgs": [{"jsonPath": "$.tags[1]", "stringValue": "b"}]}),  # last piece: no willContinue
        event({"name": "second", "args": {"whole": 1}}, "STOP"),
    ])
    out = assemble(streamed(GEMINI, data))
    first, second = out.tool_calls[0], out.tool_calls[1]
    assert (first["id"], first["name"]) == ("fc_1", "plan")
    assert orjson.loads(first["arguments"]) == {"kept": "yes", "recipe": {"ingredients": [{"name": "San Marzano"}],
                                                                          "quantity": 2},
                                                "with space": True, "note": None, "tags": [None, "b"]}
    assert (second["name"], orjson.loads(second["arguments"])) == ("second", {"whole": 1})


def test_a_call_left_open_at_the_finish_is_sent_whole() -> None:
    data = (b'data: {"candidates":[{"content":{"parts":[{"functionCall":{"name":"f","willContinue":true}}]}}]}\n\n'
            b'data: {"candidates":[{"content":{"parts":[{"functionCall":{"partialArgs":[{"jsonPath":"$.a",'
            b'"numberValue":1}],"willContinue":true}}]},"finishReason":"STOP"}]}\n\n')
    out = assemble(streamed(GEMINI, data))
    assert [(c["name"], orjson.loads(c["arguments"])) for c in out.tool_calls.values()] == [("f", {"a": 1})]
    assert out.finish == [("tool_calls", "STOP")]
