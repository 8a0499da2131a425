"""Response cache: exact-match replay of generations, opt-in per key (`cache: true`) or per request
(`X-Switchpoint-Cache: true`, or OpenRouter's `X-OpenRouter-Cache*` headers).

Entries are keyed on the calling key, a scope the handler names (its route path: one route's entries
are not served on another) and the normalised canonical request, live in `state` (memory or Redis) for a TTL, and hold the canonical result (cache_entry: the
completion, or a stream's delta batches, and the usage), never rendered bytes: the inbound API's own
renderer turns a hit into its wire format, so one cache serves every API. A hit is replayed in the form
it was made (a stream as a stream, with the same chunking), gets a new generation id, costs nothing, and
is written to the ledger with `cache_hit`.

Handlers use it through a `CacheTurn`, the same calls for every inbound API: `turn()`, `lookup()`, then
`replay()` on a hit, or `tape()`/`store()`/`store_stream()` after a miss. A request that does not ask
for caching gets the shared `OFF` turn, whose calls do nothing: 0.6 us a request in process (0.3 us
with the former plan-and-check in the handler).

Measured in process (CPU time, best of 7), against the former byte-storing cache: a completion's miss
13.5 us (11), hit 18 us (16.5); a 51-delta stream's miss 75 us (74-94), its hit 104 us (30: it renders
each delta again, as a live relay does, instead of renaming ids in stored bytes). Entries are smaller:
679 bytes (1283) for a 60-word completion, 1963 (12477) for the 51-delta stream."""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass, field
from typing import Any

import orjson

from ..accounting.keys import KeyRecord
from ..accounting.ledger import LedgerWriter
from ..config.schema import ResponseCacheConfig
from ..errors import BadRequestError
from ..generation import GenerationRecord, new_record
from ..state import State
from ..types import ChatRequest, Completion, Delta, Usage
from . import cache_entry
from .context import ChatResult, RequestContext

PREFIXES = ("x-switchpoint-cache", "x-openrouter-cache")
CACHE_HEADERS = tuple(prefix + suffix for prefix in PREFIXES for suffix in ("", "-clear", "-ttl"))
TRUE, FALSE = frozenset({"true", "1", "yes", "on"}), frozenset({"false", "0", "no", "off"})
# Body fields that say who asks or how to report, not what to generate.
IGNORED = frozenset({"user", "metadata", "session_id", "stream_options", "usage"})
MAX_TTL = 86400.0


@dataclass(frozen=True, slots=True)
class CachePlan:
    key: str
    ttl: float
    clear: bool


@dataclass(slots=True)
class StreamTape:
    """What a streamed generation relayed, as canonical delta batches, kept so it can be stored once it
    completes. Each batch is encoded as it arrives, before the relay hides anything in it."""

    batches: list[list[dict[str, Any]]] = field(default_factory=list)
    record: GenerationRecord | None = None
    usage: Usage | None = None

    def add(self, batch: list[Delta]) -> None:
        self.batches.append(cache_entry.batch_dicts(batch))

    def finished(self, record: GenerationRecord, usage: Usage) -> None:
        self.record, self.usage = record, usage


@dataclass(frozen=True, slots=True)
class Hit:
    entry: dict[str, Any]
    age: int

    @property
    def usage(self) -> Usage:
        return cache_entry.load_usage(self.entry["usage"])

    @property
    def streamed(self) -> bool:
        return "batches" in self.entry

    def completion(self) -> Completion:
        return cache_entry.load_completion(self.entry["completion"])

    def batches(self) -> list[list[Delta]]:
        return cache_entry.load_batches(self.entry["batches"])

    def headers(self) -> list[tuple[bytes, bytes]]:
        return status_headers("HIT", self.age)


@dataclass(slots=True)
class Replay:
    """A hit, ready for any inbound API's renderer: the hit's own record (new generation id, billed 0,
    `cache_hit`), its usage and the canonical result: `completion`, or `batches` for a stream."""

    record: GenerationRecord
    usage: Usage
    completion: Completion | None
    batches: list[list[Delta]] | None
    headers: list[tuple[bytes, bytes]]  # x-generation-id and the HIT status headers


def status_headers(status: str, age: int | None = None) -> list[tuple[bytes, bytes]]:
    out = [(b"x-switchpoint-cache-status", status.encode()), (b"x-openrouter-cache-status", status.encode())]
    if age is not None:
        out += [(b"age", str(age).encode()), (b"x-openrouter-cache-age", str(age).encode())]
    return out


def _flag(headers: dict[str, str], suffix: str) -> bool | None:
    for prefix in PREFIXES:
        value = headers.get(prefix + suffix)
        if value is not None:
            value = value.strip().lower()
            if value in TRUE:
                return True
            if value in FALSE:
                return False
            raise BadRequestError(f"{prefix}{suffix}: use true or false", metadata={"param": prefix + suffix})
    return None


def _ttl(headers: dict[str, str], default: float) -> float:
    for prefix in PREFIXES:
        value = headers.get(prefix + "-ttl")
        if value is not None:
            try:
                ttl = float(value)
            except ValueError:
                ttl = 0.0
            if not 1 <= ttl <= MAX_TTL:
                raise BadRequestError(f"{prefix}-ttl: seconds from 1 to 86400", metadata={"param": prefix + "-ttl"})
            return ttl
    return default


def request_digest(scope: str, chat: ChatRequest) -> str:
    """The entry format's version is part of it: replicas of two versions sharing Redis (a rolling
    upgrade) never read each other's entries."""
    params = {k: v for k, v in chat.params.items() if k not in IGNORED}
    normalised = [cache_entry.VERSION, scope, chat.stream, chat.model, chat.models, chat.messages, params,
                  chat.provider, chat.reasoning]
    if chat.plugins:  # what the plugins add to the answer (web results, healed JSON) is part of it
        normalised.append(chat.plugins)
    if chat.native is not None:  # fields only an endpoint of that format reads (e.g. context_management)
        normalised.append({k: v for k, v in chat.native.body.items() if k not in IGNORED})
    return hashlib.sha256(orjson.dumps(normalised, option=orjson.OPT_SORT_KEYS)).hexdigest()


class ResponseCache:
    def __init__(self, state: State, ledger: LedgerWriter, config: ResponseCacheConfig) -> None:
        self.state = state
        self.ledger = ledger
        self.config = config

    def plan(self, key: KeyRecord, headers: dict[str, str], scope: str, chat: ChatRequest) -> CachePlan | None:
        """None unless the key or the request asks for caching (a request can also opt out)."""
        wanted = _flag(headers, "")
        if not (wanted if wanted is not None else key.cache):
            return None
        return CachePlan(f"{key.hash}:{request_digest(scope, chat)}", _ttl(headers, self.config.ttl),
                         bool(_flag(headers, "-clear")))

    async def lookup(self, plan: CachePlan) -> Hit | None:
        if plan.clear:
            await self.state.cache_delete(plan.key)
            return None
        raw = await self.state.cache_get(plan.key)
        if raw is None:
            return None
        entry = orjson.loads(raw)
        if entry.get("v") != cache_entry.VERSION:
            return None  # made by another version (bytes of one API): a miss, overwritten by this one's answer
        return Hit(entry, max(0, int(time.time() - entry["stored"])))

    async def store(self, plan: CachePlan, record: GenerationRecord, usage: Usage, *,
                    completion: Completion | None = None,
                    batches: list[list[dict[str, Any]]] | None = None) -> None:
        """Keep a successful generation: its `completion`, or a stream's encoded `batches` (StreamTape)."""
        if record.status != "success":
            return
        entry = cache_entry.entry(record, usage, time.time())
        if completion is not None:
            entry["completion"] = cache_entry.completion_dict(completion)
        if batches is not None:
            entry["batches"] = batches
        raw = orjson.dumps(entry)
        if len(raw) <= self.config.max_entry_bytes:
            await self.state.cache_put(plan.key, raw, ttl=plan.ttl)

    def record_hit(self, hit: Hit, generation_id: str, key: KeyRecord, *, streamed: bool, started: float,
                   user: str | None, api_type: str = "completions") -> GenerationRecord:
        """The ledger row of a hit: billed 0, marked cache_hit. Returns its record, which renders the hit."""
        entry = hit.entry
        record = new_record(generation_id, key.hash, entry["model"], streamed=streamed, cache_hit=True,
                            external_user=user, provider=entry["provider"], upstream_model=entry["upstream_model"],
                            finish_reason=entry["finish_reason"], usage=hit.usage, router=entry.get("router"),
                            api_type=api_type)
        record.latency_ms = (time.monotonic() - started) * 1000
        self.ledger.record(record.row())
        return record

    def turn(self, key: KeyRecord, headers: dict[str, str], scope: str, chat: ChatRequest) -> CacheTurn:
        """This request's use of the cache: `OFF` unless the key or the request asks for caching."""
        plan = self.plan(key, headers, scope, chat)
        return OFF if plan is None else CacheTurn(self, plan)


class CacheTurn:
    """One request's use of the response cache, the same calls for every inbound API:

        turn = cache.turn(key, headers, scope, chat); hit = await turn.lookup()
        hit:  turn.replay(ctx, streamed=...) -> Replay, rendered by the API's renderer
        miss: turn.headers on the response; turn.tape() to the stream relay, then store_stream(tape);
              or store(result) for a whole completion (before the API hides anything in it)."""

    __slots__ = ("cache", "plan", "hit")

    def __init__(self, cache: ResponseCache | None, plan: CachePlan | None) -> None:
        self.cache = cache
        self.plan = plan
        self.hit: Hit | None = None

    @property
    def headers(self) -> list[tuple[bytes, bytes]]:
        """The status headers of a miss (none when the request did not ask for caching)."""
        return status_headers("MISS") if self.plan is not None else []

    async def lookup(self) -> Hit | None:
        if self.cache is None or self.plan is None:
            return None
        self.hit = await self.cache.lookup(self.plan)
        return self.hit

    def replay(self, ctx: RequestContext, *, streamed: bool) -> Replay:
        """The hit under a new generation id, written to the ledger (billed 0)."""
        hit, cache = self.hit, self.cache
        assert hit is not None and cache is not None, "replay() follows a lookup() that hit"
        record = cache.record_hit(hit, ctx.generation_id, ctx.key, streamed=streamed, started=ctx.started,
                                  user=ctx.user, api_type=ctx.api_type)
        headers = [(b"x-generation-id", ctx.generation_id.encode()), *hit.headers()]
        if hit.streamed:
            return Replay(record, hit.usage, None, hit.batches(), headers)
        return Replay(record, hit.usage, hit.completion(), None, headers)

    def tape(self) -> StreamTape | None:
        return StreamTape() if self.plan is not None else None

    async def store(self, result: ChatResult) -> None:
        if self.cache is not None and self.plan is not None:
            await self.cache.store(self.plan, result.record, result.usage, completion=result.completion)

    async def store_stream(self, tape: StreamTape | None) -> None:
        if self.cache is None or self.plan is None or tape is None or tape.record is None or tape.usage is None:
            return
        await self.cache.store(self.plan, tape.record, tape.usage, batches=tape.batches)


OFF = CacheTurn(None, None)
