"""The response cache keeps canonical results, not any API's bytes, behind one interface for every
inbound API: what a hit returns is what the engine produced, ready for the API's own renderer."""

from __future__ import annotations

import ast
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import orjson
import pytest

import switchpoint.server.cache as cache_module
from switchpoint.accounting.keys import KeyRecord
from switchpoint.config.schema import ResponseCacheConfig
from switchpoint.engine import ChatResult, RequestContext
from switchpoint.generation import new_record
from switchpoint.server.cache import OFF, ResponseCache
from switchpoint.server.streaming import ChatSurface
from switchpoint.state import State
from switchpoint.state.memory import MemoryState
from switchpoint.state.redis import RedisState
from switchpoint.types import ChatRequest, Choice, Completion, Delta, ToolCall, ToolCallDelta, Usage

KEY = KeyRecord("f" * 64, "k", "k")
ASK = {"x-switchpoint-cache": "true"}


class Rows:
    """Collects ledger rows (the cache only calls `record`)."""

    def __init__(self) -> None:
        self.rows: list[dict[str, Any]] = []

    def record(self, row: dict[str, Any]) -> None:
        self.rows.append(row)


@pytest.fixture(params=["memory", "redis"])
async def state(request: pytest.FixtureRequest) -> AsyncIterator[State]:
    """Entries are bytes to the state backends: each must keep them alike."""
    backend: Any = MemoryState() if request.param == "memory" else RedisState(request.getfixturevalue("redis_url"))
    yield backend
    await backend.close()


def setup(state: State) -> tuple[ResponseCache, Rows, State]:
    rows = Rows()
    return ResponseCache(state, rows, ResponseCacheConfig()), rows, state  # type: ignore[arg-type]


def served(generation_id: str = "gen-first") -> Any:
    record = new_record(generation_id, KEY.hash, "test/gpt", provider="acme", upstream_model="gpt-x",
                        finish_reason="tool_calls", router={"router": "auto", "tier": "small"})
    record.status, record.cost_nanos = "success", 12345
    return record


def context(generation_id: str) -> RequestContext:
    return RequestContext(KEY, generation_id, time.monotonic(), 10, "someone")


def test_cache_module_imports_nothing_from_the_server() -> None:
    tree = ast.parse(Path(cache_module.__file__).read_text())
    imported = [node.module or "" for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.level == 1]
    assert imported and not any(name in ("render", "http") or name.startswith(("render", "http"))
                                for name in imported), imported


async def test_a_completion_is_stored_canonically_and_replayed_as_the_engine_made_it(state: State) -> None:
    cache, rows, state = setup(state)
    chat = ChatRequest("test/gpt", [{"role": "user", "content": "hi"}], params={"temperature": 0})
    completion = Completion(
        [Choice(0, None, "thinking", None, [ToolCall("call_1", "lookup", '{"q": 1}', {"thought_signature": "s"})],
                "tool_calls", "TOOL_USE", {"content": []}, {"annotations": [{"type": "url"}]})],
        upstream_id="up-1", upstream_model="gpt-x", system_fingerprint="fp", service_tier="flex")
    usage = Usage(12, 34, cached_tokens=2, reasoning_tokens=5)

    turn = cache.turn(KEY, ASK, "/chat/completions", chat)
    assert await turn.lookup() is None and turn.headers[0] == (b"x-switchpoint-cache-status", b"MISS")
    await turn.store(ChatResult(completion, served(), usage))
    raw = await state.cache_get(turn.plan.key)  # type: ignore[union-attr]
    again = cache.turn(KEY, ASK, "/chat/completions", chat)
    assert await again.lookup() is not None
    hit = again.replay(context("gen-second"), streamed=False)
    entry = orjson.loads(raw)
    assert entry["v"] == 2 and "body" not in entry and "chunks" not in entry  # no rendered bytes
    assert hit.completion == completion and hit.usage == usage and hit.batches is None
    record = hit.record
    assert (record.id, record.cost_nanos, record.cache_hit, record.model, record.provider) == \
        ("gen-second", 0, True, "test/gpt", "acme")
    assert record.router == {"router": "auto", "tier": "small"}
    assert dict(hit.headers)[b"x-generation-id"] == b"gen-second"
    assert dict(hit.headers)[b"x-switchpoint-cache-status"] == b"HIT"
    assert [(r["id"], r["cache_hit"], r["cost_nanos"], r["completion_tokens"], r["external_user"])
            for r in rows.rows] == [("gen-second", True, 0, 34, "someone")]


async def test_a_stream_is_stored_as_delta_batches_and_replayed_with_the_same_chunking(state: State) -> None:
    cache, rows, _ = setup(state)
    chat = ChatRequest("test/gpt", [{"role": "user", "content": "hi"}], stream=True)
    batches = [[Delta(0, role="assistant", content=""), Delta(0, reasoning="hmm")],
               [Delta(0, tool_calls=[ToolCallDelta(0, "call_1", "lookup", '{"q"')])],
               [Delta(0, tool_calls=[ToolCallDelta(0, arguments=": 1}")])],
               [Delta(0, finish_reason="tool_calls", native_finish_reason="tool_use", extra={"x": 1})]]

    turn = cache.turn(KEY, ASK, "/chat/completions", chat)
    await turn.lookup()
    tape = turn.tape()
    assert tape is not None
    for batch in batches:
        tape.add(batch)
    tape.finished(served(), Usage(5, 3))
    await turn.store_stream(tape)
    again = cache.turn(KEY, ASK, "/chat/completions", chat)
    await again.lookup()
    hit = again.replay(context("gen-second"), streamed=True)
    assert hit.batches == batches and hit.completion is None and rows.rows[0]["streamed"] is True
    def replay_chunks(hide: bool) -> list[bytes]:
        chat.reasoning = {"exclude": True} if hide else None
        renderer = ChatSurface(chat, "gen-second", 7).renderer(hit.record)
        return [data for batch in hit.batches for data in [renderer.batch(batch)] if data] + \
            [renderer.finish(hit.usage, hit.record)]

    chunks = replay_chunks(False)
    assert len(chunks) == len(batches) + 1 and chunks[-1].endswith(b"data: [DONE]\n\n")
    events = [orjson.loads(line[6:]) for chunk in chunks for line in chunk.split(b"\n\n")
              if line.startswith(b"data: {")]
    assert {e["id"] for e in events} == {"gen-second"} and {e["created"] for e in events} == {7}
    assert events[-1]["usage"]["cost"] == 0 and events[-1]["cache_hit"] is True
    hidden = replay_chunks(True)
    assert b"hmm" in chunks[0] and b"hmm" not in hidden[0]


async def test_requests_that_do_not_ask_share_one_inert_turn() -> None:
    cache, rows, state = setup(MemoryState())
    chat = ChatRequest("test/gpt", [{"role": "user", "content": "hi"}])
    turn = cache.turn(KEY, {}, "/chat/completions", chat)
    assert turn is OFF and turn.headers == [] and turn.tape() is None

    assert await turn.lookup() is None
    await turn.store(ChatResult(Completion([Choice(0, "x")]), served(), Usage(1, 1)))
    assert rows.rows == [] and state._cache_size == 0  # type: ignore[attr-defined]


async def test_an_entry_of_another_version_is_a_miss(state: State) -> None:
    cache, _, state = setup(state)
    chat = ChatRequest("test/gpt", [{"role": "user", "content": "hi"}])
    plan = cache.plan(KEY, ASK, "/chat/completions", chat)
    assert plan is not None

    await state.cache_put(plan.key, orjson.dumps({"stored": time.time(), "body": "{}"}), ttl=60)
    assert await cache.lookup(plan) is None
