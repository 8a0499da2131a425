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
    window: int = field(init=False)          # context window in tokens; 0 = not known
    pick_weight: float = field(init=False)   # the operator's weight / (USD per million tokens)²
    drained: bool = field(init=False)        # weight 0: used only when nothing else is left

    def __post_init__(self) -> None:
        e = self.endpoint
        prompt, completion = float(e.price.prompt), float(e.price.completion)
        price = prompt + completion
        weight = e.weight
        for name, value in (("key", e.key), ("provider", e.provider.lower()), ("prompt_price", prompt),
                            ("completion_price", completion), ("price", price), ("free", e.price.is_free),
                            ("window", e.context_length or self.model.context_length or 0),
                            ("pick_weight", weight / (price * 1e6) ** 2 if price > 0 else weight),
                            ("drained", weight <= 0)):
            object.__setattr__(self, name, value)

    def __repr__(self) -> str:
        return f"Candidate({self.model.id} @ {self.endpoint.provider})"


class RouteTable:
    """Each model's candidates, cheapest first (equal prices keep the configured order), and the
    smallest known context window among them (0 when none is known), so a request that fits it skips
    the context filter."""

    def __init__(self, catalogue: Catalogue | None = None) -> None:
        self._models: dict[str, tuple[Candidate, ...]] = {}
        self._smallest: dict[str, int] = {}
        if catalogue is not None:
            for model in catalogue.models.values():
                self._store(model)

    def candidates(self, model: Model) -> tuple[Candidate, ...]:
        found = self._models.get(model.id)
        if found is None or (found and found[0].model is not model):
            found = self._store(model)
        return found

    def smallest_window(self, model: Model) -> int:
        self.candidates(model)
        return self._smallest[model.id]

    def _store(self, model: Model) -> tuple[Candidate, ...]:
        found = self._models[model.id] = _build(model)
        windows = [c.window for c in found if c.window]
        self._smallest[model.id] = min(windows, default=0)
        return found


def _build(model: Model) -> tuple[Candidate, ...]:
    return tuple(sorted((Candidate(model, e) for e in model.endpoints), key=lambda c: c.price))
