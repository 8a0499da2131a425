"""What the ledger records about one generation (and what /api/v1/generation returns)."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import orjson

from .types import Usage


@dataclass(slots=True)
class GenerationRecord:
    id: str
    key_hash: str
    created: float
    model: str
    api_type: str = "completions"
    streamed: bool = False
    provider: str | None = None
    upstream_model: str | None = None
    upstream_id: str | None = None
    status: str = "success"
    http_status: int = 200
    cache_hit: bool = False
    finish_reason: str | None = None
    native_finish_reason: str | None = None
    usage: Usage = field(default_factory=Usage)
    cost_nanos: int = 0
    markup_nanos: int = 0
    completion_nanos: int = 0  # the completion tokens' share of the upstream cost (not stored)
    latency_ms: float | None = None
    ttft_ms: float | None = None
    generation_ms: float | None = None
    external_user: str | None = None
    error: str | None = None
    attempts: list[dict[str, Any]] = field(default_factory=list)
    router: dict[str, Any] | None = None  # switchpoint/auto: {router, model, tier, reason}
    upstream_ms: float = 0.0   # time spent waiting on upstream attempts (to the first output, for streams)

    def overhead_ms(self, now_ms: float) -> float:
        """The gateway's own share of the time so far: everything but waiting on upstreams."""
        return max(0.0, now_ms - self.upstream_ms)

    def add_attempt(self, provider: str, model: str, upstream_model: str, status: int | None,
                    latency_ms: float, error: str | None = None, kind: str | None = None) -> None:
        self.attempts.append({
            "provider": provider, "model": model, "upstream_model": upstream_model, "status": status,
            "latency": round(latency_ms, 2), "error": error, "kind": kind,
        })

    def row(self) -> dict[str, Any]:
        u = self.usage
        return {
            "id": self.id, "created_at_ms": int(self.created * 1000), "key_hash": self.key_hash,
            "api_type": self.api_type, "model": self.model, "provider": self.provider,
            "upstream_model": self.upstream_model, "upstream_id": self.upstream_id, "status": self.status,
            "http_status": self.http_status, "streamed": self.streamed, "cache_hit": self.cache_hit,
            "finish_reason": self.finish_reason, "native_finish_reason": self.native_finish_reason,
            "prompt_tokens": u.prompt_tokens, "completion_tokens": u.completion_tokens,
            "cached_tokens": u.cached_tokens, "cache_write_tokens": u.cache_write_tokens,
            "reasoning_tokens": u.reasoning_tokens, "usage_estimated": u.estimated,
            "cost_nanos": self.cost_nanos, "markup_nanos": self.markup_nanos,
            "latency_ms": self.latency_ms, "ttft_ms": self.ttft_ms, "generation_ms": self.generation_ms,
            "external_user": self.external_user, "error": self.error,
            "attempts": orjson.dumps(self.attempts).decode() if self.attempts else None,
            "router": orjson.dumps(self.router).decode() if self.router else None,
            "upstream_ms": self.upstream_ms,
            "overhead_ms": self.overhead_ms(self.ttft_ms if self.streamed and self.ttft_ms else self.latency_ms or 0.0),
        }


def new_record(generation_id: str, key_hash: str, model: str, **fields: Any) -> GenerationRecord:
    return GenerationRecord(id=generation_id, key_hash=key_hash, created=time.time(), model=model, **fields)
