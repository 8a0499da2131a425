"""The attempt loop shared by every request kind: each candidate in turn, retried under the policy,
its budget reserved first, its failures fed to health and the breakers, and, when every candidate
failed, the one error most useful to the client. Streams and hedged races use it through this class
alone (attempt_endpoint, final_error, deadline, release, clock), never through the engine."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import Any, TypeVar

from .. import routing
from ..accounting import pricing
from ..accounting.budget import Budget, InsufficientBudgetError, Reservation, limit_exceeded, limited
from ..accounting.pricing import Pricer
from ..config import Config
from ..errors import (
    CONTEXT,
    NotFoundError,
    PaymentRequiredError,
    RequestTimeoutError,
    ServiceUnavailableError,
    SwitchpointError,
    UpstreamError,
)
from ..generation import GenerationRecord
from ..providers.base import Provider
from ..routing import BreakerStore, Candidate, Decision, middle_out
from ..routing.health import Health
from ..types import ChatRequest
from .context import Outcome, RequestContext
from .redact import Redactor

T = TypeVar("T")
MIN_PROMPT_TOKENS = 16  # the smallest request worth sending, for telling a spent limit (403) from 402
# Which failure is most useful to the client when every candidate failed (higher wins).
_ERROR_RANK = {"invalid": 9, "context_length": 8, "rate_limit": 6, "overloaded": 5, "timeout": 4, "auth": 3, "quota": 3,
               "server": 2, "malformed": 2, "endpoint": 1, "connect": 0}


class Attempts:
    def __init__(self, *, config: Config, providers: dict[str, Provider], budget: Budget, pricer: Pricer,
                 health: Health, breakers: BreakerStore, rng: random.Random, clock: Callable[[], float],
                 spawn: Callable[[Awaitable[Any]], None], redactor: Redactor) -> None:
        self.config = config
        self.providers = providers
        self.budget = budget
        self.pricer = pricer
        self.health = health
        self.breakers = breakers
        self.rng = rng
        self.clock = clock
        self.spawn = spawn  # bookkeeping that must finish even if the request task is cancelled
        self.redactor = redactor  # upstream error text is cleaned once, where it is caught

    def deadline(self, ctx: RequestContext) -> float:
        """When the request as a whole must be answered (monotonic), whatever endpoint it is on."""
        return ctx.started + self.config.server.request_deadline

    async def release(self, reservation: Reservation | None) -> None:
        """Give back an attempt's reservation with nothing spent (an attempt that lost a race)."""
        await self.budget.settle(reservation, 0)

    async def attempt_all(
        self, request: ChatRequest, ctx: RequestContext, candidates: list[Candidate], record: GenerationRecord,
        once: Callable[[ChatRequest, Provider, Candidate, float], Awaitable[T]],
    ) -> tuple[T, Candidate, Reservation | None]:
        """Try each candidate in turn (with retries on the same endpoint) until one serves."""
        deadline = self.deadline(ctx)
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
        rejected the request (never retried elsewhere) or the deadline passed. The request is cut to
        the endpoint's window first where middle-out applies; an endpoint whose window is no larger
        than one that already answered "context length exceeded" is skipped."""
        if ctx.context_floor and 0 < cand.window <= ctx.context_floor:
            return Outcome()
        request = middle_out.fit(request, cand)
        provider = self.providers[cand.endpoint.provider]
        if request.reasoning_by_model is not None:
            request = for_model(request, cand.model.id)
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
                if err.kind == CONTEXT and cand.window:
                    ctx.context_floor = max(ctx.context_floor, cand.window)
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
            if err.kind == CONTEXT:  # unless a larger window was reached and failed otherwise: then that
                larger = [(e, c) for e, c in failures if e.kind != CONTEXT and (not c.window or c.window > cand.window)]
                if larger:
                    err, cand = max(reversed(larger), key=lambda f: _ERROR_RANK.get(f[0].kind, 0))
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
        if not limited(ctx.key, ctx.user):
            return None
        prompt, output = self.worst_case_tokens(request, ctx, cand)
        amount = self.pricer.worst_case(cand.endpoint.price, prompt, output, cand.endpoint.provider)
        return await self.budget.reserve(ctx.key, amount + ctx.extra_nanos, user=ctx.user)

    def payment_error(self, exc: InsufficientBudgetError, request: ChatRequest, ctx: RequestContext,
                      cand: Candidate) -> SwitchpointError:
        """402 saying how many tokens the key can afford; 403 when what is left of the limit could not
        pay for even a minimal request (the limit is spent)."""
        prompt, output = self.worst_case_tokens(request, ctx, cand)
        price, provider = cand.endpoint.price, cand.endpoint.provider
        if exc.user is not None:
            return self.user_payment_error(exc, exc.user, output,
                                           self.pricer.affordable_output(price, prompt, provider, exc.remaining))
        if not self.pricer.affordable_output(price, MIN_PROMPT_TOKENS, provider, exc.unspent):
            return limit_exceeded(ctx.key, exc.team)
        affordable = min(output, self.pricer.affordable_output(price, prompt, provider, exc.remaining))
        left = pricing.from_nanos(max(0, exc.remaining))
        whose = "the key's limit" if exc.team is None else f"the limit of team '{exc.team.name}'"
        metadata: dict[str, object] = {"limit_remaining": left, "requested_tokens": output,
                                       "affordable_tokens": affordable}
        if exc.team is not None:
            metadata["team"] = exc.team.name
        return PaymentRequiredError(
            f"This request requires more credits, or fewer max_tokens. You requested up to {output} tokens, "
            f"but can only afford {affordable}. Lower max_tokens, or raise {whose}.", metadata=metadata,
        )

    def user_payment_error(self, exc: InsufficientBudgetError, user: str, output: int,
                           affordable: int) -> SwitchpointError:
        """402 naming the end user whose own budget (the `user_limit` of the key or of its team) cannot
        cover the request."""
        affordable = min(output, affordable)
        left = pricing.from_nanos(max(0, exc.remaining))
        spent = exc.unspent <= 0
        whose = "this key's" if exc.team is None else f"team '{exc.team.name}''s"
        reason = (f"End user '{user}' has spent {whose} per-user limit (user_limit)." if spent else
                  f"End user '{user}' cannot afford this request under {whose} per-user limit (user_limit): "
                  f"you requested up to {output} tokens, but can only afford {affordable}. Lower max_tokens.")
        metadata: dict[str, object] = {"limit": "user_limit", "user": user, "limit_remaining": left,
                                       "requested_tokens": output, "affordable_tokens": affordable}
        if exc.team is not None:
            metadata["team"] = exc.team.name
        return PaymentRequiredError(reason, metadata=metadata)


def for_model(request: ChatRequest, model_id: str) -> ChatRequest:
    """The request as one model's endpoints get it: a `:thinking` model gets its reasoning settings, and
    a translated body (a body passed through as it came would not carry them)."""
    assert request.reasoning_by_model is not None
    reasoning = request.reasoning_by_model.get(model_id)
    if reasoning is None:
        return request
    return replace(request, reasoning=reasoning, native=None, reasoning_by_model=None)
