"""One routable endpoint of one model, with what routing compares precomputed, and the table of
them built once per catalogue so planning a request allocates only its result list."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import NamedTuple

from ..config.catalogue import Catalogue, Endpoint, Model


@dataclass(frozen=True, slots=True, eq=False)
class Candidate:
    model: Model
    endpoint: Endpoint
    key: str = field(init=False)             # health / breaker key
    provider: str = field(init=False)        # lower-cased provider name (preferences match on it)
    prompt_price: float = field(init=False)  # USD per token
    completion_price: float = field(init=False)
    price: float = field(init=False)         # prompt + completion per token: what price ordering compares
    free: bool = field(init=False)
    window: int = field(init=False)          # context window in tokens; 0 = not known
    pick_weight: float = field(init=False)   # the operator's weight / (USD per million tokens)²
    drained: bool = field(init=False)        # weight 0: used only when nothing else is left
    cacheable: bool = field(init=False)      # cached input is cheaper than prompt: worth keeping a conversation here

    def __post_init__(self) -> None:
        e = self.endpoint
        prompt, completion = float(e.price.prompt), float(e.price.completion)
        price = prompt + completion
        weight = e.weight
        for name, value in (("key", e.key), ("provider", e.provider.lower()), ("prompt_price", prompt),
                            ("completion_price", completion), ("price", price), ("free", e.price.is_free),
                            ("window", e.context_length or self.model.context_length or 0),
                            ("pick_weight", weight / (price * 1e6) ** 2 if price > 0 else weight),
                            ("drained", weight <= 0), ("cacheable", e.cacheable)):
            object.__setattr__(self, name, value)

    def __repr__(self) -> str:
        return f"Candidate({self.model.id} @ {self.endpoint.provider})"


class ModelRoute(NamedTuple):
    """A model's candidates, cheapest first, with what planning checks before looking at them."""

    candidates: tuple[Candidate, ...]
    smallest_window: int  # the smallest known context window among them; 0 when none is known
    drains: bool          # one of them has weight 0


class RouteTable:
    """Each model's candidates, cheapest first (equal prices keep the configured order), with the
    smallest known context window among them (a request that fits it skips the context check) and
    whether one is drained, computed once per catalogue."""

    def __init__(self, catalogue: Catalogue | None = None) -> None:
        self._models: dict[str, ModelRoute] = {}
        self._cacheable: dict[str, tuple[Model, bool]] = {}
        if catalogue is not None:
            for model in catalogue.models.values():
                self._store(model)

    def route(self, model: Model) -> ModelRoute:
        found = self._models.get(model.id)
        if found is None or (found.candidates and found.candidates[0].model is not model):
            found = self._store(model)
        return found

    def candidates(self, model: Model) -> tuple[Candidate, ...]:
        return self.route(model).candidates

    def _store(self, model: Model) -> ModelRoute:
        candidates = _build(model)
        windows = [c.window for c in candidates if c.window]
        found = self._models[model.id] = ModelRoute(candidates, min(windows, default=0),
                                               any(c.drained for c in candidates))
        return found

    def cacheable(self, model: Model) -> bool:
        """Whether any endpoint of the model has a cached-input price below its prompt price."""
        found = self._cacheable.get(model.id)
        if found is None or found[0] is not model:
            found = self._cacheable[model.id] = (model, any(c.cacheable for c in self.candidates(model)))
        return found[1]


def _build(model: Model) -> tuple[Candidate, ...]:
    return tuple(sorted((Candidate(model, e) for e in model.endpoints), key=lambda c: c.price))
