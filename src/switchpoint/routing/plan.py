"""Candidate planning: (request, resolved models, health) -> ordered endpoints."""

from __future__ import annotations

import random
from dataclasses import dataclass

from ..config.catalogue import Endpoint, Model
from ..types import ChatRequest


@dataclass(frozen=True, slots=True)
class Candidate:
    model: Model
    endpoint: Endpoint


def plan(models: list[tuple[Model, str | None]], request: ChatRequest, rng: random.Random) -> list[Candidate]:
    """Every usable endpoint of each model in turn (model fallback order), cheapest first within a model."""
    prefs = request.provider or {}
    order = [p.lower() for p in prefs.get("order") or []]
    only = {p.lower() for p in prefs.get("only") or []}
    ignore = {p.lower() for p in prefs.get("ignore") or []}
    out: list[Candidate] = []
    for model, variant in models:
        endpoints = [
            e for e in model.endpoints
            if (not only or e.provider.lower() in only) and e.provider.lower() not in ignore
            and (variant != "free" or e.price.is_free)
        ]
        endpoints.sort(key=lambda e: (e.price.prompt + e.price.completion, e.provider))
        if order:
            ranked = [e for name in order for e in endpoints if e.provider.lower() == name]
            rest = [e for e in endpoints if e not in ranked]
            endpoints = ranked + ([] if prefs.get("allow_fallbacks") is False else rest)
        out.extend(Candidate(model, e) for e in endpoints)
    return out
