"""Response cache: exact-match replay of generations, opt-in per key (`cache: true`) or per request
(`X-Switchpoint-Cache: true`, or OpenRouter's `X-OpenRouter-Cache*` headers).

Entries are keyed on the calling key and the normalised request, live in `state` (memory or Redis)
for a TTL, and are replayed in the form they were made (a stream replays as a stream). A hit gets a
new generation id, costs nothing, and is written to the ledger with `cache_hit`."""

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
from ..types import ChatRequest, Usage
from .render import DONE, usage_dict

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
    """What a streamed generation sent, kept so it can be stored once it completes."""

    chunks: list[bytes] = field(default_factory=list)
    record: GenerationRecord | None = None
    usage: Usage | None = None
    closing: bytes = b""  # what the stream ended with (usage, terminal event), in the inbound API's framing

    def finished(self, record: GenerationRecord, usage: Usage) -> None:
        self.record, self.usage = record, usage


@dataclass(frozen=True, slots=True)
class Hit:
    entry: dict[str, Any]
    age: int

    @property
    def usage(self) -> Usage:
        return Usage(**self.entry["usage"])

    def headers(self) -> list[tuple[bytes, bytes]]:
        return status_headers("HIT", self.age)


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


def request_digest(path: str, chat: ChatRequest) -> str:
    params = {k: v for k, v in chat.params.items() if k not in IGNORED}
    normalised = [path, chat.stream, chat.model, chat.models, chat.messages, params, chat.provider, chat.reasoning]
    if chat.native is not None:  # fields only an endpoint of that format reads (e.g. context_management)
        normalised.append({k: v for k, v in chat.native.body.items() if k not in IGNORED})
    return hashlib.sha256(orjson.dumps(normalised, option=orjson.OPT_SORT_KEYS)).hexdigest()


class ResponseCache:
    def __init__(self, state: State, ledger: LedgerWriter, config: ResponseCacheConfig) -> None:
        self.state = state
        self.ledger = ledger
        self.config = config

    def plan(self, key: KeyRecord, headers: dict[str, str], path: str, chat: ChatRequest) -> CachePlan | None:
        """None unless the key or the request asks for caching (a request can also opt out)."""
        wanted = _flag(headers, "")
        if not (wanted if wanted is not None else key.cache):
            return None
        return CachePlan(f"{key.hash}:{request_digest(path, chat)}", _ttl(headers, self.config.ttl),
                         bool(_flag(headers, "-clear")))

    async def lookup(self, plan: CachePlan) -> Hit | None:
        if plan.clear:
            await self.state.cache_delete(plan.key)
            return None
        raw = await self.state.cache_get(plan.key)
        if raw is None:
            return None
        entry = orjson.loads(raw)
        return Hit(entry, max(0, int(time.time() - entry["stored"])))

    async def store(self, plan: CachePlan, record: GenerationRecord, usage: Usage, *, body: bytes | None = None,
                    chunks: list[bytes] | None = None) -> None:
        if record.status != "success":
            return
        entry: dict[str, Any] = {
            "stored": time.time(), "id": record.id, "model": record.model, "provider": record.provider,
            "upstream_model": record.upstream_model, "finish_reason": record.finish_reason,
            "usage": {"prompt_tokens": usage.prompt_tokens, "completion_tokens": usage.completion_tokens,
                      "cached_tokens": usage.cached_tokens, "cache_write_tokens": usage.cache_write_tokens,
                      "reasoning_tokens": usage.reasoning_tokens, "estimated": usage.estimated},
        }
        if body is not None:
            entry["body"] = body.decode()
        if chunks is not None:
            entry["chunks"] = [c.decode() for c in chunks]
        raw = orjson.dumps(entry)
        if len(raw) <= self.config.max_entry_bytes:
            await self.state.cache_put(plan.key, raw, ttl=plan.ttl)

    def record_hit(self, hit: Hit, generation_id: str, key: KeyRecord, *, streamed: bool, started: float,
                   user: str | None, api_type: str = "completions") -> None:
        """The ledger row of a hit: billed 0, marked cache_hit."""
        entry = hit.entry
        record = new_record(generation_id, key.hash, entry["model"], streamed=streamed, cache_hit=True,
                            external_user=user, provider=entry["provider"], upstream_model=entry["upstream_model"],
                            finish_reason=entry["finish_reason"], usage=hit.usage, api_type=api_type)
        record.latency_ms = (time.monotonic() - started) * 1000
        self.ledger.record(record.row())

    @staticmethod
    def replay_body(hit: Hit, generation_id: str, created: int) -> bytes:
        body = orjson.loads(hit.entry["body"])
        body.update(id=generation_id, created=created, cache_hit=True)
        body["usage"] = usage_dict(hit.usage, 0)
        return orjson.dumps(body)

    @staticmethod
    def replay_stream(hit: Hit, generation_id: str, created: int, legacy: bool) -> list[bytes]:
        """The stored chunks under the new id, then a usage chunk billed 0, then [DONE]."""
        entry = hit.entry
        # A stored chunk may hold several events (one upstream read each): rename the id in all of them.
        old_id, new_id = b'"id":"' + entry["id"].encode() + b'"', b'"id":"' + generation_id.encode() + b'"'
        chunks = [c.encode().replace(old_id, new_id) for c in entry["chunks"]]
        tail = {"id": generation_id, "object": "text_completion" if legacy else "chat.completion.chunk",
                "created": created, "model": entry["model"], "provider": entry["provider"], "choices": [],
                "usage": usage_dict(hit.usage, 0), "cache_hit": True}
        return [*chunks, b"data: " + orjson.dumps(tail) + b"\n\n" + DONE]
