"""Canonical stream Deltas -> Anthropic's SSE events, in Anthropic's exact order:

  message_start, then per content block content_block_start, content_block_delta (text_delta,
  input_json_delta, thinking_delta, signature_delta), content_block_stop, then message_delta (stop_reason
  and cumulative usage, with `cost`), message_stop; `event: ping` while the upstream is silent, and
  `event: error` for a failure after the first byte (the stream then ends, as Anthropic's does).

A passed-through stream arrives as `Delta(raw=...)` runs of whole upstream events: those bytes are written
unchanged and nothing is added, so the client gets exactly what the Anthropic endpoint sent."""

from __future__ import annotations

from typing import Any

import orjson

from ...errors import SwitchpointError
from ...generation import GenerationRecord
from ...types import Delta, ToolCallDelta, Usage
from .errors import error_event
from .request import REASONING_FORMAT
from .response import stop_reason, usage_body

PING = b'event: ping\ndata: {"type": "ping"}\n\n'


def event(name: str, data: dict[str, Any]) -> bytes:
    return b"event: " + name.encode() + b"\ndata: " + orjson.dumps(data) + b"\n\n"


class MessagesStreamRenderer:
    """One stream's events: `message_start` names the generation id and the model that serves."""

    def __init__(self, generation_id: str, model: str) -> None:
        self.generation_id = generation_id
        self.model = model
        self.started = False
        self.relayed = False      # a passthrough: raw upstream bytes only
        self.index = -1           # the open content block's index
        self.kind: str | None = None  # its type
        self.tool: int | None = None  # the canonical index of the open tool call
        self.called = False
        self.finish_reason: str | None = None
        self.native_finish: str | None = None
        self.signed = False       # the open thinking block got its signature

    # -- the StreamRenderer protocol ------------------------------------------------------------

    def batch(self, deltas: list[Delta]) -> bytes:
        if self.relayed or any(d.raw is not None for d in deltas):
            self.relayed = True
            return b"".join([d.raw for d in deltas if d.raw is not None])
        out: list[bytes] = []
        if not self.started:
            out.append(self._start())
        for delta in deltas:
            self._delta(delta, out)
        return b"".join(out)

    def error(self, err: SwitchpointError) -> bytes:
        return error_event(err)

    def finish(self, usage: Usage, record: GenerationRecord) -> bytes:
        if self.relayed:
            return b""
        out: list[bytes] = [] if self.started else [self._start()]
        self._close(out)
        out.append(event("message_delta", {
            "type": "message_delta",
            "delta": {"stop_reason": stop_reason(self.finish_reason, self.native_finish, self.called), "stop_sequence": None},
            "usage": usage_body(usage, record.cost_nanos)}))
        out.append(event("message_stop", {"type": "message_stop"}))
        return b"".join(out)

    # -- translation ------------------------------------------------------------------------------

    def _start(self) -> bytes:
        self.started = True
        return event("message_start", {"type": "message_start", "message": {
            "id": self.generation_id, "type": "message", "role": "assistant", "model": self.model, "content": [],
            "stop_reason": None, "stop_sequence": None,
            "usage": {"input_tokens": 0, "output_tokens": 0, "cache_read_input_tokens": 0,
                      "cache_creation_input_tokens": 0}}})

    def _delta(self, delta: Delta, out: list[bytes]) -> None:
        if delta.index != 0:
            return  # Messages has one answer per request
        if delta.reasoning:
            self._open("thinking", out)
            out.append(self._block_delta({"type": "thinking_delta", "thinking": delta.reasoning}))
        if delta.extra and delta.extra.get("reasoning_details"):
            self._details(delta.extra["reasoning_details"], out)
        text = delta.content or (delta.refusal if not self.called and self.kind != "text" else None)
        if text:
            self._open("text", out)
            out.append(self._block_delta({"type": "text_delta", "text": text}))
        for call in delta.tool_calls or ():
            self._tool(call, out)
        if delta.finish_reason:
            self.finish_reason, self.native_finish = delta.finish_reason, delta.native_finish_reason
            self._close(out)

    def _details(self, details: list[Any], out: list[bytes]) -> None:
        for detail in details:
            if not isinstance(detail, dict) or detail.get("format") != REASONING_FORMAT:
                continue
            if detail.get("type") == "reasoning.text" and detail.get("signature"):
                if self.kind != "thinking" or self.signed:
                    self._open("thinking", out, fresh=True)
                    if detail.get("text"):
                        out.append(self._block_delta({"type": "thinking_delta", "thinking": detail["text"]}))
                out.append(self._block_delta({"type": "signature_delta", "signature": detail["signature"]}))
                self.signed = True
            elif detail.get("type") == "reasoning.encrypted":
                self._close(out)
                self.index += 1
                out.append(event("content_block_start", {"type": "content_block_start", "index": self.index,
                                                         "content_block": {"type": "redacted_thinking",
                                                                           "data": detail.get("data") or ""}}))
                out.append(event("content_block_stop", {"type": "content_block_stop", "index": self.index}))

    def _tool(self, call: ToolCallDelta, out: list[bytes]) -> None:
        if self.kind != "tool_use" or call.index != self.tool:  # a new call (canonical index changed)
            self._close(out)
            self.index += 1
            self.kind, self.tool, self.called = "tool_use", call.index, True
            out.append(event("content_block_start", {"type": "content_block_start", "index": self.index,
                                                     "content_block": {"type": "tool_use", "id": call.id or "",
                                                                       "name": call.name or "", "input": {}}}))
        if call.arguments:
            out.append(self._block_delta({"type": "input_json_delta", "partial_json": call.arguments}))

    def _open(self, kind: str, out: list[bytes], fresh: bool = False) -> None:
        if self.kind == kind and not fresh:
            return
        self._close(out)
        self.index += 1
        self.kind = kind
        block: dict[str, Any] = {"type": "text", "text": ""} if kind == "text" else \
            {"type": "thinking", "thinking": "", "signature": ""}
        out.append(event("content_block_start", {"type": "content_block_start", "index": self.index,
                                                 "content_block": block}))

    def _close(self, out: list[bytes]) -> None:
        if self.kind is None:
            return
        out.append(event("content_block_stop", {"type": "content_block_stop", "index": self.index}))
        self.kind, self.tool, self.signed = None, None, False

    def _block_delta(self, delta: dict[str, Any]) -> bytes:
        return event("content_block_delta", {"type": "content_block_delta", "index": self.index, "delta": delta})
