"""Cost of a generation, exactly, in Decimal; stored and counted as integer nano-USD."""

from __future__ import annotations

from decimal import ROUND_CEILING, Decimal

from ..config.catalogue import Price
from ..types import Usage

NANO = Decimal("1e9")


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


def worst_case(price: Price, prompt_tokens: int, max_output_tokens: int) -> Decimal:
    return prompt_tokens * price.prompt + max_output_tokens * price.completion + price.request


def to_nanos(usd: Decimal) -> int:
    """Round up: the gateway never undercharges by rounding."""
    return int((usd * NANO).to_integral_value(rounding=ROUND_CEILING))


def from_nanos(nanos: int) -> float:
    return float(Decimal(nanos) / NANO)


def estimate_prompt_tokens(body_size: int) -> int:
    """Upper-leaning estimate from the request size (≈4 bytes a token), used only to reserve budget."""
    return body_size // 3 + 16
