"""Cost of a generation, exactly, in Decimal; stored and counted as integer nano-USD.
The operator's markup (a percentage, global or per provider) is charged on top and kept apart."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import ROUND_CEILING, Decimal
from typing import Any

from ..config.catalogue import Price
from ..config.schema import SearchPricing
from ..types import Usage

NANO = Decimal("1e9")
HUNDRED = Decimal(100)
EXACT_FLOAT = 2**53
TEXT_PARTS = frozenset({"text", "input_text"})


def cost(price: Price, usage: Usage, *, requests: int = 1) -> Decimal:
    """USD for one generation. Cached reads and cache writes are priced at their own rates where the
    endpoint has them (else at the prompt rate); reasoning tokens are completion tokens."""
    cached = min(usage.cached_tokens, usage.prompt_tokens)
    written = min(usage.cache_write_tokens, usage.prompt_tokens - cached)
    fresh = usage.prompt_tokens - cached - written
    read_rate = price.cache_read if price.cache_read is not None else price.prompt
    write_rate = price.cache_write if price.cache_write is not None else price.prompt
    return (fresh * price.prompt + cached * read_rate + written * write_rate
            + usage.completion_tokens * price.completion + requests * price.request)


def search_cost(pricing: SearchPricing, searches: int, results: int) -> Decimal:
    """USD for the web searches a generation's plugins made: per search and per result given the model."""
    return searches * Decimal(pricing.request) + results * Decimal(pricing.result)


def worst_case(price: Price, prompt_tokens: int, max_output_tokens: int) -> Decimal:
    """The most a generation can cost: every prompt token at the dearest prompt-side rate."""
    prompt_rate = max(price.prompt, price.cache_write or 0, price.cache_read or 0)
    return prompt_tokens * prompt_rate + max_output_tokens * price.completion + price.request


def to_nanos(usd: Decimal) -> int:
    """Round up: the gateway never undercharges by rounding."""
    return int((usd * NANO).to_integral_value(rounding=ROUND_CEILING))


def from_nanos(nanos: int) -> float:
    """USD as a float, correctly rounded. Below 2**53 both operands are exact doubles and IEEE division
    rounds the exact quotient once, as the Decimal path does (which is 3x slower)."""
    if -EXACT_FLOAT < nanos < EXACT_FLOAT:
        return nanos / 1e9
    return float(Decimal(nanos) / NANO)


_PER_TOKEN: dict[Decimal, int] = {}


def _nanos_per_token(rate: Decimal) -> int:
    """A per-token price in whole nano-USD (0 when it has finer digits): integer arithmetic then
    gives the exact same nanos as the Decimal path, for a fraction of its cost."""
    nanos = _PER_TOKEN.get(rate)
    if nanos is None:
        exact = rate * NANO
        nanos = int(exact) if exact == exact.to_integral_value() else 0
        if len(_PER_TOKEN) < 10_000:
            _PER_TOKEN[rate] = nanos
    return nanos


def estimate_prompt_tokens(body_size: int) -> int:
    """A typical count from the request size (≈4 bytes a token), for usage the upstream never reported."""
    return body_size // 3 + 16


def prompt_bound(body_size: int, messages: list[dict[str, Any]], context_length: int | None) -> int:
    """An upper bound on prompt tokens, for reservations. A text token is at least one byte, so the
    body's size bounds text; images, audio and files can cost more than their bytes, so a prompt
    with them is bounded by the context window instead."""
    bound = body_size
    if context_length and (bound > context_length or has_media(messages)):
        bound = context_length
    return bound


def has_media(messages: list[dict[str, Any]]) -> bool:
    for message in messages:
        content = message.get("content") if isinstance(message, dict) else None
        if isinstance(content, list) and any(isinstance(p, dict) and p.get("type") not in TEXT_PARTS
                                             for p in content):
            return True
    return False


@dataclass(slots=True)  # made for every generation: not frozen, which costs 3x to make
class Charge:
    cost_nanos: int      # what the key pays: upstream cost plus markup
    markup_nanos: int
    completion_nanos: int = 0  # the completion tokens' share of the upstream cost

    @property
    def upstream_nanos(self) -> int:
        return self.cost_nanos - self.markup_nanos


class Pricer:
    """Prices generations with the operator's markup: `markup` percent on every provider, or the
    provider's own percentage where it has one."""

    def __init__(self, markup: float = 0.0, providers: Mapping[str, float | None] | None = None) -> None:
        self.default = Decimal(str(markup)) / HUNDRED
        self.rates = {name: Decimal(str(pct)) / HUNDRED for name, pct in (providers or {}).items() if pct is not None}

    def rate(self, provider: str) -> Decimal:
        return self.rates.get(provider, self.default)

    def _charge(self, upstream: Decimal, provider: str) -> Charge:
        base = to_nanos(upstream)
        rate = self.rate(provider)
        markup = to_nanos(upstream * rate) if rate else 0
        return Charge(base + markup, markup)

    def charge(self, price: Price, usage: Usage, provider: str) -> Charge:
        charge = self._charge(cost(price, usage), provider)
        if usage.completion_tokens and price.completion:
            per_token = _nanos_per_token(price.completion)
            share = usage.completion_tokens * per_token if per_token else to_nanos(
                usage.completion_tokens * price.completion)
            charge.completion_nanos = min(share, charge.upstream_nanos)
        return charge

    def worst_case(self, price: Price, prompt_tokens: int, max_output_tokens: int, provider: str) -> int:
        """Nano-USD to reserve: never less than what `charge` can return within these bounds."""
        return self._charge(worst_case(price, prompt_tokens, max_output_tokens), provider).cost_nanos

    def affordable_output(self, price: Price, prompt_tokens: int, provider: str, remaining_nanos: int) -> int:
        """How many output tokens `remaining_nanos` can still pay for after the prompt."""
        left = Decimal(remaining_nanos) / NANO / (1 + self.rate(provider))
        left -= worst_case(price, prompt_tokens, 0)
        if left <= 0:
            return 0
        return int(left / price.completion) if price.completion else 1 << 31
