"""Pure routing: which endpoints a request may use, in what order, and what to do after a failure.
No I/O, no asyncio; clock and randomness are passed in."""

from .plan import Candidate, plan
from .policy import Decision, backoff, decide

__all__ = ["Candidate", "Decision", "backoff", "decide", "plan"]
