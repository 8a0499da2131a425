"""Teams API (admin key only): `POST/GET /api/v1/teams`, `GET/PATCH/DELETE /api/v1/teams/{name}`.
A team has a budget (`limit`, `limit_reset`), rate limits (`rate_limit`, `token_limit`) and an access
policy (`models`, `providers`, `max_price`) that every key of the team must satisfy on top of its own,
and limits per end user of its keys together (`user_limit`, `user_rate_limit`) (docs/governance.md). Bodies are strict; every write goes through `services.governance`."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from ..accounting.keys import usd_to_nanos
from ..accounting.pricing import from_nanos
from ..accounting.teams import TeamRecord
from ..errors import BadRequestError
from .admin import (
    MAX_LIMIT_USD,
    KeyRateLimit,
    KeyTokenLimit,
    PolicyFields,
    TeamName,
    limit_columns,
    parse,
    require_admin,
)
from .auth.principal import Action
from .http import Request, Response, Send, json_response
from .info import iso_time
from .services import Services

BODY_LIMIT = 1 << 16


class TeamCreate(PolicyFields):
    name: TeamName
    limit: float | None = Field(None, ge=0, le=MAX_LIMIT_USD)
    limit_reset: Literal["daily", "weekly", "monthly"] | None = None
    rate_limit: KeyRateLimit | None = None
    token_limit: KeyTokenLimit | None = None
    user_limit: float | None = Field(None, ge=0, le=MAX_LIMIT_USD)  # USD per end user, per limit_reset period
    user_rate_limit: KeyRateLimit | None = None                      # requests per interval per end user


class TeamUpdate(PolicyFields):
    limit: float | None = Field(None, ge=0, le=MAX_LIMIT_USD)
    limit_reset: Literal["daily", "weekly", "monthly"] | None = None
    rate_limit: KeyRateLimit | None = None
    token_limit: KeyTokenLimit | None = None
    user_limit: float | None = Field(None, ge=0, le=MAX_LIMIT_USD)  # USD per end user, per limit_reset period
    user_rate_limit: KeyRateLimit | None = None                      # requests per interval per end user


def update_values(spec: TeamUpdate) -> dict[str, Any]:
    """The stored columns of the fields given (null clears a setting)."""
    values = spec.policy_values()
    given = spec.model_fields_set
    if "limit_reset" in given:
        values["limit_reset"] = spec.limit_reset
    values.update(limit_columns(spec, given))
    return values


async def team_object(services: Services, row: dict[str, Any]) -> dict[str, Any]:
    """A team as the API shows it: its settings, its keys, and its spend in its limit's period."""
    team = TeamRecord.from_row(row)
    usage = await services.budget.team_spent(team, team.limit_reset)
    limit = from_nanos(team.limit_nanos) if team.limit_nanos is not None else None
    return {
        "name": team.name, "limit": limit, "limit_reset": team.limit_reset,
        "limit_remaining": max(0.0, limit - from_nanos(usage)) if limit is not None else None,
        "usage": from_nanos(usage),
        "rate_limit": ({"requests": team.rate_limit_requests, "interval": f"{team.rate_limit_interval or 60:g}s"}
                       if team.rate_limit_requests else None),
        "token_limit": ({"tokens": team.token_limit_tokens, "interval": f"{team.token_limit_interval or 60:g}s"}
                        if team.token_limit_tokens else None),
        **team.policy.as_fields(),
        "user_limit": from_nanos(team.user_limit_nanos) if team.user_limit_nanos is not None else None,
        "user_rate_limit": ({"requests": team.user_rate_limit_requests,
                             "interval": f"{team.user_rate_limit_interval or 60:g}s"}
                            if team.user_rate_limit_requests else None),
        "keys": len(await services.store.team_key_hashes(team.name)),
        "source": team.source,
        "created_at": iso_time(team.created_at_ms), "updated_at": iso_time(team.updated_at_ms),
    }


async def create_team(services: Services, request: Request, send: Send) -> Response:
    actor = require_admin(services, request).label
    return json_response({"data": await create_from_body(services, await request.body(BODY_LIMIT), actor)},
                         status=201)


async def create_from_body(services: Services, body: bytes, actor: str) -> dict[str, Any]:
    """Create a team from a JSON body (the API and the dashboard); its object."""
    spec = parse(TeamCreate, body)
    change = await services.governance.create_team(
        spec.name, actor=actor, limit_nanos=usd_to_nanos(spec.limit), limit_reset=spec.limit_reset,
        rate_limit=(spec.rate_limit.requests, spec.rate_limit.interval) if spec.rate_limit else None,
        token_limit=(spec.token_limit.tokens, spec.token_limit.interval) if spec.token_limit else None,
        models=spec.models, providers=spec.providers, max_price=spec.max_price.model_dump() if spec.max_price else None,
        user_limit_nanos=usd_to_nanos(spec.user_limit),
        user_rate_limit=(spec.user_rate_limit.requests, spec.user_rate_limit.interval) if spec.user_rate_limit else None)
    assert change.after is not None
    return await team_object(services, change.after)


async def list_teams(services: Services, request: Request, send: Send) -> Response:
    require_admin(services, request, Action.READ_GLOBAL)
    return json_response({"data": [await team_object(services, row) for row in await services.store.list_teams()]})


async def get_team(services: Services, request: Request, send: Send) -> Response:
    require_admin(services, request, Action.READ_GLOBAL)
    return json_response({"data": await team_object(services, await services.governance.team_row(_name(request)))})


async def update_team(services: Services, request: Request, send: Send) -> Response:
    actor = require_admin(services, request).label
    return json_response({"data": await update_from_body(services, _name(request), await request.body(BODY_LIMIT),
                                                         actor)})


async def update_from_body(services: Services, name: str, body: bytes | dict[str, Any], actor: str) -> dict[str, Any]:
    change = await services.governance.update_team(name, update_values(parse(TeamUpdate, body)), actor=actor)
    assert change.after is not None
    return await team_object(services, change.after)


async def delete_team(services: Services, request: Request, send: Send) -> Response:
    actor = require_admin(services, request).label
    name = _name(request)
    if (await services.governance.team_row(name))["source"] == "config":
        raise BadRequestError(f"team '{name}' is defined in switchpoint.yaml (teams:), so every start stores it "
                              "again. Remove it from the config file first.", metadata={"source": "config"})
    await services.governance.delete_team(name, actor=actor)
    return json_response({"deleted": True})


def _name(request: Request) -> str:
    return request.params["name"]
