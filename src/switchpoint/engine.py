"""The only orchestrator that does I/O: plan -> attempt -> translate -> account.

Handlers call `complete`, `stream` or `embed`; each resolves the model(s), asks routing for the
ordered candidates, reserves budget, tries endpoints under the retry policy, prices what was
served, settles the reservation and queues a ledger row, for success and failure alike."""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from . import routing
from .accounting import pricing
from .accounting.budget import Budget, InsufficientBudgetError, Reservation, limit_exceeded
from .accounting.keys import KeyRecord
from .accounting.ledger import LedgerWriter
from .accounting.limits import RateLimiter
from .accounting.pricing import Charge, Pricer
from .config import Config
from .config.catalogue import Catalogue, Model
from .errors import (
    BadRequestError,
    NotFoundError,
    PaymentRequiredError,
    RequestTimeoutError,
    ServiceUnavailableError,
    SwitchpointError,
    UpstreamError,
)
from .generation import GenerationRecord, new_record
from .observability.context import capture_output
from .providers.base import Provider, Target
from .redact import Redactor
from .routing import BreakerSettings, BreakerStore, Candidate, Decision, Live, MemoryBreakers, Preferences
from .routing.auto import AUTO_MODEL, AutoChoice, AutoRouter, build_auto
from .routing.health import Health
from .transport import Transport
from .types import ChatRequest, Completion, EmbeddingRequest, Embeddings, UpstreamRequest, Usage

if TYPE_CHECKING:
    from .engine_stream import ChatStream

log = logging.getLogger("switchpoint.engine")
T = TypeVar("T")
MIN_PROMPT_TOKENS = 16  # the smallest request worth sending, for telling a spent limit (403) from 402
# Which failure is most useful to the client when every candidate failed (higher wins).
_ERROR_RANK = {"invalid": 9, "rate_limit": 6, "overloaded": 5, "timeout": 4, "auth": 3, "quota": 3,
               "server": 2, "malformed": 2, "endpoint": 1, "connect": 0}


@dataclass(slots=True)
class RequestContext:
    key: KeyRecord
    generation_id: str
    started: float          # monotonic
    body_size: int = 0
    user: str | None = None
    api_type: str = "completions"  # the ledger's label for the API the request came in on


@dataclass(slots=True)
class Route:
    """A planned request: candidates in order, whether it is for free models, the parsed preferences
    and, for `switchpoint/auto`, the tier it chose."""

    candidates: list[Candidate]
    free: bool
    prefs: Preferences
    auto: AutoChoice | None = None


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


class Engine:
    def __init__(self, *, config: Config, catalogue: Catalogue, providers: dict[str, Provider],
                 transport: Transport, budget: Budget, limiter: RateLimiter, ledger: LedgerWriter,
                 health: Health | None = None, rng: random.Random | None = None,
                 clock: Callable[[], float] = time.monotonic, pricer: Pricer | None = None,
                 breakers: BreakerStore | None = None) -> None:
        self.config = config
        self.catalogue = catalogue
        self.providers = providers
        self.transport = transport
        self.budget = budget
        self.limiter = limiter
        self.ledger = ledger
        self.pricer = pricer or Pricer()
        self.health = health or Health()
        self.rng = rng or random.Random()
        self.clock = clock
        self.breakers: BreakerStore = breakers or MemoryBreakers(
            BreakerSettings(**config.routing.breaker.model_dump()))
        self.routes = routing.RouteTable(catalogue)
        self.auto: AutoRouter | None = build_auto(config, catalogue)
        self.redactor = Redactor.from_config(config)  # upstream error text is cleaned once, where caught
        self._background: set[asyncio.Task[Any]] = set()

    # -- planning -------------------------------------------------------------------------------

    def resolve(self, model_ids: list[str]) -> list[tuple[Model, str | None]]:
        resolved = []
        for model_id in model_ids:
            base, variant = self.catalogue.split_variant(model_id)
            model = self.catalogue.get(base)
            if model is None:
                raise BadRequestError(f"{model_id} is not a valid model ID", metadata={"model": model_id})
            resolved.append((model, variant))
        return resolved

    def live(self) -> Live:
        return Live(self.health, self.breakers, self.clock(), self.config.routing.healthy_window)

    def route(self, request: ChatRequest) -> Route:
        """Resolve the requested model(s) (expanding `switchpoint/auto`) and order their endpoints."""
        prefs = routing.parse_preferences(request.provider)
        ids = list(dict.fromkeys([request.model, *request.models])) if request.models else [request.model]
        auto = None
        if AUTO_MODEL in ids:
            auto = self.auto.choose(request) if self.auto is not None else None
            if auto is None:
                raise BadRequestError(f"{AUTO_MODEL} is not enabled or has no models to choose from",
                                      metadata={"model": AUTO_MODEL})
            at = ids.index(AUTO_MODEL)
            ids = list(dict.fromkeys([*ids[:at], *auto.models, *ids[at + 1:]]))
        models = self.resolve(ids)
        for model, _ in models:
            if model.is_embedding:
                raise BadRequestError(f"{model.id} is an embedding model: use /api/v1/embeddings",
                                      metadata={"error_type": "wrong_endpoint"})
        live = self.live()
        candidates = routing.plan(models, request, self.rng, prefs=prefs, table=self.routes, live=live)
        if not candidates:
            raise routing.explain(models, request, prefs, live, self.routes)
        free = all(c.free for c in candidates) or any(v == "free" for _, v in models)
        return Route(candidates, free, prefs, auto)

    def plan(self, request: ChatRequest) -> tuple[list[Candidate], bool]:
        """Ordered candidates, and whether the request is for free models (own rate limits)."""
        planned = self.route(request)
        return planned.candidates, planned.free

    # -- non-streaming chat ------------------------------------------------------------------

    async def admit(self, request: ChatRequest, ctx: RequestContext, record: GenerationRecord) -> Route:
        """Plan the request and count it against the key's rate limits. A refusal here (unknown model,
        no endpoint or every circuit open, rate limited) is recorded in the ledger, then raised. While the
        ledger cannot take rows, a 503 first: nothing is served unaccounted, whatever API asked."""
        self.ledger.admit()
        try:
            planned = self.route(request)
            await self.limiter.admit(ctx.key, free=planned.free)
        except SwitchpointError as err:
            self.refuse(record, err)
            raise
        return planned

    async def complete(self, request: ChatRequest, ctx: RequestContext) -> ChatResult:
        record = self.new_record(ctx, request.model, streamed=False)
        planned = await self.admit(request, ctx, record)
        try:
            completion, cand, reservation = await self.attempt_all(request, ctx, planned.candidates, record,
                                                                   self._complete_once)
        except SwitchpointError as err:
            self.finish_failed(record, err, ctx.started)
            raise
        except asyncio.CancelledError:  # the client went away: the attempt released its reservation
            self.finish_cancelled(record, ctx.started)
            raise
        record.latency_ms = (self.clock() - ctx.started) * 1000
        first = completion.choices[0] if completion.choices else None
        usage = completion.usage or self.estimate_usage(ctx, sum(len(c.content or "") for c in completion.choices))
        self.served(record, cand, completion.upstream_id, completion.upstream_model, planned.auto)
        capture_output(first.content if first else None)
        record.finish_reason = first.finish_reason if first else None
        record.native_finish_reason = first.native_finish_reason if first else None
        await self.settle(record, cand, reservation, usage, ctx)
        return ChatResult(completion, record, usage)

    async def _complete_once(self, request: ChatRequest, provider: Provider, cand: Candidate,
                             timeout: float) -> Completion:
        return provider.read_chat(request, await self.exchange(provider, provider.build_chat(request, target(cand)),
                                                               timeout))

    async def exchange(self, provider: Provider, upstream: UpstreamRequest, timeout: float) -> bytes:
        """Send one non-streaming request; the body of a 2xx answer, else the provider's error."""
        response = await self.transport.send(upstream, first_byte_timeout=timeout, provider=provider.connection.name)
        try:
            body = await response.read()
        finally:
            response.release()
        if response.status >= 400:
            raise provider.parse_error(response.status, response.headers, body)
        return body

    # -- streaming chat ----------------------------------------------------------------------

    def stream(self, request: ChatRequest, ctx: RequestContext) -> ChatStream:
        from .engine_stream import ChatStream  # noqa: PLC0415 - split module, imported lazily to avoid a cycle

        return ChatStream(self, request, ctx)

    # -- embeddings --------------------------------------------------------------------------

    async def embed(self, request: EmbeddingRequest, ctx: RequestContext) -> EmbeddingResult:
        record = self.new_record(ctx, request.model, streamed=False)
        record.api_type = "embeddings"
        self.ledger.admit()
        chat_like = ChatRequest(model=request.model, messages=[], provider=request.provider)
        try:
            models = self.resolve([request.model])
            prefs = routing.parse_preferences(request.provider)
            live = self.live()
            candidates = routing.plan(models, chat_like, self.rng, prefs=prefs, table=self.routes, live=live)
            if not candidates:
                raise routing.explain(models, chat_like, prefs, live, self.routes)
            await self.limiter.admit(ctx.key)
        except SwitchpointError as err:
            self.refuse(record, err)
            raise

        async def once(_req: ChatRequest, provider: Provider, cand: Candidate, timeout: float) -> Embeddings:
            body = await self.exchange(provider, provider.build_embeddings(request, target(cand)), timeout)
            return provider.parse_embeddings(body)

        try:
            embeddings, cand, reservation = await self.attempt_all(chat_like, ctx, candidates, record, once)
        except SwitchpointError as err:
            self.finish_failed(record, err, ctx.started)
            raise
        except asyncio.CancelledError:
            self.finish_cancelled(record, ctx.started)
            raise
        record.latency_ms = (self.clock() - ctx.started) * 1000
        self.served(record, cand, None, embeddings.upstream_model)
        usage = embeddings.usage
        if not usage.prompt_tokens:
            usage = Usage(prompt_tokens=pricing.estimate_prompt_tokens(ctx.body_size), estimated=True)
        await self.settle(record, cand, reservation, usage, ctx)
        return EmbeddingResult(embeddings, record)

    # -- the attempt loop shared by every request kind -------------------------------------------

    async def attempt_all(
        self, request: ChatRequest, ctx: RequestContext, candidates: list[Candidate], record: GenerationRecord,
        once: Callable[[ChatRequest, Provider, Candidate, float], Awaitable[T]],
    ) -> tuple[T, Candidate, Reservation | None]:
        """Try each candidate in turn (with retries on the same endpoint) until one serves."""
        deadline = ctx.started + self.config.server.request_deadline
        outcomes: list[tuple[Outcome[T], Candidate]] = []
        for cand in candidates:
            outcome = await self.attempt_endpoint(request, ctx, cand, record, once, deadline)
            if outcome.ok:
                return outcome.result, cand, outcome.reservation  # type: ignore[return-value]
            outcomes.append((outcome, cand))
        raise self.final_error(request, record, outcomes)

    async def attempt_endpoint(
        self, request: ChatRequest, ctx: RequestContext, cand: Candidate, record: GenerationRecord,
        once: Callable[[ChatRequest, Provider, Candidate, float], Awaitable[T]], deadline: float,
    ) -> Outcome[T]:
        """One endpoint, retried under the policy. Raises the client's error when the upstream
        rejected the request (never retried elsewhere) or the deadline passed."""
        provider = self.providers[cand.endpoint.provider]
        retry = self.config.routing.retry
        retries = 0
        while True:
            now = self.clock()
            if deadline - now <= 0:
                raise RequestTimeoutError("Operation timed out. Please try again later.",
                                          metadata={"attempts": record.attempts})
            if not self.breakers.admit(cand.key, now):
                return Outcome()  # its breaker opened (or another request holds the probe) since planning
            try:
                reservation = await self.reserve(ctx, request, cand)
            except InsufficientBudgetError as exc:
                self.breakers.record(cand.key, None, now)
                record.add_attempt(cand.endpoint.provider, cand.model.id, cand.endpoint.model, 402, 0.0,
                                   "the key's remaining budget cannot cover this endpoint", "budget")
                return Outcome(budget_error=self.payment_error(exc, request, ctx, cand))
            started = self.clock()
            try:
                result = await once(request, provider, cand, min(provider.connection.timeout, deadline - started))
            except UpstreamError as err:
                self.redactor.error(err)
                await self.budget.settle(reservation, 0)
                now = self.clock()
                elapsed = (now - started) * 1000
                record.upstream_ms += elapsed
                record.add_attempt(cand.endpoint.provider, cand.model.id, cand.endpoint.model, err.status,
                                   elapsed, err.message, err.kind)
                self.observe_failure(cand, err, now)
                decision, delay = routing.next_step(err, retries, provider.connection.max_retries, self.rng,
                                                    remaining=deadline - now, base=retry.base_delay,
                                                    cap=retry.max_delay)
                if decision is Decision.RETRY:
                    await asyncio.sleep(delay)
                    retries += 1
                    continue
                if decision is Decision.STOP:
                    raise err.to_client_error(cand.endpoint.provider, record.attempts) from None
                return Outcome(failure=err)
            except BaseException:
                self.breakers.record(cand.key, None, self.clock())  # frees a half-open probe slot
                self.spawn(self.budget.settle(reservation, 0))
                raise
            now = self.clock()
            elapsed = (now - started) * 1000
            record.upstream_ms += elapsed
            record.add_attempt(cand.endpoint.provider, cand.model.id, cand.endpoint.model, 200, elapsed)
            self.breakers.record(cand.key, True, now)
            return Outcome(True, result, reservation, attempt=len(record.attempts) - 1)

    def observe_failure(self, cand: Candidate, err: UpstreamError, now: float) -> None:
        outcome = routing.breaker_outcome(err)
        self.breakers.record(cand.key, outcome, now)
        if outcome is None:
            self.health.observe(cand.key, False, now, counted=False, retry_after=err.retry_after)
        else:
            self.health.observe(cand.key, outcome, now)

    def final_error(self, request: ChatRequest, record: GenerationRecord,
                    outcomes: list[tuple[Outcome[Any], Candidate]]) -> SwitchpointError:
        """Every candidate failed: the most informative failure, listing every attempt."""
        failures = [(o.failure, c) for o, c in outcomes if o.failure is not None]
        if failures:
            err, cand = max(reversed(failures), key=lambda f: _ERROR_RANK.get(f[0].kind, 0))
            return err.to_client_error(cand.endpoint.provider, record.attempts)
        budget_error = next((o.budget_error for o, _ in outcomes if o.budget_error is not None), None)
        if budget_error is not None:
            return budget_error
        if outcomes:
            err503 = ServiceUnavailableError(f"No healthy endpoints for {request.model}: every provider is "
                                             "failing; retry shortly.", metadata={"model": request.model})
            err503.headers["Retry-After"] = "1"
            return err503
        return NotFoundError(f"No endpoints found for {request.model}.")

    # -- accounting --------------------------------------------------------------------------

    def worst_case_tokens(self, request: ChatRequest, ctx: RequestContext, cand: Candidate) -> tuple[int, int]:
        """Upper bounds on prompt and output tokens: what a reservation must cover."""
        context = cand.endpoint.context_length or cand.model.context_length
        prompt = pricing.prompt_bound(ctx.body_size, request.messages, context)
        if cand.model.is_embedding:
            return prompt, 0
        output = (request.max_tokens or cand.endpoint.max_output_tokens or cand.model.max_output_tokens
                  or context or 16384)
        return prompt, output

    async def reserve(self, ctx: RequestContext, request: ChatRequest, cand: Candidate) -> Reservation | None:
        if ctx.key.limit_nanos is None:
            return None
        prompt, output = self.worst_case_tokens(request, ctx, cand)
        amount = self.pricer.worst_case(cand.endpoint.price, prompt, output, cand.endpoint.provider)
        return await self.budget.reserve(ctx.key, amount)

    def payment_error(self, exc: InsufficientBudgetError, request: ChatRequest, ctx: RequestContext,
                      cand: Candidate) -> SwitchpointError:
        """402 saying how many tokens the key can afford; 403 when what is left of the limit could not
        pay for even a minimal request (the limit is spent)."""
        prompt, output = self.worst_case_tokens(request, ctx, cand)
        price, provider = cand.endpoint.price, cand.endpoint.provider
        if not self.pricer.affordable_output(price, MIN_PROMPT_TOKENS, provider, exc.unspent):
            return limit_exceeded(ctx.key)
        affordable = min(output, self.pricer.affordable_output(price, prompt, provider, exc.remaining))
        left = pricing.from_nanos(max(0, exc.remaining))
        return PaymentRequiredError(
            f"This request requires more credits, or fewer max_tokens. You requested up to {output} tokens, "
            f"but can only afford {affordable}. Lower max_tokens, or raise the key's limit.",
            metadata={"limit_remaining": left, "requested_tokens": output, "affordable_tokens": affordable},
        )

    async def settle(self, record: GenerationRecord, cand: Candidate, reservation: Reservation | None,
                     usage: Usage, ctx: RequestContext) -> None:
        """Price what was served, release the reservation, count tokens, and queue the ledger row."""
        record.usage = usage
        charged = record.status == "success" or usage.completion_tokens > 0
        charge = self.pricer.charge(cand.endpoint.price, usage, cand.endpoint.provider) if charged else Charge(0, 0)
        record.cost_nanos, record.markup_nanos = charge.cost_nanos, charge.markup_nanos
        record.completion_nanos = charge.completion_nanos
        if reservation is not None and charge.cost_nanos > reservation.amount:
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

    # -- lifecycle ---------------------------------------------------------------------------

    def spawn(self, coro: Awaitable[Any]) -> None:
        """Run bookkeeping that must finish even if the request task is cancelled."""
        task = asyncio.ensure_future(coro)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def drain(self) -> None:
        while self._background:
            await asyncio.gather(*list(self._background), return_exceptions=True)


def target(cand: Candidate) -> Target:
    return Target(cand.endpoint.model, cand.endpoint.max_output_tokens, cand.endpoint.context_length)


__all__ = ["ChatResult", "EmbeddingResult", "Engine", "RequestContext", "target"]
