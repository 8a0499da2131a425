"""Anthropic Messages SSE stream -> canonical deltas.

Tool calls are numbered by their own counter (the OpenAI `index`), not by Anthropic's block index;
the first delta of a call carries id and name, later ones argument fragments. Thinking text streams as
`reasoning`; each finished thinking block is also sent once, whole and signed, as a reasoning_details
item so the client can echo it back. Usage is overwritten, never added (message_delta is cumulative).

Only `tool_use` blocks become tool-call deltas: a server tool's `server_tool_use` block streams its
input too, but the provider runs it, so its input and its result blocks are never sent as calls. A text
block's citations (`citations_delta`) are sent when the block ends, as one delta of `annotations`
covering the block's span of the content.

For a passed-through request (`relay`), each read also yields the raw bytes of the whole events it
completed, as a `Delta(raw=...)` ahead of the deltas parsed from them: the inbound renderer writes
those bytes unchanged, and only at event boundaries (so keep-alive pings never split an event). An
upstream `event: error` is cut from the relayed bytes: the gateway reports the failure itself."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..types import Delta, ToolCallDelta
from .anthropic_response import (
    FETCH_RESULTS,
    error_event,
    fetched_documents,
    finish_reason,
    parse_usage,
    reasoning_detail,
    refusal,
    url_citation,
)
from .base import load_json
from .relay import RelayingSSEParser


@dataclass(slots=True)
class _Block:
    kind: str
    tool_index: int = -1
    arguments_sent: bool = False
    thinking: list[str] = field(default_factory=list)
    signature: str | None = None
    data: str | None = None
    start: int = 0  # a text block's offset in the content
    citations: list[dict[str, Any]] = field(default_factory=list)


class AnthropicStreamParser(RelayingSSEParser):
    terminal = "message_stop"

    def __init__(self, relay: bool = False) -> None:
        super().__init__(relay)
        self._blocks: dict[int, _Block] = {}
        self._tools = 0
        self._details = 0
        self._chars = 0  # content characters sent so far: annotation offsets
        self._documents: list[dict[str, Any]] = []  # pages fetched by web_fetch, for their citations

    def item(self, item: tuple[str | None, bytes], out: list[Delta]) -> None:
        name, raw = item
        event = load_json(raw)
        kind = name or event.get("type")
        if kind == "error":
            raise error_event(event, raw)
        handler = _HANDLERS.get(kind or "")
        if handler is not None:
            delta = handler(self, event)
            if delta is not None:
                out.append(delta)

    def _message_start(self, event: dict[str, Any]) -> Delta:
        message = event.get("message") or {}
        self.upstream_id = message.get("id")
        self.upstream_model = message.get("model")
        self.usage = parse_usage(message.get("usage"))
        return Delta(role="assistant", content="")

    def _block_start(self, event: dict[str, Any]) -> Delta | None:
        block = event.get("content_block") or {}
        kind = block.get("type") or ""
        state = _Block(kind)
        self._blocks[event.get("index", 0)] = state
        if kind == "tool_use":
            state.tool_index = self._tools
            self._tools += 1
            return Delta(tool_calls=[ToolCallDelta(state.tool_index, id=block.get("id"), name=block.get("name"))])
        if kind == "text":
            state.start = self._chars
            state.citations.extend(block.get("citations") or ())
            if block.get("text"):
                self._chars += len(block["text"])
                return Delta(content=block["text"])
            return None
        if kind in FETCH_RESULTS:
            self._documents.extend(fetched_documents(block))
        if kind == "redacted_thinking":
            state.data = block.get("data")
        return None

    def _block_delta(self, event: dict[str, Any]) -> Delta | None:
        state = self._blocks.get(event.get("index", 0))
        delta = event.get("delta") or {}
        kind = delta.get("type")
        if kind == "text_delta":
            text = delta.get("text")
            if not text:
                return None
            self._chars += len(text)
            return Delta(content=text)
        if kind == "citations_delta" and state is not None and isinstance(delta.get("citation"), dict):
            state.citations.append(delta["citation"])
            return None
        if kind == "input_json_delta" and state is not None and state.kind == "tool_use" and delta.get("partial_json"):
            state.arguments_sent = True
            return Delta(tool_calls=[ToolCallDelta(state.tool_index, arguments=delta["partial_json"])])
        if kind == "thinking_delta" and delta.get("thinking"):
            if state is not None:
                state.thinking.append(delta["thinking"])
            return Delta(reasoning=delta["thinking"])
        if kind == "signature_delta" and state is not None:
            state.signature = (state.signature or "") + (delta.get("signature") or "")
        return None

    def _block_stop(self, event: dict[str, Any]) -> Delta | None:
        state = self._blocks.pop(event.get("index", 0), None)
        if state is None:
            return None
        if state.kind == "tool_use" and not state.arguments_sent:  # a call without arguments sends only ""
            return Delta(tool_calls=[ToolCallDelta(state.tool_index, arguments="{}")])
        if state.kind == "text" and state.citations:
            annotations = [a for a in (url_citation(c, state.start, self._chars, self._documents)
                                       for c in state.citations) if a is not None]
            return Delta(extra={"annotations": annotations}) if annotations else None
        if state.kind in ("thinking", "redacted_thinking"):
            block = {"type": state.kind, "thinking": "".join(state.thinking), "signature": state.signature,
                     "data": state.data}
            detail = reasoning_detail(block, self._details)
            self._details += 1
            return Delta(extra={"reasoning_details": [detail]})
        return None

    def _message_delta(self, event: dict[str, Any]) -> Delta | None:
        self.usage = parse_usage(event.get("usage"), self.usage)
        delta = event.get("delta") or {}
        stop = delta.get("stop_reason")
        if stop is None:
            return None
        return Delta(finish_reason=finish_reason(stop), native_finish_reason=stop,
                     refusal=refusal(stop, delta.get("stop_details")))

    def _message_stop(self, event: dict[str, Any]) -> None:
        self.done = True


_HANDLERS = {
    "message_start": AnthropicStreamParser._message_start,
    "content_block_start": AnthropicStreamParser._block_start,
    "content_block_delta": AnthropicStreamParser._block_delta,
    "content_block_stop": AnthropicStreamParser._block_stop,
    "message_delta": AnthropicStreamParser._message_delta,
    "message_stop": AnthropicStreamParser._message_stop,
}

