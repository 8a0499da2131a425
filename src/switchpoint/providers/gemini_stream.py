"""Gemini `streamGenerateContent?alt=sse` -> canonical deltas.

Every event is a whole GenerateContentResponse holding only the new parts. A function call usually
arrives complete in one event and becomes one tool-call delta with id, name and all its arguments.
With streamed function-call arguments (`streamFunctionCallArguments`), a call comes in pieces: a part
with the name and `willContinue: true`, parts whose `partialArgs` each set one JSON path (a string
value continued over several pieces while its `willContinue` is true), and a closing part without
`willContinue`. The pieces are assembled and the call is sent once, whole, like any other.
There is no terminator: the event carrying finishReason ends a candidate. Usage repeats in every event
and the last one wins."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..types import Delta, ToolCall, ToolCallDelta
from .base import FramedStreamParser, load_json
from .framing import SSEDecoder
from .gemini_partial import PartialCall, continues
from .gemini_response import (
    block_reason,
    blocked_prompt,
    finish_reason,
    parse_usage,
    read_parts,
    status_error,
)


@dataclass(slots=True)
class _Candidate:
    tools: int = 0
    finished: bool = False
    partial: PartialCall | None = None


class GeminiStreamParser(FramedStreamParser):
    terminal = "a finishReason"

    def __init__(self) -> None:
        super().__init__(SSEDecoder())
        self._candidates: dict[int, _Candidate] = {}

    def item(self, item: tuple[str | None, bytes], out: list[Delta]) -> None:
        raw = item[1]
        chunk = load_json(raw)
        if isinstance(chunk, list):  # a JSON-array body wraps its objects (and errors) in a list
            chunk = chunk[0] if chunk else {}
        if "error" in chunk:
            raise status_error(chunk["error"] or {}, raw)
        self.upstream_id = self.upstream_id or chunk.get("responseId")
        self.upstream_model = self.upstream_model or chunk.get("modelVersion")
        self.usage = parse_usage(chunk.get("usageMetadata")) or self.usage
        for position, candidate in enumerate(chunk.get("candidates") or ()):
            out.extend(self._candidate(candidate.get("index", position), candidate))
        block = blocked_prompt(chunk)
        if block is not None:
            out.append(Delta(role="assistant", content="", finish_reason=block_reason(block),
                             native_finish_reason=block))
            self.done = True

    def _candidate(self, index: int, candidate: dict) -> list[Delta]:
        state = self._candidates.get(index)
        out: list[Delta] = []
        if state is None:
            state = self._candidates[index] = _Candidate()
            out.append(Delta(index=index, role="assistant", content=""))
        whole, assembled = self._split(state, (candidate.get("content") or {}).get("parts") or ())
        parts = read_parts(whole)
        native = candidate.get("finishReason")
        if native and state.partial is not None:  # the candidate ended inside a call: send what came
            assembled.append(state.partial.finish())
            state.partial = None
        if parts.reasoning:
            out.append(Delta(index=index, reasoning=parts.reasoning))
        if parts.text:
            out.append(Delta(index=index, content=parts.text))
        calls = [*parts.calls, *assembled]
        if calls:
            deltas = []
            for call in calls:
                deltas.append(ToolCallDelta(state.tools, id=call.id, name=call.name, arguments=call.arguments,
                                            extra=call.extra))
                state.tools += 1
            out.append(Delta(index=index, tool_calls=deltas))
        if native and not state.finished:
            state.finished = True
            out.append(Delta(index=index, finish_reason=finish_reason(native, state.tools > 0),
                             native_finish_reason=native))
            self.done = all(c.finished for c in self._candidates.values())
        return out

    @staticmethod
    def _split(state: _Candidate, parts: Any) -> tuple[list[dict[str, Any]], list[ToolCall]]:
        """(parts read as they are, calls whose streamed pieces closed in this event)."""
        whole: list[dict[str, Any]] = []
        assembled: list[ToolCall] = []
        for part in parts:
            call = part.get("functionCall") if isinstance(part, dict) else None
            if call is None or (state.partial is None and not continues(call) and not call.get("partialArgs")):
                whole.append(part)
                continue
            if state.partial is None:
                state.partial = PartialCall()
            state.partial.add(part)
            if not continues(call):
                assembled.append(state.partial.finish())
                state.partial = None
        return whole, assembled
