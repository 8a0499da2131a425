"""The engine's data: a request's context, its planned route, how one attempt ended, and the results
handed back to the server. Plain data shared by core, attempts, settlement, stream and hedging, so
none of them imports another for a type."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Generic, Protocol, TypeVar

from ..accounting.budget import Reservation
from ..accounting.keys import KeyRecord
from ..errors import SwitchpointError, UpstreamError
from ..generation import GenerationRecord
from ..plugins import PluginRun
from ..providers.base import Target
from ..routing import Candidate, Preferences
from ..routing.auto import AutoChoice
from ..types import ChatRequest, Completion, Embeddings, Usage

T = TypeVar("T")


@dataclass(slots=True)
class RequestContext:
    key: KeyRecord
    generation_id: str
    started: float          # monotonic
    body_size: int = 0
    user: str | None = None
    api_type: str = "completions"  # the ledger's label for the API the request came in on
    context_floor: int = 0  # the largest window that answered "context length exceeded"; smaller ones are skipped
    extra_nanos: int = 0  # what plugins cost before any attempt (a web search): reserved and billed with it


@dataclass(slots=True)
class Route:
    """A planned request: candidates in order, whether it is for free models, the parsed preferences
    and, for `switchpoint/auto`, the tier it chose."""

    candidates: list[Candidate]
    free: bool
    prefs: Preferences
    auto: AutoChoice | None = None
    variant: str | None = None            # the first model's variant (`:nitro`, ...)
    conversation: str | None = None       # prompt-cache stickiness: the conversation's id, when it may stick
    sticky_endpoint: str | None = None    # the endpoint stickiness moved first


@dataclass(slots=True)
class Outcome(Generic[T]):
    """How trying one endpoint ended: served (`ok`), failed there, or never sent."""

    ok: bool = False
    result: T | None = None
    reservation: Reservation | None = None
    failure: UpstreamError | None = None
    budget_error: SwitchpointError | None = None
    attempt: int | None = None  # index of the served attempt in the record's attempts


@dataclass(slots=True)
class ChatResult:
    completion: Completion
    record: GenerationRecord
    usage: Usage


@dataclass(slots=True)
class EmbeddingResult:
    embeddings: Embeddings
    record: GenerationRecord


class Planner(Protocol):
    """What a stream needs of the engine's planning: admit the request (plan it, count it against the
    key's rate limits, record a refusal) and say whether to hedge it."""

    async def admit(self, request: ChatRequest, ctx: RequestContext, record: GenerationRecord) -> Route: ...

    async def run_plugins(self, request: ChatRequest, ctx: RequestContext, planned: Route,
                          record: GenerationRecord) -> PluginRun | None: ...

    def hedge_delay(self, planned: Route) -> float | None: ...

    def served(self, planned: Route, cand: Candidate, record: GenerationRecord) -> None: ...


def target(cand: Candidate) -> Target:
    return Target(cand.endpoint.model, cand.endpoint.max_output_tokens, cand.endpoint.context_length)
