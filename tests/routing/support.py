"""Builders for pure routing tests: catalogue entries, requests and a clock that only moves when told."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from switchpoint.config.catalogue import DEFAULT_PARAMETERS, Endpoint, Model, Price
from switchpoint.routing.breaker import BreakerSettings, MemoryBreakers
from switchpoint.routing.health import Health
from switchpoint.routing.order import Live
from switchpoint.types import ChatRequest

MILLION = Decimal(1_000_000)


class FakeClock:
    def __init__(self, start: float = 10_000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def endpoint(provider: str, prompt_per_m: float | str = 1, completion_per_m: float | str | None = None, *,
             model_id: str = "vendor/model", max_output: int | None = None, params: tuple[str, ...] | None = None,
             data_collection: str = "allow", quantization: str | None = None,
             request: str = "0", context: int | None = 128000, weight: float = 1.0) -> Endpoint:
    """An endpoint priced in USD per million tokens (completion defaults to the prompt price)."""
    prompt = Decimal(str(prompt_per_m)) / MILLION
    completion = Decimal(str(completion_per_m if completion_per_m is not None else prompt_per_m)) / MILLION
    return Endpoint(model_id=model_id, provider=provider, provider_type="openai", model=f"{provider}-model",
                    price=Price(prompt, completion, Decimal(request)), context_length=context,
                    max_output_tokens=max_output,
                    supported_parameters=frozenset(params if params is not None else DEFAULT_PARAMETERS),
                    data_collection=data_collection, quantization=quantization, weight=weight)


def model(model_id: str, *endpoints: Endpoint, params: tuple[str, ...] = DEFAULT_PARAMETERS,
          context: int | None = 128000) -> Model:
    eps = tuple(Endpoint(**{**{f: getattr(e, f) for f in Endpoint.__dataclass_fields__}, "model_id": model_id})
                for e in endpoints)
    return Model(id=model_id, name=model_id, description="", context_length=context, max_output_tokens=None,
                 input_modalities=("text",), output_modalities=("text",), supported_parameters=params,
                 tokenizer="Other", created=0, hugging_face_id=None, endpoints=eps)


def request(provider: dict[str, Any] | None = None, **params: Any) -> ChatRequest:
    return ChatRequest(model="vendor/model", messages=[{"role": "user", "content": "hi"}], provider=provider,
                       params=params)


def live(clock: FakeClock, *, breakers: MemoryBreakers | None = None, health: Health | None = None,
         window: float = 30.0) -> Live:
    return Live(health or Health(), breakers or MemoryBreakers(BreakerSettings()), clock.now, window)


def providers(candidates: list[Any]) -> list[str]:
    return [c.endpoint.provider for c in candidates]
