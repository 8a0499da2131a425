"""What to do after a failed attempt, and how long to wait before retrying."""

from __future__ import annotations

import enum
import random

from ..errors import FAIL_OVER, RETRY_SAME, UpstreamError


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


def backoff(retries_done: int, rng: random.Random, *, base: float = 0.2, cap: float = 5.0,
            retry_after: float | None = None) -> float:
    """Exponential backoff with full jitter; a provider's Retry-After is honoured as a floor."""
    delay = rng.uniform(0, min(cap, base * (2 ** retries_done)))
    if retry_after is not None:
        delay = max(delay, min(retry_after, cap))
    return delay
