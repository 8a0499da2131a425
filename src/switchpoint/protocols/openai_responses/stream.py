"""Canonical stream Deltas -> the Responses API's semantic events, each with its `sequence_number`:

  response.created, response.in_progress; per output item response.output_item.added, then
  - reasoning: response.reasoning_summary_part.added, response.reasoning_summary_text.delta / .done,
    response.reasoning_summary_part.done;
  - message: response.content_part.added, response.output_text.delta / .done (or response.refusal.delta /
    .done), response.content_part.done;
  - function_call: response.function_call_arguments.delta / .done (a custom tool's call:
    response.custom_tool_call_input.delta / .done);
  response.output_item.done; and last response.completed (or response.incomplete when the output limit
  was reached) with the whole response and its usage (+ `cost`).
A failure after the first byte is an `error` event followed by `response.failed`.

The provider's opaque reasoning (reasoning_details, a function call's thought signature) gathered along
the stream goes into the reasoning item's `encrypted_content` when that item ends; what arrives after it
(a signature on a later call) ends the output in a last reasoning item of its own.

A passed-through stream arrives as `Delta(raw=...)` runs of whole upstream events: those bytes are written
unchanged and nothing is added; the upstream's final response (on a Delta's extra "response") is kept,
and the bytes that carried it are held back to the end, so it is stored before the client sees it."""

from __future__ import annotations

from typing import Any

import orjson

from ...errors import SwitchpointError
from ...generation import GenerationRecord
from ...types import Delta, ToolCall, ToolCallDelta, Usage
from .errors import error_object
from .response import (
    call_item,
    custom_tool_names,
    message_item,
    reasoning_item,
    response_object,
    url_annotations,
    usage_body,
)


class ResponsesStreamRenderer:
    def __init__(self, response_id: str, created: int, model: str, request: dict[str, Any],
                 provider: str | None = None) -> None:
        self.response_id = response_id
        self.created = created
        self.model = model
        self.request = request
        self.provider = provider
        self.custom = custom_tool_names(request)
        self.seq = 0
        self.started = False
        self.relayed = False
        self.final: dict[str, Any] | None = None  # the finished response (stored when `store`)
        self.held = b""                           # relayed final bytes, sent once the response is stored
        self.items: list[dict[str, Any]] = []     # finished output items
        self.kind: str | None = None              # the open item: reasoning | message | call
        self.text: list[str] = []
        self.refusal = False
        self.details: list[dict[str, Any]] = []
        self.call_extras: dict[str, dict[str, Any]] = {}
        self.notes: list[dict[str, Any]] = []
        self.call: dict[str, Any] = {}            # the open call: index, id, name, arguments
        self.finish_reason: str | None = None

    # -- the StreamRenderer protocol ------------------------------------------------------------

    def batch(self, deltas: list[Delta]) -> bytes:
        if self.relayed or any(d.raw is not None for d in deltas):
            self.relayed = True
            raw = b"".join([d.raw for d in deltas if d.raw is not None])
            for d in deltas:
                if d.extra and isinstance(d.extra.get("response"), dict):
                    self.final = d.extra["response"]
            if self.final is not None:  # the final event: held back until the response is stored
                self.held += raw
                return b""
            return raw
        out: list[bytes] = []
        if not self.started:
            self._start(out)
        for delta in deltas:
            if delta.index == 0:
                self._delta(delta, out)
        return b"".join(out)

    def error(self, err: SwitchpointError) -> bytes:
        out: list[bytes] = [self.held]
        failure = error_object(err)["error"]
        self._event(out, "error", {"code": failure["code"] or failure["type"], "message": err.message,
                                   "param": failure["param"]})
        failed = self._response("failed", None, error={"code": failure["type"], "message": err.message})
        self._event(out, "response.failed", {"response": failed})
        return b"".join(out)

    def finish(self, usage: Usage, record: GenerationRecord) -> bytes:
        if self.relayed:
            return self.held
        out: list[bytes] = []
        if not self.started:
            self._start(out)
        self._close(out)
        leftover = {k: v for k, v in self.call_extras.items()}
        if self.details or leftover:
            self._reasoning_tail(out)
        incomplete = self.finish_reason in ("length", "content_filter")
        status = "incomplete" if incomplete else "completed"
        details = {"reason": "max_output_tokens" if self.finish_reason == "length" else "content_filter"} \
            if incomplete else None
        self.final = self._response(status, usage_body(usage, record.cost_nanos), incomplete_details=details,
                                    provider=record.provider, model=record.model)
        self._event(out, f"response.{status}", {"response": self.final})
        return b"".join(out)

    # -- translation ------------------------------------------------------------------------------

    def _event(self, out: list[bytes], name: str, data: dict[str, Any]) -> None:
        payload = {"type": name, "sequence_number": self.seq, **data}
        self.seq += 1
        out.append(b"event: " + name.encode() + b"\ndata: " + orjson.dumps(payload) + b"\n\n")

    def _response(self, status: str, usage: dict[str, Any] | None, **extra: Any) -> dict[str, Any]:
        model = extra.pop("model", None) or self.model
        return response_object(self.response_id, self.created, model, self.request, list(self.items), status, usage,
                               **extra)

    def _start(self, out: list[bytes]) -> None:
        self.started = True
        shell = self._response("in_progress", None)
        self._event(out, "response.created", {"response": shell})
        self._event(out, "response.in_progress", {"response": shell})

    @property
    def index(self) -> int:
        return len(self.items)

    def _delta(self, delta: Delta, out: list[bytes]) -> None:
        if delta.reasoning:
            self._open("reasoning", out)
            self.text.append(delta.reasoning)
            self._event(out, "response.reasoning_summary_text.delta",
                        {"item_id": self._id(), "output_index": self.index, "summary_index": 0,
                         "delta": delta.reasoning})
        if delta.extra:
            details = delta.extra.get("reasoning_details")
            if details:
                self.details.extend(d for d in details if isinstance(d, dict))
            if delta.extra.get("annotations"):
                self.notes.extend(url_annotations(delta.extra["annotations"]))
        text = delta.content
        if text:
            self._open("message", out)
            self.text.append(text)
            self._event(out, "response.output_text.delta", {"item_id": self._id(), "output_index": self.index,
                                                            "content_index": 0, "delta": text, "logprobs": []})
        elif delta.refusal and self.kind != "call":
            self._open("message", out, refusal=True)
            self.text.append(delta.refusal)
            self._event(out, "response.refusal.delta", {"item_id": self._id(), "output_index": self.index,
                                                        "content_index": 0, "delta": delta.refusal})
        for call in delta.tool_calls or ():
            self._tool(call, out)
        if delta.finish_reason:
            self.finish_reason = delta.finish_reason

    def _id(self) -> str:
        prefix = {"reasoning": "rs", "message": "msg", "call": "fc"}[self.kind or "message"]
        return f"{prefix}_{self.response_id}_{self.index}"

    def _open(self, kind: str, out: list[bytes], refusal: bool = False) -> None:
        if self.kind == kind and kind != "call":
            return
        self._close(out)
        self.kind = kind
        self.refusal = refusal
        if kind == "reasoning":
            item = {"id": self._id(), "type": "reasoning", "summary": []}
            self._event(out, "response.output_item.added", {"output_index": self.index, "item": item})
            self._event(out, "response.reasoning_summary_part.added", {
                "item_id": self._id(), "output_index": self.index, "summary_index": 0,
                "part": {"type": "summary_text", "text": ""}})
        elif kind == "message":
            item = {"id": self._id(), "type": "message", "status": "in_progress", "role": "assistant", "content": []}
            self._event(out, "response.output_item.added", {"output_index": self.index, "item": item})
            part = {"type": "refusal", "refusal": ""} if refusal else \
                {"type": "output_text", "text": "", "annotations": [], "logprobs": []}
            self._event(out, "response.content_part.added", {"item_id": self._id(), "output_index": self.index,
                                                             "content_index": 0, "part": part})

    def _tool(self, call: ToolCallDelta, out: list[bytes]) -> None:
        if self.kind != "call" or call.index != self.call.get("index"):
            self._open("call", out)
            self.call = {"index": call.index, "id": call.id or f"call_{self.response_id}_{call.index}",
                         "name": call.name or "", "arguments": []}
            kind = "custom_tool_call" if self.call["name"] in self.custom else "function_call"
            item = {"id": self._id(), "type": kind, "status": "in_progress", "call_id": self.call["id"],
                    "name": self.call["name"], **({"input": ""} if kind == "custom_tool_call" else {"arguments": ""})}
            self._event(out, "response.output_item.added", {"output_index": self.index, "item": item})
        if call.extra:
            self.call_extras[self.call["id"]] = call.extra
        if call.arguments:
            self.call["arguments"].append(call.arguments)
            if self.call["name"] not in self.custom:
                self._event(out, "response.function_call_arguments.delta",
                            {"item_id": self._id(), "output_index": self.index, "delta": call.arguments})

    def _close(self, out: list[bytes]) -> None:
        kind, item_id, index = self.kind, self._id(), self.index
        if kind is None:
            return
        text = "".join(self.text)
        if kind == "reasoning":
            part = {"type": "summary_text", "text": text}
            self._event(out, "response.reasoning_summary_text.done",
                        {"item_id": item_id, "output_index": index, "summary_index": 0, "text": text})
            self._event(out, "response.reasoning_summary_part.done",
                        {"item_id": item_id, "output_index": index, "summary_index": 0, "part": part})
            item = reasoning_item(item_id, text, self.details, self._extra_calls()) or \
                {"id": item_id, "type": "reasoning", "summary": [part], "encrypted_content": None}
            self.details, self.call_extras = [], {}
        elif kind == "message":
            if self.refusal:
                self._event(out, "response.refusal.done", {"item_id": item_id, "output_index": index,
                                                           "content_index": 0, "refusal": text})
            else:
                self._event(out, "response.output_text.done", {"item_id": item_id, "output_index": index,
                                                               "content_index": 0, "text": text, "logprobs": []})
            item = message_item(item_id, text, text if self.refusal else None, self.notes)
            self._event(out, "response.content_part.done", {"item_id": item_id, "output_index": index,
                                                            "content_index": 0, "part": item["content"][0]})
        else:
            arguments = "".join(self.call["arguments"])
            item = call_item(item_id, self.call["id"], self.call["name"], arguments, self.custom)
            if item["type"] == "custom_tool_call":
                self._event(out, "response.custom_tool_call_input.delta",
                            {"item_id": item_id, "output_index": index, "delta": item["input"]})
                self._event(out, "response.custom_tool_call_input.done",
                            {"item_id": item_id, "output_index": index, "input": item["input"]})
            else:
                self._event(out, "response.function_call_arguments.done",
                            {"item_id": item_id, "output_index": index, "name": item["name"],
                             "arguments": item["arguments"]})
        self._event(out, "response.output_item.done", {"output_index": index, "item": item})
        self.items.append(item)
        self.kind, self.text, self.notes, self.call = None, [], [], {}

    def _extra_calls(self) -> list[ToolCall]:
        return [ToolCall(call_id, "", "", extra) for call_id, extra in self.call_extras.items()]

    def _reasoning_tail(self, out: list[bytes]) -> None:
        """Opaque reasoning that arrived after the last reasoning item (or with none): one more item."""
        item_id = f"rs_{self.response_id}_{self.index}"
        item = reasoning_item(item_id, None, self.details, self._extra_calls())
        self.details, self.call_extras = [], {}
        if item is None:
            return
        self._event(out, "response.output_item.added", {"output_index": self.index,
                                                        "item": {**item, "encrypted_content": None}})
        self._event(out, "response.output_item.done", {"output_index": self.index, "item": item})
        self.items.append(item)
