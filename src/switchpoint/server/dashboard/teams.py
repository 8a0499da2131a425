"""The dashboard's Teams page: list teams with their spend against their limit, create, change and
delete them. The same validation (strict bodies) and writes (through `services.governance`) as the
teams API (server/teams.py)."""

from __future__ import annotations

from pydantic import Field

from ...errors import BadRequestError
from ...protocols.openai_chat.request import load_object
from ..admin import StrictBody, parse
from ..auth import guard
from ..auth.principal import Action
from ..http import Request, Response, Send, json_response
from ..services import Services
from ..teams import create_from_body, team_object, update_from_body

BODY_LIMIT = 1 << 16


class TeamDelete(StrictBody):
    name: str = Field(min_length=1, max_length=100)


async def list_teams(services: Services, request: Request, send: Send) -> Response:
    await guard.dashboard(services, request, Action.READ_GLOBAL)
    return json_response({"teams": [await team_object(services, row) for row in await services.store.list_teams()]})


async def create(services: Services, request: Request, send: Send) -> Response:
    actor = (await guard.dashboard(services, request, Action.ADMIN)).label
    return json_response({"data": await create_from_body(services, await request.body(BODY_LIMIT), actor)},
                         status=201)


async def update(services: Services, request: Request, send: Send) -> Response:
    """Body: the team's `name` and the fields to change (as PATCH /api/v1/teams/{name})."""
    actor = (await guard.dashboard(services, request, Action.ADMIN)).label
    body = dict(load_object(await request.body(BODY_LIMIT)))
    name = body.pop("name", None)
    if not isinstance(name, str) or not name:
        raise BadRequestError("name: required", metadata={"param": "name"})
    return json_response({"data": await update_from_body(services, name, body, actor)})


async def delete(services: Services, request: Request, send: Send) -> Response:
    actor = (await guard.dashboard(services, request, Action.ADMIN)).label
    name = parse(TeamDelete, await request.body(BODY_LIMIT)).name
    if (await services.governance.team_row(name))["source"] == "config":
        raise BadRequestError(f"team '{name}' is defined in switchpoint.yaml (teams:); remove it there first",
                              metadata={"source": "config"})
    await services.governance.delete_team(name, actor=actor)
    return json_response({"deleted": True, "name": name})
