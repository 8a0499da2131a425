"""Teams: a budget, rate limits and an access policy that every key of the team shares, on top of the
key's own. A key belongs to at most one team; a request must fit both (docs/governance.md)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..config import Config
from ..config.access import UNRESTRICTED, AccessPolicy, policy_columns, policy_from_row
from ..storage.store import now_ms

ROW_FIELDS = ("name", "limit_nanos", "limit_reset", "rate_limit_requests", "rate_limit_interval",
              "token_limit_tokens", "token_limit_interval", "user_limit_nanos", "user_rate_limit_requests",
              "user_rate_limit_interval", "source", "created_at_ms", "updated_at_ms")


@dataclass(frozen=True)
class TeamRecord:
    name: str
    limit_nanos: int | None = None
    limit_reset: str | None = None
    rate_limit_requests: int | None = None
    rate_limit_interval: float | None = None
    token_limit_tokens: int | None = None
    token_limit_interval: float | None = None
    user_limit_nanos: int | None = None          # USD budget per end user of the team's keys together
    user_rate_limit_requests: int | None = None  # requests per interval per end user, the team's keys together
    user_rate_limit_interval: float | None = None
    source: str = "api"
    created_at_ms: int = 0
    updated_at_ms: int | None = None
    policy: AccessPolicy = field(default=UNRESTRICTED)

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> TeamRecord:
        return cls(**{k: row[k] for k in ROW_FIELDS if k in row},
                   policy=policy_from_row(row, owner=f"team '{row['name']}'"))

    @property
    def hash(self) -> str:
        """What the rate-limit and spend counters are named by (a key's are named by its hash)."""
        return f"team:{self.name}"


def new_team_row(name: str, *, limit_nanos: int | None = None, limit_reset: str | None = None,
                 rate_limit: tuple[int, float] | None = None, token_limit: tuple[int, float] | None = None,
                 models: list[str] | None = None, providers: list[str] | None = None,
                 max_price: dict[str, Any] | None = None, user_limit_nanos: int | None = None,
                 user_rate_limit: tuple[int, float] | None = None, source: str = "api") -> dict[str, Any]:
    return {
        "name": name, "limit_nanos": limit_nanos, "limit_reset": limit_reset,
        "rate_limit_requests": rate_limit[0] if rate_limit else None,
        "rate_limit_interval": rate_limit[1] if rate_limit else None,
        "token_limit_tokens": token_limit[0] if token_limit else None,
        "token_limit_interval": token_limit[1] if token_limit else None,
        **policy_columns(models, providers, max_price),
        "user_limit_nanos": user_limit_nanos,
        "user_rate_limit_requests": user_rate_limit[0] if user_rate_limit else None,
        "user_rate_limit_interval": user_rate_limit[1] if user_rate_limit else None,
        "source": source, "created_at_ms": now_ms(), "updated_at_ms": None,
    }


def config_team_rows(config: Config) -> list[dict[str, Any]]:
    from .keys import usd_to_nanos  # noqa: PLC0415 - keys imports this module

    return [new_team_row(
        team.name, limit_nanos=usd_to_nanos(team.limit), limit_reset=team.limit_reset,
        rate_limit=(team.rate_limit.requests, team.rate_limit.interval) if team.rate_limit else None,
        token_limit=(team.token_limit.tokens, team.token_limit.interval) if team.token_limit else None,
        models=team.models, providers=team.providers,
        max_price=team.max_price.model_dump() if team.max_price else None,
        user_limit_nanos=usd_to_nanos(team.user_limit),
        user_rate_limit=(team.user_rate_limit.requests, team.user_rate_limit.interval) if team.user_rate_limit else None,
        source="config",
    ) for team in config.teams]
