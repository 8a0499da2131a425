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

import re
from dataclasses import dataclass, field
from typing import Any

from ..types import Delta, ToolCall, ToolCallDelta
from .base import FramedStreamParser, load_json
from .framing import SSEDecoder
from .gemini_response import (
    block_reason,
    blocked_prompt,
    finish_reason,
    parse_usage,
    read_parts,
    status_error,
)
from .native import dump_arguments, mint_call_id

_PATH_STEP = re.compile(r"\.([^.\[]+)|\[(\d+)\]|\['([^']*)'\]|\[\"([^\"]*)\"\]")
_VALUE_KEYS = ("stringValue", "numberValue", "boolValue", "nullValue")


@dataclass(slots=True)
class _PartialCall:
    """A function call whose arguments arrive in pieces."""

    name: str = ""
    id: str | None = None
    signature: str | None = None
    args: dict[str, Any] = field(default_factory=dict)
    open_path: str | None = None  # a string argument whose next piece continues it

    def add(self, part: dict[str, Any]) -> None:
        call = part.get("functionCall") or {}
        self.name = self.name or call.get("name") or ""
        self.id = self.id or call.get("id")
        self.signature = self.signature or part.get("thoughtSignature")
        if isinstance(call.get("args"), dict):
            self.args.update(call["args"])
        for piece in call.get("partialArgs") or ():
            self._apply(piece)

    def _apply(self, piece: dict[str, Any]) -> None:
        path = piece.get("jsonPath") or "$"
        key = next((k for k in _VALUE_KEYS if k in piece), None)
        if key is None:
            return
        value = None if key == "nullValue" else piece[key]
        if key == "stringValue" and path == self.open_path:
            earlier = _get(self.args, path)
            value = (earlier if isinstance(earlier, str) else "") + value
        _set(self.args, path, value)
        self.open_path = path if key == "stringValue" and piece.get("willContinue") else None

    def finish(self) -> ToolCall:
        extra = {"extra_content": {"google": {"thought_signature": self.signature}}} if self.signature else None
        return ToolCall(self.id or mint_call_id(), self.name, dump_arguments(self.args), extra)


def _steps(path: str) -> list[str | int]:
    """A JSON path ($.a.b[0]['c d']) as keys and list indexes."""
    steps: list[str | int] = []
    path = path.removeprefix("$")
    if path and path[0] not in ".[":
        path = "." + path  # a bare key ("city")
    for match in _PATH_STEP.finditer(path):
        index = match.group(2)
        steps.append(int(index) if index is not None else next(g for g in (match.group(1), match.group(3),
                                                                            match.group(4), "") if g is not None))
    return steps


def _continues(call: dict[str, Any]) -> bool:
    """More pieces of this call follow: the call says so, or one of its arguments is unfinished."""
    return bool(call.get("willContinue")) or any(
        isinstance(p, dict) and p.get("willContinue") for p in call.get("partialArgs") or ())


def _get(root: dict[str, Any], path: str) -> Any:
    node: Any = root
    for step in _steps(path):
        try:
            node = node[step]
        except (KeyError, IndexError, TypeError):
            return None
    return node


def _set(root: dict[str, Any], path: str, value: Any) -> None:
    steps = _steps(path)
    if not steps:
        if isinstance(value, dict):
            root.update(value)
        return
    node: Any = root
    for step, following in zip(steps, steps[1:], strict=False):
        empty: Any = [] if isinstance(following, int) else {}
        if isinstance(step, int):
            while len(node) <= step:
                node.append(None)
            if node[step] is None:
                node[step] = empty
        elif step not in node or node[step] is None:
            node[step] = empty
        node = node[step]
    last = steps[-1]
    if isinstance(last, int):
        while len(node) <= last:
            node.append(None)
    node[last] = value


@dataclass(slots=True)
class _Candidate:
    tools: int = 0
    finished: bool = False
    partial: _PartialCall | None = None


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
            if call is None or (state.partial is None and not _continues(call) and not call.get("partialArgs")):
                whole.append(part)
                continue
            if state.partial is None:
                state.partial = _PartialCall()
            state.partial.add(part)
            if not _continues(call):
                assembled.append(state.partial.finish())
                state.partial = None
        return whole, assembled
