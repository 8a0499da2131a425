"""Helpers for the provider translator tests: fixture bytes, stream replays and what an OpenAI client
would assemble from the deltas."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from switchpoint.providers.base import StreamParser
from switchpoint.types import Delta

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"


def fixture_bytes(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def fixture_json(name: str) -> Any:
    return orjson.loads(fixture_bytes(name))


def replay(parser: StreamParser, data: bytes, step: int | None = None) -> list[Delta]:
    """Feed `data` in pieces of `step` bytes (all at once when None), then close the parser."""
    deltas: list[Delta] = []
    size = step or len(data) or 1
    for start in range(0, len(data), size):
        deltas.extend(parser.feed(data[start:start + size]))
    deltas.extend(parser.close())
    return deltas


@dataclass
class Assembled:
    """What an OpenAI client would assemble from the deltas of one choice."""

    roles: list[str] = field(default_factory=list)
    content: str = ""
    reasoning: str = ""
    refusal: str = ""
    tool_calls: dict[int, dict[str, Any]] = field(default_factory=dict)
    finish: list[tuple[str | None, str | None]] = field(default_factory=list)
    extras: list[dict[str, Any]] = field(default_factory=list)
    first_delta_kind: str = ""


def assemble(deltas: list[Delta], index: int = 0) -> Assembled:
    out = Assembled()
    for position, delta in enumerate(d for d in deltas if d.index == index):
        if position == 0:
            out.first_delta_kind = "role" if delta.role else "other"
        if delta.role:
            out.roles.append(delta.role)
        out.content += delta.content or ""
        out.reasoning += delta.reasoning or ""
        out.refusal += delta.refusal or ""
        for call in delta.tool_calls or ():
            if call.index not in out.tool_calls:
                assert call.id and call.name, "the first delta of a tool call carries its id and name"
                out.tool_calls[call.index] = {"id": call.id, "name": call.name, "arguments": "", "extra": call.extra}
            else:
                assert call.id is None and call.name is None, "later deltas carry only argument fragments"
            out.tool_calls[call.index]["arguments"] += call.arguments
        if delta.finish_reason:
            out.finish.append((delta.finish_reason, delta.native_finish_reason))
        if delta.extra:
            out.extras.append(delta.extra)
    return out


