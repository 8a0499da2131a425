"""Per-key rate limits (requests and tokens per interval) on sliding windows kept in `state`."""

from __future__ import annotations

import time
from dataclasses import dataclass

from ..errors import RateLimitError
from ..state import State
from .keys import KeyRecord

FREE_REQUESTS_PER_MINUTE = 20
FREE_REQUESTS_PER_DAY = 1000


@dataclass(frozen=True, slots=True)
class RateHeaders:
    limit: int
    remaining: int
    reset_ms: int

    def as_dict(self) -> dict[str, str]:
        return {"X-RateLimit-Limit": str(self.limit), "X-RateLimit-Remaining": str(self.remaining),
                "X-RateLimit-Reset": str(self.reset_ms)}


class RateLimiter:
    def __init__(self, state: State, *, free_per_minute: int = FREE_REQUESTS_PER_MINUTE,
                 free_per_day: int = FREE_REQUESTS_PER_DAY) -> None:
        self.state = state
        self.free_per_minute = free_per_minute
        self.free_per_day = free_per_day

    async def admit(self, key: KeyRecord, *, free: bool = False) -> RateHeaders | None:
        """Count one request against the key's limits; raises RateLimitError (429) when over."""
        now = time.time()
        headers = None
        if key.rate_limit_requests:
            headers = await self._hit(f"rl:{key.hash}", key.rate_limit_requests, key.rate_limit_interval or 60.0,
                                      1, now, "requests")
        if key.token_limit_tokens:
            # A token window that is already full refuses new requests until it drains.
            await self._hit(f"tl:{key.hash}", key.token_limit_tokens, key.token_limit_interval or 60.0, 0, now,
                            "tokens")
        if free:
            await self._hit(f"free-min:{key.hash}", self.free_per_minute, 60.0, 1, now, "free-models-per-min")
            await self._hit(f"free-day:{key.hash}", self.free_per_day, 86400.0, 1, now, "free-models-per-day")
        return headers

    async def consume_tokens(self, key: KeyRecord, tokens: int) -> None:
        if key.token_limit_tokens and tokens > 0:
            # Recorded even past the limit (the tokens were spent); later requests wait for the window.
            await self.state.hit(f"tl:{key.hash}", 1 << 62, key.token_limit_interval or 60.0, tokens, time.time())

    async def _hit(self, bucket: str, limit: int, window: float, cost: int, now: float, what: str) -> RateHeaders:
        if cost == 0:
            ok, remaining, reset = await self.state.hit(bucket, limit, window, 0, now)
            ok = remaining > 0
        else:
            ok, remaining, reset = await self.state.hit(bucket, limit, window, cost, now)
        headers = RateHeaders(limit, remaining, int((now + reset) * 1000))
        if not ok:
            raise RateLimitError(f"Rate limit exceeded: {what}.", retry_after=reset,
                                 headers=headers.as_dict(), metadata={"limit": what})
        return headers
