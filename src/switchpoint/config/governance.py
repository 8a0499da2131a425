"""Keys and teams as switchpoint.yaml declares them: budgets, request, token and per-end-user limits,
and the access policy (models, providers, prices) each carries (docs/governance.md)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, field_validator

from .base import Strict, parse_duration

LimitReset = Literal["daily", "weekly", "monthly"]


class RateLimitConfig(Strict):
    requests: int = Field(gt=0)
    interval: float = 60.0

    @field_validator("interval", mode="before")
    @classmethod
    def _interval(cls, value: object) -> float:
        return parse_duration(value)


class TokenLimitConfig(Strict):
    tokens: int = Field(gt=0)
    interval: float = 60.0

    @field_validator("interval", mode="before")
    @classmethod
    def _interval(cls, value: object) -> float:
        return parse_duration(value)


class MaxPriceConfig(Strict):
    """USD per million tokens, as a request's `provider.max_price`."""

    prompt: float | None = Field(None, ge=0, description="the highest prompt price, USD per million tokens")
    completion: float | None = Field(None, ge=0, description="the highest completion price, USD per million tokens")


MODELS_POLICY = "model ids or globs (`openai/*`) it may use; null = every model, [] = none (docs/governance.md)"
PROVIDERS_POLICY = "provider names it may use; null = every provider"
PRICE_POLICY = "the highest prices it may use, USD per million tokens; an endpoint above either is skipped"


class KeyConfig(Strict):
    name: str = Field(min_length=1)
    key: str = Field(min_length=16)
    limit: float | None = Field(None, ge=0)
    limit_reset: LimitReset | None = None
    rate_limit: RateLimitConfig | None = None
    token_limit: TokenLimitConfig | None = None
    cache: bool = False
    team: str | None = Field(None, description="the team (`teams[].name`) the key belongs to: its budget, rate "
                                               "limits and policy apply on top of the key's own")
    models: list[str] | None = Field(None, description=MODELS_POLICY)
    providers: list[str] | None = Field(None, description=PROVIDERS_POLICY)
    max_price: MaxPriceConfig | None = Field(None, description=PRICE_POLICY)
    user_limit: float | None = Field(None, ge=0, description="USD per end user (the request's `user`), "
                                                             "per limit_reset period")
    user_rate_limit: RateLimitConfig | None = Field(None, description="requests per interval per end user")


class TeamConfig(Strict):
    """A team: a budget, rate limits and a policy its keys share on top of their own."""

    name: str = Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9][\w.\-]*$",
                      description="the team's name (unique; letters, digits, `_`, `.`, `-`)")
    limit: float | None = Field(None, ge=0, description="USD the team's keys may spend together; null for no limit")
    limit_reset: LimitReset | None = Field(None, description="when the limit starts again: `daily`, `weekly`, "
                                                             "`monthly`, or null (never)")
    rate_limit: RateLimitConfig | None = Field(None, description="requests per interval, all the team's keys "
                                                                 "together")
    token_limit: TokenLimitConfig | None = Field(None, description="tokens per interval, all the team's keys "
                                                                   "together")
    user_limit: float | None = Field(None, ge=0, description="USD per end user (the request's `user`), all the "
                                                             "team's keys together, per limit_reset period")
    user_rate_limit: RateLimitConfig | None = Field(None, description="requests per interval per end user, all "
                                                                      "the team's keys together")
    models: list[str] | None = Field(None, description=MODELS_POLICY)
    providers: list[str] | None = Field(None, description=PROVIDERS_POLICY)
    max_price: MaxPriceConfig | None = Field(None, description=PRICE_POLICY)


def team_problems(teams: Any, keys: Any) -> list[str]:
    """Team names are unique, and a key of the file names a team of the file."""
    def get(node: Any, name: str) -> Any:
        return node.get(name) if isinstance(node, dict) else getattr(node, name, None)

    problems, names = [], []
    for i, team in enumerate(teams if isinstance(teams, list) else []):
        name = get(team, "name")
        if isinstance(name, str) and name in names:
            problems.append(f"teams[{i}].name: duplicate team name '{name}'")
        names.append(name)
    for i, key in enumerate(keys if isinstance(keys, list) else []):
        team = get(key, "team")
        if isinstance(team, str) and team not in names:
            problems.append(f"keys[{i}].team: unknown team '{team}' (teams: "
                            f"{', '.join(str(n) for n in names) or 'none'})")
    return problems
