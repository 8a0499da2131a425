"""Settlement: what a generation cost, the reservation released, its tokens counted against the
key's limits, the serving endpoint's statistics, and its ledger row queued; and the rows of requests
that failed or were refused. One place, for every request kind and every inbound API."""

from __future__ import annotations

import logging
from collections.abc import Callable

from ..accounting import pricing
from ..accounting.budget import Budget, Reservation
from ..accounting.ledger import LedgerWriter
from ..accounting.limits import RateLimiter
from ..accounting.pricing import Charge, Pricer
from ..errors import SwitchpointError
from ..generation import GenerationRecord, new_record
from ..routing import BreakerStore, Candidate
from ..routing.auto import AutoChoice
from ..routing.health import Health
from ..types import Usage
from .context import RequestContext

log = logging.getLogger("switchpoint.engine")


class Settlement:
    def __init__(self, *, pricer: Pricer, budget: Budget, limiter: RateLimiter, ledger: LedgerWriter,
                 health: Health, breakers: BreakerStore, clock: Callable[[], float]) -> None:
        self.pricer = pricer
        self.budget = budget
        self.limiter = limiter
        self.ledger = ledger
        self.health = health
        self.breakers = breakers
        self.clock = clock

    async def settle(self, record: GenerationRecord, cand: Candidate, reservation: Reservation | None,
                     usage: Usage, ctx: RequestContext) -> None:
        """Price what was served, release the reservation, count tokens, and queue the ledger row."""
        record.usage = usage
        charged = record.status == "success" or usage.completion_tokens > 0
        charge = self.pricer.charge(cand.endpoint.price, usage, cand.endpoint.provider) if charged else Charge(0, 0)
        # A plugin's service (a web search) was used whether or not tokens are charged (OpenRouter's
        # zero-completion insurance leaves such services billed).
        record.cost_nanos, record.markup_nanos = charge.cost_nanos + ctx.extra_nanos, charge.markup_nanos
        record.completion_nanos = charge.completion_nanos
        if reservation is not None and record.cost_nanos > reservation.amount:
            log.warning("generation %s cost %d nano-USD, more than the %d reserved (usage beyond the "
                        "request's bounds)", record.id, charge.cost_nanos, reservation.amount)
        await self.budget.settle(reservation, record.cost_nanos)
        await self.limiter.consume_tokens(ctx.key, usage.total_tokens)
        self.observe_served(record, cand, usage)
        self.ledger.record(record.row())

    def observe_served(self, record: GenerationRecord, cand: Candidate, usage: Usage) -> None:
        """Statistics of the endpoint that served: its own time to first token / latency (not the
        request's, which includes earlier failed attempts) and the generation speed."""
        now = self.clock()
        if record.status == "error":  # failed mid-stream
            self.health.observe(cand.key, False, now)
            self.breakers.record(cand.key, False, now)
            return
        if record.status != "success":
            return
        attempt_ms = next((a["latency"] for a in reversed(record.attempts)
                           if a["status"] == 200 and a["kind"] is None), None)
        if record.streamed:
            generating = record.generation_ms
            ttft = attempt_ms
            latency = None if attempt_ms is None or generating is None else attempt_ms + generating
        else:
            ttft, latency, generating = None, attempt_ms, attempt_ms
        tps = None
        if generating and generating > 0 and usage.completion_tokens > 0:
            tps = usage.completion_tokens / (generating / 1000)
        self.health.observe(cand.key, True, now, latency_ms=latency, ttft_ms=ttft, tokens_per_second=tps)

    def refuse(self, record: GenerationRecord, err: SwitchpointError) -> None:
        """A request refused before any upstream attempt: a ledger row with the status and the reason,
        no tokens and no cost (its latency is left out, so it does not skew the latency figures)."""
        record.status, record.http_status, record.error = "refused", err.status, err.message
        self.ledger.record(record.row())

    def record_unserved(self, record: GenerationRecord) -> None:
        """A generation no endpoint served (the client left before the first token): recorded at no cost."""
        record.usage = Usage()
        self.ledger.record(record.row())

    def finish_failed(self, record: GenerationRecord, err: SwitchpointError, started: float | None = None) -> None:
        # refused: no attempt reached an upstream (the budget could not cover any, or every circuit opened)
        reached = any(a["kind"] != "budget" for a in record.attempts)
        record.status = "error" if reached else "refused"
        record.http_status = err.status
        record.error = err.message
        if started is not None:
            record.latency_ms = (self.clock() - started) * 1000
        self.ledger.record(record.row())

    def finish_cancelled(self, record: GenerationRecord, started: float) -> None:
        """Record a generation whose client went away before any output reached it, as a cancelled
        stream is recorded (status `cancelled`, 499); nothing was served, so nothing is charged."""
        record.status, record.http_status, record.error = "cancelled", 499, "client disconnected"
        record.latency_ms = (self.clock() - started) * 1000
        self.ledger.record(record.row())

    def estimate_usage(self, ctx: RequestContext, output_chars: int) -> Usage:
        return Usage(prompt_tokens=pricing.estimate_prompt_tokens(ctx.body_size),
                     completion_tokens=(output_chars + 3) // 4, estimated=True)

    def new_record(self, ctx: RequestContext, model: str, *, streamed: bool) -> GenerationRecord:
        return new_record(ctx.generation_id, ctx.key.hash, model, streamed=streamed, external_user=ctx.user,
                          api_type=ctx.api_type)

    @staticmethod
    def served(record: GenerationRecord, cand: Candidate, upstream_id: str | None,
               upstream_model: str | None, auto: AutoChoice | None = None) -> None:
        record.model = cand.model.id
        record.provider = cand.endpoint.provider
        record.upstream_model = upstream_model or cand.endpoint.model
        record.upstream_id = upstream_id
        if auto is not None:
            record.router = auto.describe(cand.model.id)
