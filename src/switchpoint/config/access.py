"""Access policy of a key or a team: which models (ids or globs), which providers, and what price per
million tokens it may use. Plain data, made once when a key or team is loaded and handed to routing
(which filters endpoints with it) and to the model listings (which show only what it allows).

A request must satisfy every policy that applies to it (its key's and its team's): the policies are
kept apart rather than merged, so a refusal can say which one refused."""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from functools import cached_property
from typing import Any

import orjson

MILLION = Decimal(1_000_000)


@dataclass(frozen=True, slots=True)
class PriceCap:
    """USD per million tokens (as in a request's `provider.max_price`); None = no cap on that part."""

    prompt: Decimal | None = None
    completion: Decimal | None = None

    def allows(self, prompt_per_token: Decimal, completion_per_token: Decimal) -> bool:
        return ((self.prompt is None or prompt_per_token * MILLION <= self.prompt)
                and (self.completion is None or completion_per_token * MILLION <= self.completion))

    def as_dict(self) -> dict[str, float]:
        out = {}
        if self.prompt is not None:
            out["prompt"] = float(self.prompt)
        if self.completion is not None:
            out["completion"] = float(self.completion)
        return out


@dataclass(frozen=True)
class AccessPolicy:
    """`owner` says whose policy this is in a refusal ("key" or "team 'x'")."""

    models: tuple[str, ...] | None = None       # ids or globs (`openai/*`); None = every model
    providers: tuple[str, ...] | None = None    # provider names (lower case); None = every provider
    max_price: PriceCap | None = None
    owner: str = "key"

    @property
    def unrestricted(self) -> bool:
        return self.models is None and self.providers is None and self.max_price is None

    @cached_property
    def _pattern(self) -> re.Pattern[str] | None:
        if self.models is None:
            return None
        if not self.models:
            return re.compile(r"(?!)")  # an empty list allows nothing
        return re.compile("|".join(f"(?:{fnmatch.translate(m)})" for m in self.models), re.IGNORECASE)

    def allows_model(self, model_id: str) -> bool:
        """`model_id` without a variant; `openai/gpt-4o:free` is allowed when `openai/gpt-4o` is."""
        pattern = self._pattern
        return pattern is None or pattern.match(model_id) is not None

    def allows_provider(self, provider: str) -> bool:
        return self.providers is None or provider.lower() in self.providers

    def allows_price(self, prompt_per_token: Decimal, completion_per_token: Decimal) -> bool:
        return self.max_price is None or self.max_price.allows(prompt_per_token, completion_per_token)

    def as_fields(self) -> dict[str, Any]:
        """The API's (and the store's) view: `models`, `providers`, `max_price`, null when unset."""
        return {"models": list(self.models) if self.models is not None else None,
                "providers": list(self.providers) if self.providers is not None else None,
                "max_price": self.max_price.as_dict() if self.max_price is not None else None}


UNRESTRICTED = AccessPolicy()


def policy_from_fields(models: Iterable[str] | None, providers: Iterable[str] | None,
                       max_price: dict[str, Any] | None, owner: str = "key") -> AccessPolicy:
    cap = None
    if max_price is not None:
        prompt, completion = max_price.get("prompt"), max_price.get("completion")
        cap = PriceCap(None if prompt is None else Decimal(str(prompt)),
                       None if completion is None else Decimal(str(completion)))
    return AccessPolicy(tuple(models) if models is not None else None,
                        tuple(p.lower() for p in providers) if providers is not None else None, cap, owner)


def policy_from_row(row: dict[str, Any], owner: str = "key") -> AccessPolicy:
    """From a stored key or team row (`models`, `providers`, `max_price` as JSON text or NULL)."""
    def load(name: str) -> Any:
        value = row.get(name)
        return None if value is None else orjson.loads(value)

    return policy_from_fields(load("models"), load("providers"), load("max_price"), owner)


def policy_columns(models: Sequence[str] | None, providers: Sequence[str] | None,
                   max_price: dict[str, Any] | None) -> dict[str, str | None]:
    """The stored form of a policy: JSON text per column, NULL when unset."""
    def dump(value: Any) -> str | None:
        return None if value is None else orjson.dumps(value).decode()

    return {"models": dump(list(models) if models is not None else None),
            "providers": dump(list(providers) if providers is not None else None),
            "max_price": dump({k: v for k, v in max_price.items() if v is not None} if max_price is not None else None)}
