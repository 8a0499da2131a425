"""A scripted model behind every provider type of the upstream stand-in, for clients whose sequence of
requests is their own (SDK loops, agents): it asks for the one tool it is given until a tool result is in
the conversation, then answers. Each provider type answers in its own wire format, streamed or not, with
the provider's opaque reasoning where it has one (an Anthropic thinking signature, a Gemini thought
signature, an OpenAI encrypted reasoning item), so tests can check it comes back on the next turn."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from ..upstream import Received, Reply, Upstream

ANSWER = "It is sunny in Paris."
TEXT = "Hello from the stand-in."
SIGNATURE = "EqQBCkYIBRgCIkB-anthropic-signature"
THOUGHT = "CiQB-gemini-thought-signature"
ENCRYPTED = "gAAAAB-openai-encrypted-reasoning"
THINKING = "The user wants the weather; I should call the tool."
PATHS = {
    "openai": "/v1/chat/completions",
    "native": "/native/v1/responses",
    "anthropic": "/anthropic/v1/messages",
    "gemini": "/gemini/v1beta/models/gemini-2.5-flash:generateContent",
    "gemini_stream": "/gemini/v1beta/models/gemini-2.5-flash:streamGenerateContent",
    "ollama": "/ollama/api/chat",
}
USAGE = (40, 12)
STRUCTURED = "Answer as JSON"  # a prompt with these words gets WEATHER as JSON text
WEATHER = {"city": "Paris", "sunny": True}


def sse(events: list[tuple[str | None, dict[str, Any]]]) -> Reply:
    chunks = [(f"event: {name}\n" if name else "").encode() + b"data: " + json.dumps(data).encode() + b"\n\n"
              for name, data in events]
    return Reply(chunks=list(chunks), content_type="text/event-stream")


# -- the decision, read from each wire format ----------------------------------------------------

def tools_of(kind: str, body: dict[str, Any]) -> list[str]:
    tools = body.get("tools") or []
    if kind == "openai":
        return [t["function"]["name"] for t in tools if t.get("type") == "function"]
    if kind == "gemini":
        return [d["name"] for t in tools for d in t.get("functionDeclarations") or ()]
    if kind == "ollama":
        return [t["function"]["name"] for t in tools]
    return [t.get("name") for t in tools if t.get("name")]


def answered(kind: str, body: dict[str, Any]) -> bool:
    if kind in ("openai", "ollama"):
        return any(m.get("role") == "tool" for m in body.get("messages") or ())
    if kind == "anthropic":
        return any(isinstance(m.get("content"), list) and any(b.get("type") == "tool_result" for b in m["content"])
                   for m in body.get("messages") or ())
    if kind == "gemini":
        return any("functionResponse" in p for c in body.get("contents") or () for p in c.get("parts") or ())
    items = body.get("input")
    return isinstance(items, list) and any(i.get("type") == "function_call_output" for i in items)


def arguments_for(received: Received) -> dict[str, Any]:
    return {"city": "Paris"}


class ScriptedModel:
    """Install with `install(upstream)`; `choose(tool names)` picks the tool to call (the first by default)
    and `tool_args(name, received)` its arguments."""

    def __init__(self, tool_args: Callable[[str, Received], dict[str, Any]] | None = None,
                 choose: Callable[[list[str]], str | None] | None = None) -> None:
        self.tool_args = tool_args or (lambda name, received: arguments_for(received))
        self.choose = choose or (lambda names: names[0] if names else None)

    def install(self, upstream: Upstream) -> None:
        upstream.script(PATHS["openai"], lambda r: self.reply("openai", r))
        upstream.script(PATHS["native"], lambda r: self.reply("native", r))
        upstream.script(PATHS["anthropic"], lambda r: self.reply("anthropic", r))
        upstream.script(PATHS["gemini"], lambda r: self.reply("gemini", r))
        upstream.script(PATHS["gemini_stream"], lambda r: self.reply("gemini", r, stream=True))
        upstream.script(PATHS["ollama"], lambda r: self.reply("ollama", r))

    def reply(self, kind: str, received: Received, stream: bool | None = None) -> Reply:
        body = received.json
        tools = tools_of(kind, body)
        call = self.choose(tools) if tools and not answered(kind, body) else None
        text = None if call else (ANSWER if tools or answered(kind, body) else TEXT)
        if text and STRUCTURED in received.body.decode():
            text = json.dumps(WEATHER)
        args = self.tool_args(call, received) if call else {}
        streamed = body.get("stream") is True if stream is None else stream
        return getattr(self, kind)(call, args, text, streamed, body)

    # -- the wire formats -------------------------------------------------------------------------

    def openai(self, call: str | None, args: dict[str, Any], text: str | None, stream: bool,
               body: dict[str, Any]) -> Reply:
        usage = {"prompt_tokens": USAGE[0], "completion_tokens": USAGE[1], "total_tokens": sum(USAGE)}
        message: dict[str, Any] = {"role": "assistant", "content": text}
        if call:
            message["tool_calls"] = [{"id": "call_1", "type": "function",
                                      "function": {"name": call, "arguments": json.dumps(args)}}]
        finish = "tool_calls" if call else "stop"
        if not stream:
            return Reply.json({"id": "chatcmpl-1", "object": "chat.completion", "created": 1, "model": body["model"],
                               "choices": [{"index": 0, "message": message, "finish_reason": finish}],
                               "usage": usage})
        base = {"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 1, "model": body["model"]}
        delta: dict[str, Any] = {"role": "assistant"}
        if call:
            delta["tool_calls"] = [{"index": 0, **message["tool_calls"][0]}]
        else:
            delta["content"] = text
        events: list[tuple[str | None, dict[str, Any]]] = [
            (None, {**base, "choices": [{"index": 0, "delta": delta, "finish_reason": None}]}),
            (None, {**base, "choices": [{"index": 0, "delta": {}, "finish_reason": finish}]}),
            (None, {**base, "choices": [], "usage": usage})]
        reply = sse(events)
        assert reply.chunks is not None
        reply.chunks.append(b"data: [DONE]\n\n")
        return reply

    def anthropic(self, call: str | None, args: dict[str, Any], text: str | None, stream: bool,
                  body: dict[str, Any]) -> Reply:
        content: list[dict[str, Any]] = [{"type": "thinking", "thinking": THINKING, "signature": SIGNATURE}]
        if call:
            content.append({"type": "tool_use", "id": "toolu_1", "name": call, "input": args})
        else:
            content.append({"type": "text", "text": text})
        stop = "tool_use" if call else "end_turn"
        usage = {"input_tokens": USAGE[0], "output_tokens": USAGE[1]}
        if not stream:
            return Reply.json({"id": "msg_1", "type": "message", "role": "assistant", "model": body["model"],
                               "content": content, "stop_reason": stop, "stop_sequence": None, "usage": usage})
        events: list[tuple[str | None, dict[str, Any]]] = [("message_start", {"type": "message_start", "message": {
            "id": "msg_1", "type": "message", "role": "assistant", "model": body["model"], "content": [],
            "stop_reason": None, "stop_sequence": None, "usage": {"input_tokens": USAGE[0], "output_tokens": 1}}})]
        for i, block in enumerate(content):
            if block["type"] == "thinking":
                start, deltas = {"type": "thinking", "thinking": "", "signature": ""}, [
                    {"type": "thinking_delta", "thinking": THINKING}, {"type": "signature_delta", "signature": SIGNATURE}]
            elif block["type"] == "tool_use":
                start, deltas = {**block, "input": {}}, [{"type": "input_json_delta", "partial_json": json.dumps(args)}]
            else:
                start, deltas = {"type": "text", "text": ""}, [{"type": "text_delta", "text": text}]
            events.append(("content_block_start", {"type": "content_block_start", "index": i, "content_block": start}))
            events += [("content_block_delta", {"type": "content_block_delta", "index": i, "delta": d}) for d in deltas]
            events.append(("content_block_stop", {"type": "content_block_stop", "index": i}))
        events.append(("message_delta", {"type": "message_delta", "delta": {"stop_reason": stop, "stop_sequence": None},
                                         "usage": {"output_tokens": USAGE[1]}}))
        events.append(("message_stop", {"type": "message_stop"}))
        return sse(events)

    def gemini(self, call: str | None, args: dict[str, Any], text: str | None, stream: bool,
               body: dict[str, Any]) -> Reply:
        parts: list[dict[str, Any]] = [{"text": THINKING, "thought": True}]
        if call:
            parts.append({"functionCall": {"name": call, "args": args}, "thoughtSignature": THOUGHT})
        else:
            parts.append({"text": text})
        data = {"candidates": [{"content": {"role": "model", "parts": parts}, "finishReason": "STOP", "index": 0}],
                "usageMetadata": {"promptTokenCount": USAGE[0], "candidatesTokenCount": USAGE[1],
                                  "totalTokenCount": sum(USAGE)}, "modelVersion": "gemini-2.5-flash"}
        return sse([(None, data)]) if stream else Reply.json(data)

    def ollama(self, call: str | None, args: dict[str, Any], text: str | None, stream: bool,
               body: dict[str, Any]) -> Reply:
        message: dict[str, Any] = {"role": "assistant", "content": text or ""}
        if call:
            message["tool_calls"] = [{"function": {"name": call, "arguments": args}}]
        last = {"model": body["model"], "created_at": "2026-12-04T00:00:00Z", "message": message, "done": True,
                "done_reason": "stop", "prompt_eval_count": USAGE[0], "eval_count": USAGE[1]}
        if not stream:
            return Reply.json(last)
        return Reply(chunks=[json.dumps(last).encode() + b"\n"], content_type="application/x-ndjson")

    def native(self, call: str | None, args: dict[str, Any], text: str | None, stream: bool,
               body: dict[str, Any]) -> Reply:
        reasoning = {"id": "rs_up_1", "type": "reasoning", "summary": [{"type": "summary_text", "text": THINKING}],
                     "encrypted_content": ENCRYPTED}
        if call:
            item: dict[str, Any] = {"id": "fc_up_1", "type": "function_call", "status": "completed",
                                    "call_id": "call_up_1", "name": call, "arguments": json.dumps(args)}
        else:
            item = {"id": "msg_up_1", "type": "message", "status": "completed", "role": "assistant",
                    "content": [{"type": "output_text", "text": text, "annotations": []}]}
        response = {"id": f"resp_up_{len(json.dumps(body))}", "object": "response", "created_at": 1, "status": "completed",
                    "model": body["model"], "output": [reasoning, item], "error": None, "incomplete_details": None,
                    "usage": {"input_tokens": USAGE[0], "input_tokens_details": {"cached_tokens": 8},
                              "output_tokens": USAGE[1], "output_tokens_details": {"reasoning_tokens": 5},
                              "total_tokens": sum(USAGE)}}
        if not stream:
            return Reply.json(response)
        shell = {**response, "status": "in_progress", "output": [], "usage": None}
        events: list[dict[str, Any]] = [{"type": "response.created", "response": shell},
                                        {"type": "response.in_progress", "response": shell}]
        for index, out in enumerate(response["output"]):
            events.append({"type": "response.output_item.added", "output_index": index, "item": out})
            if out["type"] == "function_call":
                events.append({"type": "response.function_call_arguments.delta", "item_id": out["id"],
                               "output_index": index, "delta": out["arguments"]})
            elif out["type"] == "message":
                where = {"item_id": out["id"], "output_index": index, "content_index": 0}
                events += [{"type": "response.content_part.added", **where,
                            "part": {"type": "output_text", "text": "", "annotations": []}},
                           {"type": "response.output_text.delta", **where, "delta": text},
                           {"type": "response.output_text.done", **where, "text": text},
                           {"type": "response.content_part.done", **where, "part": out["content"][0]}]
            else:
                where = {"item_id": out["id"], "output_index": index, "summary_index": 0}
                events += [{"type": "response.reasoning_summary_part.added", **where,
                            "part": {"type": "summary_text", "text": ""}},
                           {"type": "response.reasoning_summary_text.delta", **where, "delta": THINKING},
                           {"type": "response.reasoning_summary_text.done", **where, "text": THINKING},
                           {"type": "response.reasoning_summary_part.done", **where, "part": out["summary"][0]}]
            events.append({"type": "response.output_item.done", "output_index": index, "item": out})
        events.append({"type": "response.completed", "response": response})
        return sse([(e["type"], {**e, "sequence_number": n}) for n, e in enumerate(events)])
