"""The one orchestrator that does I/O: plan -> attempt -> translate -> account.

`core` plans a request and carries it through; `attempts` is the attempt loop (retries, failover,
budget reservations, the ranking of failures); `settlement` prices what was served and queues the
ledger row; `stream` relays a streamed generation and `hedging` races two endpoints, both through the
narrow interfaces of `attempts`, `settlement` and `context.Planner`, never the engine's attributes, so
nothing imports `core` back. `cache` answers repeated requests; `breakers` shares circuit breakers
between replicas. The engine never learns which inbound API a request came from."""

from .context import ChatResult, EmbeddingResult, RequestContext, target
from .core import Engine

__all__ = ["ChatResult", "EmbeddingResult", "Engine", "RequestContext", "target"]
