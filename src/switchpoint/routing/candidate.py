"""One routable endpoint of one model, with what routing compares precomputed, and the table of
them built once per catalogue so planning a request allocates only its result list."""

from __future__ import annotations

from dataclasses import dataclass, field

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
    cacheable: bool = field(init=False)      # cached input is cheaper than prompt: worth keeping a conversation here

    def __post_init__(self) -> None:
        e = self.endpoint
        prompt, completion = float(e.price.prompt), float(e.price.completion)
        for name, value in (("key", e.key), ("provider", e.provider.lower()), ("prompt_price", prompt),
                            ("completion_price", completion), ("price", prompt + completion),
                            ("free", e.price.is_free), ("cacheable", e.cacheable)):
            object.__setattr__(self, name, value)

    def __repr__(self) -> str:
        return f"Candidate({self.model.id} @ {self.endpoint.provider})"


class RouteTable:
    """Each model's candidates, cheapest first (equal prices keep the configured order)."""

    def __init__(self, catalogue: Catalogue | None = None) -> None:
        self._models: dict[str, tuple[Candidate, ...]] = {}
        self._cacheable: dict[str, tuple[Model, bool]] = {}
        if catalogue is not None:
            for model in catalogue.models.values():
                self._models[model.id] = _build(model)

    def candidates(self, model: Model) -> tuple[Candidate, ...]:
        found = self._models.get(model.id)
        if found is None or (found and found[0].model is not model):
            found = self._models[model.id] = _build(model)
        return found

    def cacheable(self, model: Model) -> bool:
        """Whether any endpoint of the model has a cached-input price below its prompt price."""
        found = self._cacheable.get(model.id)
        if found is None or found[0] is not model:
            found = self._cacheable[model.id] = (model, any(c.cacheable for c in self.candidates(model)))
        return found[1]


def _build(model: Model) -> tuple[Candidate, ...]:
    return tuple(sorted((Candidate(model, e) for e in model.endpoints), key=lambda c: c.price))
