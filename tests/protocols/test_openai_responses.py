"""The Responses translator on its own: request items -> canonical messages, Completion -> Response object,
Deltas -> the semantic stream events, and the provider's opaque reasoning carried both ways."""

from __future__ import annotations

import json
from typing import Any

import pytest

from switchpoint.errors import BadRequestError, SwitchpointError
from switchpoint.generation import new_record
from switchpoint.protocols.openai_responses import (
    ResponsesStreamRenderer,
    completion_response,
    opaque,
    parse_responses,
)
from switchpoint.types import Choice, Completion, Delta, ToolCall, ToolCallDelta, Usage

ANTHROPIC_DETAIL = {"type": "reasoning.text", "text": "Thinking.", "signature": "sig-1", "format": "anthropic-claude-v1",
                    "index": 0}
GEMINI_EXTRA = {"extra_content": {"google": {"thought_signature": "gsig"}}}


def parse(body: dict[str, Any], history: list[dict[str, Any]] | None = None) -> Any:
    return parse_responses({"model": "m", **body}, history or [], {})


def test_string_input_and_instructions() -> None:
    chat = parse({"input": "Hi", "instructions": "Be brief.", "max_output_tokens": 100, "temperature": 0.5,
                  "prompt_cache_key": "t-1", "user": "u", "store": False, "metadata": {"a": "b"}})
    assert chat.messages == [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}]
    assert chat.params == {"max_tokens": 100, "temperature": 0.5, "user": "u", "session_id": "t-1"}
    assert chat.native is not None and chat.native.format == "openai-responses"
    assert chat.native.body["input"] == [{"type": "message", "role": "user", "content": "Hi"}]


def test_items_become_chat_messages_with_one_assistant_turn_per_run() -> None:
    reasoning = {"type": "reasoning", "id": "rs_1", "summary": [{"type": "summary_text", "text": "Thinking."}],
                 "encrypted_content": opaque.encode([ANTHROPIC_DETAIL], {"call_1": GEMINI_EXTRA})}
    items = [
        {"role": "developer", "content": "Rules."},
        {"type": "message", "role": "user", "content": [
            {"type": "input_text", "text": "Look"}, {"type": "input_image", "image_url": "data:image/png;base64,AA",
                                                     "detail": "low"},
            {"type": "input_file", "filename": "a.pdf", "file_data": "data:application/pdf;base64,AA"}]},
        reasoning,
        {"type": "function_call", "call_id": "call_1", "name": "f", "arguments": '{"x":1}'},
        {"type": "custom_tool_call", "call_id": "call_2", "name": "apply_patch", "input": "*** Begin"},
        {"type": "function_call_output", "call_id": "call_1", "output": "one"},
        {"type": "custom_tool_call_output", "call_id": "call_2", "output": [{"type": "input_text", "text": "ok"}]},
        {"type": "web_search_call", "id": "ws_1", "status": "completed"},
        {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "Done."}]},
    ]
    chat = parse({"input": items})
    assert chat.messages == [
        {"role": "system", "content": "Rules."},
        {"role": "user", "content": [{"type": "text", "text": "Look"},
                                     {"type": "image_url", "image_url": {"url": "data:image/png;base64,AA",
                                                                         "detail": "low"}},
                                     {"type": "file", "file": {"file_data": "data:application/pdf;base64,AA",
                                                               "filename": "a.pdf"}}]},
        {"role": "assistant", "content": None, "reasoning_details": [ANTHROPIC_DETAIL], "reasoning": "Thinking.",
         "tool_calls": [{"id": "call_1", "type": "function", "function": {"name": "f", "arguments": '{"x":1}'},
                         **GEMINI_EXTRA},
                        {"id": "call_2", "type": "function",
                         "function": {"name": "apply_patch", "arguments": '{"input":"*** Begin"}'}}]},
        {"role": "tool", "tool_call_id": "call_1", "content": "one"},
        {"role": "tool", "tool_call_id": "call_2", "content": [{"type": "text", "text": "ok"}]},
        {"role": "assistant", "content": "Done."},
    ]


def test_history_comes_first_and_the_native_body_carries_it_without_the_id() -> None:
    history = [{"type": "message", "role": "user", "content": "One"},
               {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "1"}]}]
    chat = parse({"input": "Two", "previous_response_id": "resp_1"}, history)
    assert [m["content"] for m in chat.messages] == ["One", "1", "Two"]
    assert chat.native is not None and "previous_response_id" not in chat.native.body
    assert chat.native.body["input"][-1] == {"type": "message", "role": "user", "content": "Two"}


def test_tools_choice_and_text_format() -> None:
    chat = parse({"input": "x", "tools": [
        {"type": "function", "name": "f", "parameters": {"type": "object"}, "strict": True, "description": "d"},
        {"type": "custom", "name": "apply_patch", "description": "patch"},
        {"type": "namespace", "name": "ns", "tools": [{"type": "function", "name": "g"}]},
        {"type": "web_search"}],
        "tool_choice": {"type": "function", "name": "f"}, "parallel_tool_calls": False,
        "text": {"format": {"type": "json_schema", "name": "W", "schema": {"type": "object"}, "strict": True}},
        "reasoning": {"effort": "high", "summary": "auto"}})
    names = [t.get("function", {}).get("name") or t["type"] for t in chat.params["tools"]]
    assert names == ["f", "apply_patch", "g", "web_search"]  # the hosted tool kept at its place for a 400
    assert chat.params["tools"][0]["function"] == {"name": "f", "parameters": {"type": "object"}, "description": "d",
                                                   "strict": True}
    assert chat.params["tool_choice"] == {"type": "function", "function": {"name": "f"}}
    assert chat.params["parallel_tool_calls"] is False
    assert chat.params["response_format"] == {"type": "json_schema", "json_schema": {
        "name": "W", "schema": {"type": "object"}, "strict": True}}
    assert chat.reasoning == {"effort": "high"}


@pytest.mark.parametrize("body, param", [
    ({"input": 5}, "input"), ({"input": [{"type": "message", "role": "bot", "content": "x"}]}, "input[0].role"),
    ({"input": [{"type": "function_call", "name": "f"}]}, "input[0].call_id"),
    ({"input": [{"type": "item_reference", "id": "msg_1"}]}, "input[0]"),
    ({"input": "x", "max_output_tokens": 3}, "max_output_tokens"), ({"input": "x", "temperature": 3}, "temperature"),
    ({"input": "x", "include": ["nope"]}, "include"), ({"input": "x", "background": True}, "background"),
    ({"input": "x", "reasoning": {"effort": "max"}}, "reasoning.effort"), ({}, "input"),
    ({"input": "x", "tool_choice": "sometimes"}, "tool_choice"),
])
def test_bad_requests_name_the_parameter(body: dict[str, Any], param: str) -> None:
    with pytest.raises(BadRequestError) as caught:
        parse(body)
    assert caught.value.metadata["param"] == param


def test_opaque_reasoning_round_trip_and_foreign_values() -> None:
    value = opaque.encode([ANTHROPIC_DETAIL], {"c": GEMINI_EXTRA})
    assert value is not None and value.startswith("swp1.")
    assert opaque.decode(value) == ([ANTHROPIC_DETAIL], {"c": GEMINI_EXTRA})
    assert opaque.decode("gAAAAB-openai") == ([], {})
    assert opaque.decode("swp1.!!!") == ([], {})
    assert opaque.encode([], {}) is None


def test_completion_renders_reasoning_message_and_calls() -> None:
    choice = Choice(content="Hi", reasoning="Thinking.", finish_reason="tool_calls",
                    tool_calls=[ToolCall("call_1", "f", '{"x":1}', GEMINI_EXTRA),
                                ToolCall("call_2", "apply_patch", '{"input":"*** Begin"}')],
                    extra={"reasoning_details": [ANTHROPIC_DETAIL], "annotations": [
                        {"type": "url_citation", "url_citation": {"url": "https://x", "title": "X",
                                                                  "start_index": 0, "end_index": 2}}]})
    usage = Usage(prompt_tokens=10, completion_tokens=7, cached_tokens=4, reasoning_tokens=3)
    body = completion_response(Completion([choice]), "gen-1", 5, "test/m",
                               {"tools": [{"type": "custom", "name": "apply_patch"}], "store": False}, usage, 2500, "up")
    reasoning, message, call, custom = body["output"]
    assert reasoning["summary"] == [{"type": "summary_text", "text": "Thinking."}]
    assert opaque.decode(reasoning["encrypted_content"]) == ([ANTHROPIC_DETAIL], {"call_1": GEMINI_EXTRA})
    assert message["content"][0]["annotations"] == [{"type": "url_citation", "url": "https://x", "title": "X",
                                                     "start_index": 0, "end_index": 2}]
    assert (call["type"], call["call_id"], call["arguments"]) == ("function_call", "call_1", '{"x":1}')
    assert (custom["type"], custom["input"]) == ("custom_tool_call", "*** Begin")
    assert body["usage"] == {"input_tokens": 10, "input_tokens_details": {"cached_tokens": 4}, "output_tokens": 7,
                             "output_tokens_details": {"reasoning_tokens": 3}, "total_tokens": 17, "cost": 2.5e-06}
    assert (body["id"], body["status"], body["store"], body["provider"]) == ("gen-1", "completed", False, "up")
    length = completion_response(Completion([Choice(content="cut", finish_reason="length")]), "g", 1, "m", {},
                                 Usage(), None, None)
    assert (length["status"], length["incomplete_details"]) == ("incomplete", {"reason": "max_output_tokens"})


def events(data: bytes) -> list[dict[str, Any]]:
    return [json.loads(block.split(b"\ndata: ", 1)[1]) for block in data.split(b"\n\n") if block.strip()]


def test_stream_renders_the_events_in_order() -> None:
    renderer = ResponsesStreamRenderer("gen-1", 5, "test/m", {})
    out = renderer.batch([Delta(role="assistant"), Delta(reasoning="Think"), Delta(reasoning="ing.")])
    out += renderer.batch([Delta(extra={"reasoning_details": [ANTHROPIC_DETAIL]}), Delta(content="Hel"),
                           Delta(content="lo")])
    out += renderer.batch([Delta(tool_calls=[ToolCallDelta(0, id="call_1", name="f", extra=GEMINI_EXTRA)]),
                           Delta(tool_calls=[ToolCallDelta(0, arguments='{"x":')]),
                           Delta(tool_calls=[ToolCallDelta(0, arguments="1}")]), Delta(finish_reason="tool_calls")])
    record = new_record("gen-1", "k", "test/m", streamed=True)
    record.cost_nanos = 1000
    out += renderer.finish(Usage(prompt_tokens=3, completion_tokens=4), record)
    got = events(out)
    assert [e["sequence_number"] for e in got] == list(range(len(got)))
    assert [e["type"] for e in got] == [
        "response.created", "response.in_progress",
        "response.output_item.added", "response.reasoning_summary_part.added",
        "response.reasoning_summary_text.delta", "response.reasoning_summary_text.delta",
        "response.reasoning_summary_text.done", "response.reasoning_summary_part.done", "response.output_item.done",
        "response.output_item.added", "response.content_part.added", "response.output_text.delta",
        "response.output_text.delta", "response.output_text.done", "response.content_part.done",
        "response.output_item.done",
        "response.output_item.added", "response.function_call_arguments.delta",
        "response.function_call_arguments.delta", "response.function_call_arguments.done", "response.output_item.done",
        "response.output_item.added", "response.output_item.done",  # the call's thought signature: a last item
        "response.completed"]
    final = got[-1]["response"]
    assert [i["type"] for i in final["output"]] == ["reasoning", "message", "function_call", "reasoning"]
    assert opaque.decode(final["output"][0]["encrypted_content"])[0] == [ANTHROPIC_DETAIL]
    assert opaque.decode(final["output"][3]["encrypted_content"])[1] == {"call_1": GEMINI_EXTRA}
    assert final["output"][2]["arguments"] == '{"x":1}'
    assert final["usage"]["cost"] == 1e-06 and renderer.final == final


def test_stream_error_after_the_first_byte() -> None:
    renderer = ResponsesStreamRenderer("gen-1", 5, "test/m", {})
    renderer.batch([Delta(content="Hi")])
    got = events(renderer.error(SwitchpointError("upstream went away")))
    assert [e["type"] for e in got] == ["error", "response.failed"]
    assert got[1]["response"]["status"] == "failed"
    assert got[1]["response"]["error"] == {"code": "server_error", "message": "upstream went away"}


def test_relayed_stream_holds_the_final_event_until_the_end() -> None:
    renderer = ResponsesStreamRenderer("gen-1", 5, "test/m", {})
    assert renderer.batch([Delta(raw=b"event: a\ndata: {}\n\n"), Delta(content="x")]) == b"event: a\ndata: {}\n\n"
    final = {"id": "resp_up", "output": []}
    assert renderer.batch([Delta(raw=b"event: response.completed\ndata: {}\n\n"),
                           Delta(finish_reason="stop", extra={"response": final})]) == b""
    assert renderer.final == final
    assert renderer.finish(Usage(), new_record("gen-1", "k", "m", streamed=True)) == \
        b"event: response.completed\ndata: {}\n\n"
