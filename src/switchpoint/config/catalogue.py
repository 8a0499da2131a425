"""The model catalogue at run time: the bundled data file merged with the config's `models`,
each model's endpoints narrowed to the providers that are actually configured."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from functools import cache
from importlib import resources
from typing import Any

import yaml

from .schema import Config, EndpointConfig, ModelConfig, Pricing

VARIANTS = ("free", "nitro", "floor", "online", "extended", "thinking", "exacto")
DEFAULT_PARAMETERS = (
    "max_tokens", "max_completion_tokens", "temperature", "top_p", "stop", "seed", "frequency_penalty",
    "presence_penalty", "tools", "tool_choice", "parallel_tool_calls", "response_format", "structured_outputs",
    "logit_bias", "logprobs", "top_logprobs",
)
MILLION = Decimal(1_000_000)


@dataclass(frozen=True, slots=True)
class Price:
    prompt: Decimal = Decimal(0)
    completion: Decimal = Decimal(0)
    request: Decimal = Decimal(0)
    image: Decimal = Decimal(0)
    cache_read: Decimal | None = None
    cache_write: Decimal | None = None

    @classmethod
    def from_config(cls, pricing: Pricing) -> Price:
        def dec(value: str | None) -> Decimal | None:
            return None if value is None else Decimal(value)

        return cls(Decimal(pricing.prompt), Decimal(pricing.completion), Decimal(pricing.request),
                   Decimal(pricing.image), dec(pricing.input_cache_read), dec(pricing.input_cache_write))

    @property
    def is_free(self) -> bool:
        return not (self.prompt or self.completion or self.request)

    def as_strings(self) -> dict[str, str]:
        out = {"prompt": _s(self.prompt), "completion": _s(self.completion), "request": _s(self.request),
               "image": _s(self.image)}
        if self.cache_read is not None:
            out["input_cache_read"] = _s(self.cache_read)
        if self.cache_write is not None:
            out["input_cache_write"] = _s(self.cache_write)
        return out


@dataclass(frozen=True, slots=True)
class Endpoint:
    model_id: str             # the public id this endpoint serves
    provider: str             # configured provider name
    provider_type: str
    model: str                # the provider's own model name
    price: Price
    context_length: int | None
    max_output_tokens: int | None
    supported_parameters: frozenset[str]
    data_collection: str = "allow"
    quantization: str | None = None
    weight: float = 1.0       # the operator's traffic weight (routing/order.py); 0 drains the endpoint
    extended_context: bool = False      # serves the `:extended` context window
    tool_quality: float | None = None   # 0-1, orders `:exacto`

    @property
    def cacheable(self) -> bool:
        """Cached input costs less than prompt input: keeping a conversation here saves money."""
        return self.price.cache_read is not None and self.price.cache_read < self.price.prompt

    @property
    def key(self) -> str:
        """Identifies the endpoint in health statistics and the ledger."""
        return f"{self.provider}:{self.model}"


@dataclass(frozen=True, slots=True)
class Model:
    id: str
    name: str
    description: str
    context_length: int | None
    max_output_tokens: int | None
    input_modalities: tuple[str, ...]
    output_modalities: tuple[str, ...]
    supported_parameters: tuple[str, ...]
    tokenizer: str
    created: int
    hugging_face_id: str | None
    endpoints: tuple[Endpoint, ...]
    catalogued_endpoints: int = 0   # how many the catalogue lists, configured or not

    @property
    def is_embedding(self) -> bool:
        return "embeddings" in self.output_modalities


@dataclass(slots=True)
class Catalogue:
    models: dict[str, Model] = field(default_factory=dict)

    def get(self, model_id: str) -> Model | None:
        return self.models.get(model_id)

    def split_variant(self, model_id: str) -> tuple[str, str | None]:
        """'vendor/model:free' -> ('vendor/model', 'free') unless the full id is itself a model."""
        if model_id in self.models or ":" not in model_id:
            return model_id, None
        base, _, variant = model_id.rpartition(":")
        if variant in VARIANTS:
            return base, variant
        return model_id, None

    def servable(self) -> list[Model]:
        return [m for m in self.models.values() if m.endpoints]


@cache
def bundled_models() -> tuple[ModelConfig, ...]:
    text = resources.files("switchpoint.config").joinpath("catalogue.yaml").read_text()
    data = yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    return tuple(ModelConfig.model_validate(m) for m in data["models"])


def build_catalogue(config: Config, provider_types: dict[str, str]) -> Catalogue:
    """provider_types: configured provider name -> type, for the providers that can be used."""
    merged: dict[str, ModelConfig] = {m.id: m for m in bundled_models()}
    for model in config.models:
        merged[model.id] = model
    return Catalogue({mid: _model(m, provider_types, config) for mid, m in merged.items()})


def _model(m: ModelConfig, provider_types: dict[str, str], config: Config) -> Model:
    params = tuple(m.supported_parameters) if m.supported_parameters is not None else DEFAULT_PARAMETERS
    endpoints = tuple(
        _endpoint(m, ep, provider_types[ep.provider], params, config)
        for ep in m.endpoints if ep.provider in provider_types
    )
    return Model(
        id=m.id, name=m.name or m.id, description=m.description, context_length=m.context_length,
        max_output_tokens=m.max_completion_tokens, input_modalities=tuple(m.input_modalities),
        output_modalities=tuple(m.output_modalities), supported_parameters=params, tokenizer=m.tokenizer,
        created=m.created, hugging_face_id=m.hugging_face_id, endpoints=endpoints,
        catalogued_endpoints=len(m.endpoints),
    )


def _endpoint(m: ModelConfig, ep: EndpointConfig, ptype: str, params: tuple[str, ...], config: Config) -> Endpoint:
    provider_cfg = config.providers.get(ep.provider)
    data_collection = ep.data_collection or (provider_cfg.data_collection if provider_cfg else "allow")
    return Endpoint(
        model_id=m.id, provider=ep.provider, provider_type=ptype, model=ep.model,
        price=Price.from_config(ep.pricing),
        context_length=ep.context_length or m.context_length,
        max_output_tokens=ep.max_completion_tokens or m.max_completion_tokens,
        supported_parameters=frozenset(ep.supported_parameters if ep.supported_parameters is not None else params),
        data_collection=data_collection, quantization=ep.quantization, weight=ep.weight,
        extended_context=ep.extended_context, tool_quality=ep.tool_quality,
    )


def _s(value: Decimal) -> str:
    text = format(value, "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


def model_summary(model: Model) -> dict[str, Any]:
    """Cheapest endpoint's prices, for listings."""
    if not model.endpoints:
        return {}
    cheapest = min(model.endpoints, key=lambda e: (e.price.prompt + e.price.completion))
    return cheapest.price.as_strings()
