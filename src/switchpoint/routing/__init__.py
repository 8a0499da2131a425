"""Pure routing: which endpoints a request may use, in what order, and what to do after a failure.
No I/O, no asyncio; clock and randomness are passed in."""

from .breaker import BreakerSettings, BreakerState, BreakerStore, MemoryBreakers
from .candidate import Candidate, RouteTable
from .order import Live
from .plan import explain, plan
from .policy import Decision, backoff, breaker_outcome, decide, next_step
from .preferences import Preferences, parse_preferences

__all__ = [
    "BreakerSettings", "BreakerState", "BreakerStore", "Candidate", "Decision", "Live", "MemoryBreakers",
    "Preferences", "RouteTable", "backoff", "breaker_outcome", "decide", "explain", "next_step",
    "parse_preferences", "plan",
]
