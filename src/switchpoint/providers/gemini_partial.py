"""Gemini function calls whose arguments stream in pieces (`streamFunctionCallArguments`): each piece's
`partialArgs` sets one JSON path (RFC 9535, e.g. `$.recipe.ingredients[0].name`) to a string, number,
bool or null; a string whose piece says `willContinue` is continued by the next piece for the same path.
The call's own `willContinue` says more pieces follow. PartialCall gathers them into whole arguments."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from ..types import ToolCall
from .native import dump_arguments, mint_call_id

_PATH_STEP = re.compile(r"\.([^.\[]+)|\[(\d+)\]|\['([^']*)'\]|\[\"([^\"]*)\"\]")
_VALUE_KEYS = ("stringValue", "numberValue", "boolValue", "nullValue")


@dataclass(slots=True)
class PartialCall:
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


def continues(call: dict[str, Any]) -> bool:
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
