"""Candidate planning: (resolved models, request, preferences, live state) -> ordered endpoints.

Per model (model fallback order): hard filters, the context window (context.py: only looked at when
the request may not fit the model's smallest window), then the ordering `arrange` picks. With
`sort.partition: "none"` the endpoints of every requested model are ordered together. When nothing
is left, `explain` names the constraint that emptied the list."""

from __future__ import annotations

import math
import random

from ..config.access import AccessPolicy
from ..config.catalogue import Model
from ..errors import NotFoundError, ServiceUnavailableError, SwitchpointError
from ..types import ChatRequest
from . import context
from .access import filter_refusal, is_policy_filter, policy_filters
from .candidate import Candidate, RouteTable
from .filters import Filter, apply, extended_filter, first_emptying, free_filter, request_filters
from .order import Live, arrange
from .preferences import Preferences, parse_preferences

VARIANT_SORTS = {"nitro": "throughput", "floor": "price", "exacto": "exacto"}
ResolvedModels = list[tuple[Model, str | None]]


def plan(models: ResolvedModels, request: ChatRequest, rng: random.Random, *, prefs: Preferences | None = None,
         table: RouteTable | None = None, live: Live | None = None,
         policies: tuple[AccessPolicy, ...] = ()) -> list[Candidate]:
    """Every usable endpoint of each model in turn, in the order they will be tried. `policies`: the
    calling key's (and its team's) access policies, whose endpoint filters come first."""
    prefs = parse_preferences(request.provider) if prefs is None else prefs
    live = Live() if live is None else live
    table = RouteTable() if table is None else table
    filters = [*policy_filters(policies), *request_filters(request, prefs)] if policies else \
        request_filters(request, prefs)
    pooled = prefs.partition == "none" and len(models) > 1
    needed = 0  # estimated once, and only for a model whose windows are known
    drains = False
    out: list[Candidate] = []
    for model, variant in models:
        route = table.route(model)
        usable = apply(route.candidates, _model_filters(filters, variant, live))
        if route.smallest_window:
            needed = needed or context.needed_tokens(request)
            if needed > route.smallest_window:
                usable = context.select(usable, needed, request.transforms)
        drains = drains or route.drains
        if pooled:
            out.extend(usable)
        else:
            out.extend(arrange(usable, prefs, prefs.sort or VARIANT_SORTS.get(variant or ""), live, rng,
                               route.drains))
    if pooled:
        out.sort(key=lambda c: c.price)
        out = arrange(out, prefs, prefs.sort, live, rng, drains)
    return out


def _model_filters(filters: list[Filter], variant: str | None, live: Live) -> list[Filter]:
    if variant == "free":
        filters = [("free", free_filter), *filters]
    elif variant == "extended":
        filters = [("extended", extended_filter), *filters]
    if live.breakers is not None and live.breakers.tripped():
        filters = [*filters, ("health", live.available)]
    return filters


def explain(models: ResolvedModels, request: ChatRequest, prefs: Preferences, live: Live,
            table: RouteTable | None = None, policies: tuple[AccessPolicy, ...] = ()) -> SwitchpointError:
    """The client's error when `plan` left nothing: what emptied the list, for the first model (a
    403 when it was the key's or its team's policy)."""
    table = RouteTable() if table is None else table
    filters = [*policy_filters(policies), *request_filters(request, prefs)]
    needed = context.needed_tokens(request)
    model, variant = models[0]
    reason = None
    for m, v in models:
        candidates = list(table.candidates(m))
        if not candidates:
            continue
        model_filters = _model_filters(filters, v, live)
        found = first_emptying(candidates, model_filters)
        if found is None and not context.select(apply(candidates, model_filters), needed, request.transforms):
            found = "context_length"
        if reason is None or m is model:
            reason = found
        if m is model:
            break
    name = model.id if variant is None else f"{model.id}:{variant}"
    if is_policy_filter(reason):
        assert reason is not None
        return filter_refusal(reason, name, policies)
    metadata: dict[str, object] = {"model": name, "excluded_by": [reason] if reason else []}
    if reason == "context_length":
        metadata["requested_tokens"] = needed
    if reason == "health":
        retry = _cooldown_left(models, live, table)
        err: SwitchpointError = ServiceUnavailableError(
            f"No healthy endpoints for {name}: every provider is failing; retry in {retry} s.", metadata=metadata)
        err.headers["Retry-After"] = str(retry)
        return err
    message = _MESSAGES.get(reason or "", "No endpoints found for {name}.").format(
        name=name, max_tokens=request.max_tokens, needed=needed)
    return NotFoundError(message, metadata=metadata)


_MESSAGES = {
    "free": "No free endpoints found for {name}.",
    "extended": "No endpoints found for {name} with an extended context window (extended_context).",
    "allowed_providers": "No endpoints found for {name} among the allowed providers (provider.only / ignore).",
    "tools": "No endpoints found that support tool use.",
    "max_tokens": "No endpoints found for {name} that can return {max_tokens} tokens.",
    "max_price": "No endpoints found for {name} within provider.max_price.",
    "data_policy": "No endpoints found matching your data policy (provider.data_collection).",
    "quantization": "No endpoints found for {name} with the requested quantizations.",
    "require_parameters": "No endpoints found for {name} that support all the parameters in the request.",
    "context_length": ("No endpoints found for {name} with a context window that can hold this request "
                       "(about {needed} tokens: the prompt plus max_tokens). Shorten the prompt, lower "
                       "max_tokens, or send transforms: [\"middle-out\"] to cut the middle of the conversation."),
}


def _cooldown_left(models: ResolvedModels, live: Live, table: RouteTable) -> int:
    if live.breakers is None:
        return 1
    cooldown = live.breakers.settings.cooldown
    left = []
    for model, _ in models:
        for c in table.candidates(model):
            state = live.breakers.get(c.key)
            if state is not None:
                left.append(state.opened_at + cooldown - live.now)
    return max(1, math.ceil(min(left, default=1.0)))
