"""Per-key rate limits (requests and tokens per interval), and requests per interval per end user of
a key (`user_rate_limit`), on sliding windows kept in `state`. All of a request's windows are checked
in one atomic hit: a refused request takes nothing."""

from __future__ import annotations

import time
from dataclasses import dataclass

from ..errors import RateLimitError
from ..state import State, Window
from .keys import KeyRecord

FREE_REQUESTS_PER_MINUTE = 20
FREE_REQUESTS_PER_DAY = 1000
UNBOUNDED = 1 << 62


@dataclass(slots=True)
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
        # (key hash, free) -> (the key record they were made for, its windows); rebuilt when the key
        # record is reloaded, so a changed limit applies as soon as the key cache sees it
        self._windows: dict[tuple[str, bool], tuple[KeyRecord, list[tuple[Window, str]]]] = {}

    def windows(self, key: KeyRecord, free: bool) -> list[tuple[Window, str]]:
        """The windows one request counts against, each with the name a 429 gives it."""
        cached = self._windows.get((key.hash, free))
        if cached is not None and cached[0] is key:
            return cached[1]
        windows = self._build_windows(key, free)
        if len(self._windows) >= 10_000:
            self._windows.clear()
        self._windows[(key.hash, free)] = (key, windows)
        return windows

    def _build_windows(self, key: KeyRecord, free: bool) -> list[tuple[Window, str]]:
        windows = []
        if key.rate_limit_requests:
            windows.append((Window(f"rq:{key.hash}", key.rate_limit_requests, key.rate_limit_interval or 60.0),
                            "requests"))
        if key.token_limit_tokens:
            # A token window that is already full refuses new requests until it drains.
            windows.append((Window(f"tk:{key.hash}", key.token_limit_tokens, key.token_limit_interval or 60.0, 0),
                            "tokens"))
        if free:
            windows.append((Window(f"fm:{key.hash}", self.free_per_minute, 60.0), "free-models-per-min"))
            windows.append((Window(f"fd:{key.hash}", self.free_per_day, 86400.0), "free-models-per-day"))
        return windows

    async def admit(self, key: KeyRecord, *, free: bool = False, user: str | None = None) -> RateHeaders | None:
        """Count one request against the key's limits (and its end user's, when the request names one
        and the key has a `user_rate_limit`); raises RateLimitError (429) when over. Returns the state
        of the key's request window (None when it has none)."""
        named = self.windows(key, free)
        if user is not None and key.user_rate_limit_requests:
            named = [*named, (Window(f"ru:{key.hash}:{user}", key.user_rate_limit_requests,
                                     key.user_rate_limit_interval or 60.0), "user-requests")]
        if not named:
            return None
        now = time.time()
        check = await self.state.hit([w for w, _ in named], now)
        i = check.refused if check.refused >= 0 else 0
        window, what = named[i]
        headers = RateHeaders(window.limit, check.remaining[i], int((now + check.reset[i]) * 1000))
        if check.refused >= 0 and what == "user-requests":
            raise RateLimitError(f"Rate limit exceeded: end user '{user}' of this key is limited to {window.limit} "
                                 f"requests per {window.seconds:g} s (the key's user_rate_limit).",
                                 retry_after=check.reset[i], headers=headers.as_dict(),
                                 metadata={"limit": what, "user": user})
        if check.refused >= 0:
            raise RateLimitError(f"Rate limit exceeded: {what}.", retry_after=check.reset[i],
                                 headers=headers.as_dict(), metadata={"limit": what})
        return headers if what == "requests" else None

    async def free_requests_left(self, key: KeyRecord) -> int:
        """Requests to free models the key has left in its sliding day (read, not counted)."""
        window = Window(f"fd:{key.hash}", self.free_per_day, 86400.0, cost=0)
        return (await self.state.hit([window], time.time())).remaining[0]

    async def consume_tokens(self, key: KeyRecord, tokens: int) -> None:
        if key.token_limit_tokens and tokens > 0:
            # Recorded even past the limit (the tokens were spent); later requests wait for the window.
            window = Window(f"tk:{key.hash}", UNBOUNDED, key.token_limit_interval or 60.0, tokens)
            await self.state.hit([window], time.time())
