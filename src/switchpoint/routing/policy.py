"""What to do after a failed attempt, and how long to wait before retrying."""

from __future__ import annotations

import enum
import random

from ..errors import CONTEXT, FAIL_OVER, INVALID, RATE_LIMIT, RETRY_SAME, UpstreamError

BASE_DELAY = 0.2
MAX_DELAY = 5.0


class Decision(enum.Enum):
    RETRY = "retry"   # same endpoint again, after a backoff
    NEXT = "next"     # move on to the next candidate
    STOP = "stop"     # return this error to the client


def decide(error: UpstreamError, retries_done: int, max_retries: int) -> Decision:
    if error.kind in RETRY_SAME and retries_done < max_retries:
        return Decision.RETRY
    if error.kind in FAIL_OVER:
        return Decision.NEXT
    return Decision.STOP


def backoff(retries_done: int, rng: random.Random, *, base: float = BASE_DELAY, cap: float = MAX_DELAY,
            retry_after: float | None = None) -> float:
    """Exponential backoff with full jitter; a provider's Retry-After is honoured as a floor."""
    delay = rng.uniform(0, min(cap, base * (2 ** retries_done)))
    if retry_after is not None:
        delay = max(delay, min(retry_after, cap))
    return delay


def next_step(error: UpstreamError, retries_done: int, max_retries: int, rng: random.Random, *,
              remaining: float, base: float = BASE_DELAY, cap: float = MAX_DELAY) -> tuple[Decision, float]:
    """`decide`, then the wait before a retry. A retry that would not start before the deadline, or
    whose Retry-After is longer than the backoff cap, becomes a move to the next endpoint."""
    decision = decide(error, retries_done, max_retries)
    if decision is not Decision.RETRY:
        return decision, 0.0
    if error.retry_after is not None and error.retry_after > cap:
        return Decision.NEXT, 0.0
    delay = backoff(retries_done, rng, base=base, cap=cap, retry_after=error.retry_after)
    if delay >= remaining:
        return Decision.NEXT, 0.0
    return Decision.RETRY, delay


def breaker_outcome(error: UpstreamError) -> bool | None:
    """How a failure counts for the endpoint's breaker and uptime: a rejected request proves the
    endpoint answers (True); a rate limit is neither healthy nor broken (None)."""
    if error.kind in (INVALID, CONTEXT):
        return True
    if error.kind == RATE_LIMIT:
        return None
    return False
