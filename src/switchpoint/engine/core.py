"""The only orchestrator that does I/O: plan -> attempt -> translate -> account.

Handlers call `complete`, `stream` or `embed`; each resolves the model(s), asks routing for the
ordered candidates, reserves budget, tries endpoints under the retry policy, prices what was
served, settles the reservation and queues a ledger row, for success and failure alike."""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from .. import routing
from ..accounting import pricing
from ..accounting.budget import Budget, Reservation
from ..accounting.ledger import LedgerWriter
from ..accounting.limits import RateLimiter
from ..accounting.pricing import Pricer
from ..config import Config
from ..config.access import AccessPolicy
from ..config.catalogue import Catalogue, Model
from ..errors import BadRequestError, SwitchpointError
from ..generation import GenerationRecord
from ..net.transport import Transport
from ..observability.context import capture_output
from ..plugins import PluginRun, Plugins
from ..providers.base import Provider
from ..routing import BreakerSettings, BreakerStore, Candidate, Live, MemoryBreakers
from ..routing.access import allowed_models, require_permitted
from ..routing.auto import AUTO_MODEL, AutoRouter, build_auto
from ..routing.health import Health
from ..routing.hedge import hedge_delay
from ..routing.names import ModelResolver
from ..state import State
from ..types import ChatRequest, Completion, EmbeddingRequest, Embeddings, UpstreamRequest, Usage
from .attempts import Attempts
from .context import ChatResult, EmbeddingResult, RequestContext, Route, target
from .redact import Redactor
from .settlement import Settlement
from .sticky import Stickiness
from .stream import ChatStream

T = TypeVar("T")


class Engine:
    def __init__(self, *, config: Config, catalogue: Catalogue, providers: dict[str, Provider],
                 transport: Transport, budget: Budget, limiter: RateLimiter, ledger: LedgerWriter,
                 health: Health | None = None, rng: random.Random | None = None,
                 clock: Callable[[], float] = time.monotonic, pricer: Pricer | None = None,
                 breakers: BreakerStore | None = None, state: State | None = None) -> None:
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
        self.names = ModelResolver(catalogue, config.aliases, config.default_model)
        self.sticky = Stickiness(state, config.routing.sticky, self.spawn, self.routes) if (
            state is not None and config.routing.sticky.enabled) else None
        self.auto: AutoRouter | None = build_auto(config, catalogue)
        self.plugins = Plugins(config, transport)
        self._background: set[asyncio.Task[Any]] = set()
        self.attempts = Attempts(config=config, providers=providers, budget=budget, pricer=self.pricer,
                                 health=self.health, breakers=self.breakers, rng=self.rng, clock=clock,
                                 spawn=self.spawn, redactor=Redactor.from_config(config))
        self.books = Settlement(pricer=self.pricer, budget=budget, limiter=limiter, ledger=ledger,
                                health=self.health, breakers=self.breakers, clock=clock)

    # -- planning -------------------------------------------------------------------------------

    def resolve(self, model_ids: list[str]) -> list[tuple[Model, str | None]]:
        """Catalogue models and variants of (de-aliased) names: bare and `openrouter/` ids resolve, an
        unknown variant or model is a 400."""
        return [self.names.lookup(model_id) for model_id in model_ids]

    def names_of(self, request: ChatRequest) -> list[str]:
        """The requested model ids in order, with the default model and the aliases applied. They are
        written back to the request (once), so what runs after routing (the plugins, which read
        `:online` off the names) sees the names the aliases stand for."""
        if request.model_resolved:  # aliases applied already: only a missing model is left to fill
            if not request.model:
                request.model = self.names.name("")
        else:
            request.model = self.names.name(request.model)
            request.models = [self.names.name(m) for m in request.models]
            request.model_resolved = True
        ids = [request.model, *request.models] if request.models else [request.model]
        return list(dict.fromkeys(ids))

    def apply_variants(self, request: ChatRequest, models: list[tuple[Model, str | None]]) -> None:
        """The variants that change the request rather than the endpoints: `:thinking` turns reasoning on
        for that model's endpoints. (`:online` is the web plugin's: plugins/spec.py reads it.)"""
        for model, variant in models:
            if variant == "thinking":
                if request.reasoning_by_model is None:
                    request.reasoning_by_model = {}
                asked = {k: v for k, v in (request.reasoning or {}).items() if (k, v) != ("effort", "none")}
                request.reasoning_by_model[model.id] = {**asked, "enabled": True}

    def live(self) -> Live:
        return Live(self.health, self.breakers, self.clock(), self.config.routing.healthy_window)

    def route(self, request: ChatRequest, policies: tuple[AccessPolicy, ...] = ()) -> Route:
        """Resolve the requested model(s) (expanding `switchpoint/auto`) and order their endpoints.
        `policies`: the calling key's and its team's (a 403 for what they do not allow)."""
        prefs = routing.parse_preferences(request.provider)
        ids = self.names_of(request)
        auto = None
        if AUTO_MODEL in ids:
            require_permitted(AUTO_MODEL, policies)
            auto = self.auto.choose(request) if self.auto is not None else None
            if auto is None:
                raise BadRequestError(f"{AUTO_MODEL} is not enabled or has no models to choose from",
                                      metadata={"model": AUTO_MODEL})
            at = ids.index(AUTO_MODEL)
            ids = list(dict.fromkeys([*ids[:at], *auto.models, *ids[at + 1:]]))
        models = allowed_models(self.resolve(ids), policies)
        for model, _ in models:
            if model.is_embedding:
                raise BadRequestError(f"{model.id} is an embedding model: use /api/v1/embeddings",
                                      metadata={"error_type": "wrong_endpoint"})
        self.apply_variants(request, models)
        live = self.live()
        candidates = routing.plan(models, request, self.rng, prefs=prefs, table=self.routes, live=live,
                                  policies=policies)
        if not candidates:
            raise routing.explain(models, request, prefs, live, self.routes, policies)
        free = all(c.free for c in candidates) or any(v == "free" for _, v in models)
        return Route(candidates, free, prefs, auto, variant=models[0][1])

    def plan(self, request: ChatRequest, policies: tuple[AccessPolicy, ...] = ()) -> tuple[list[Candidate], bool]:
        """Ordered candidates, and whether the request is for free models (own rate limits)."""
        planned = self.route(request, policies)
        return planned.candidates, planned.free

    # -- non-streaming chat ------------------------------------------------------------------

    async def admit(self, request: ChatRequest, ctx: RequestContext, record: GenerationRecord) -> Route:
        """Plan the request and count it against the key's rate limits. A refusal here (unknown model,
        no endpoint or every circuit open, rate limited) is recorded in the ledger, then raised. While the
        ledger cannot take rows, a 503 first: nothing is served unaccounted, whatever API asked."""
        self.ledger.admit()
        try:
            planned = self.route(request, ctx.key.policies)
            await self.limiter.admit(ctx.key, free=planned.free, user=ctx.user)
        except SwitchpointError as err:
            self.books.refuse(record, err)
            raise
        if self.sticky is not None:
            await self.sticky.pin(request, ctx.key.hash, planned, planned.variant, self.live())
        return planned

    def served(self, planned: Route, cand: Candidate, record: GenerationRecord) -> None:
        """After an endpoint served the request: remember it for the conversation (stickiness)."""
        if self.sticky is not None:
            self.sticky.served(planned, cand, record)

    async def run_plugins(self, request: ChatRequest, ctx: RequestContext, planned: Route,
                          record: GenerationRecord) -> PluginRun | None:
        """The request's plugins, prepared (web search made, PDFs parsed), or None when it has none. A
        plugin that cannot be honoured or a failed search is recorded in the ledger, then raised. The
        search's price is added to what the attempts reserve and what the generation costs."""
        models = list({c.model.id: c.model for c in planned.candidates}.values())
        try:
            run = self.plugins.start(request, models)
            if run is not None:
                await run.prepare()
        except SwitchpointError as err:
            self.books.finish_failed(record, err, ctx.started)
            raise
        if run is not None:
            ctx.body_size += run.added_bytes  # the prompt bound of reservations covers the search results
        if run is not None and run.search is not None and self.config.search is not None:
            ctx.extra_nanos = pricing.to_nanos(pricing.search_cost(
                self.config.search.pricing, run.search.searches, len(run.search.results)))
        return run

    async def complete(self, request: ChatRequest, ctx: RequestContext) -> ChatResult:
        record = self.books.new_record(ctx, request.model, streamed=False)
        planned = await self.admit(request, ctx, record)
        run = await self.run_plugins(request, ctx, planned, record)
        once = self._complete_once if run is None else run.adapt(self._complete_once)
        completion, cand, reservation = await self._attempt(run.request if run else request, ctx,
                                                            planned.candidates, record, once)
        if run is not None:
            run.finish(completion)
        record.latency_ms = (self.clock() - ctx.started) * 1000
        first = completion.choices[0] if completion.choices else None
        usage = completion.usage or self.books.estimate_usage(ctx, sum(len(c.content or "") for c in completion.choices))
        self.books.served(record, cand, completion.upstream_id, completion.upstream_model, planned.auto)
        self.served(planned, cand, record)
        capture_output(first.content if first else None)
        record.finish_reason = first.finish_reason if first else None
        record.native_finish_reason = first.native_finish_reason if first else None
        await self.books.settle(record, cand, reservation, usage, ctx)
        return ChatResult(completion, record, usage)

    async def _attempt(self, request: ChatRequest, ctx: RequestContext, candidates: list[Candidate],
                       record: GenerationRecord, once: Callable[[ChatRequest, Provider, Candidate, float], Awaitable[T]],
                       ) -> tuple[T, Candidate, Reservation | None]:
        """The attempt loop for a non-streamed request; a failure or a client gone away is recorded."""
        try:
            return await self.attempts.attempt_all(request, ctx, candidates, record, once)
        except SwitchpointError as err:
            self.books.finish_failed(record, err, ctx.started)
            raise
        except asyncio.CancelledError:  # the client went away: the attempt released its reservation
            self.books.finish_cancelled(record, ctx.started)
            raise

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
        return ChatStream(self, self.attempts, self.books, self.transport, request, ctx)

    def hedge_delay(self, planned: Route) -> float | None:
        """Seconds before a second endpoint is started, or None when this stream is not hedged."""
        first = planned.candidates[0]
        return hedge_delay(planned.prefs.hedge, first.model.id, self.health.endpoints.get(first.key),
                           self.config.routing.hedge)

    # -- embeddings --------------------------------------------------------------------------

    async def embed(self, request: EmbeddingRequest, ctx: RequestContext) -> EmbeddingResult:
        record = self.books.new_record(ctx, request.model, streamed=False)
        record.api_type = "embeddings"
        self.ledger.admit()
        chat_like = ChatRequest(model=request.model, messages=[], provider=request.provider)
        try:
            policies = ctx.key.policies
            models = allowed_models(self.resolve([self.names.name(request.model)]), policies)
            prefs = routing.parse_preferences(request.provider)
            live = self.live()
            candidates = routing.plan(models, chat_like, self.rng, prefs=prefs, table=self.routes, live=live,
                                      policies=policies)
            if not candidates:
                raise routing.explain(models, chat_like, prefs, live, self.routes, policies)
            await self.limiter.admit(ctx.key, user=ctx.user)
        except SwitchpointError as err:
            self.books.refuse(record, err)
            raise

        async def once(_req: ChatRequest, provider: Provider, cand: Candidate, timeout: float) -> Embeddings:
            body = await self.exchange(provider, provider.build_embeddings(request, target(cand)), timeout)
            return provider.parse_embeddings(body)

        embeddings, cand, reservation = await self._attempt(chat_like, ctx, candidates, record, once)
        record.latency_ms = (self.clock() - ctx.started) * 1000
        self.books.served(record, cand, None, embeddings.upstream_model)
        usage = embeddings.usage
        if not usage.prompt_tokens:
            usage = Usage(prompt_tokens=pricing.estimate_prompt_tokens(ctx.body_size), estimated=True)
        await self.books.settle(record, cand, reservation, usage, ctx)
        return EmbeddingResult(embeddings, record)

    # -- lifecycle ---------------------------------------------------------------------------

    def spawn(self, coro: Awaitable[Any]) -> None:
        """Run bookkeeping that must finish even if the request task is cancelled."""
        task = asyncio.ensure_future(coro)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def drain(self) -> None:
        while self._background:
            await asyncio.gather(*list(self._background), return_exceptions=True)


__all__ = ["ChatResult", "EmbeddingResult", "Engine", "RequestContext", "target"]
