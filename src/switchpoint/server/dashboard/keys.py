"""Key management from the dashboard: create (the key is returned once), enable/disable, change the
limit, the team and the policy, revoke. The same validation (strict bodies) and writes (through
`services.governance`) as the provisioning API (server/admin.py)."""

from __future__ import annotations

from pydantic import Field

from ...accounting.keys import KeyRecord, load_key
from ...errors import ForbiddenError, NotFoundError
from ..admin import (
    KeyCreate,
    KeyUpdate,
    StrictBody,
    apply_update,
    create_from_spec,
    ignored,
    parse,
    refuse_config_key,
)
from ..auth import guard
from ..auth.principal import Action, Principal
from ..auth.scope import owns, team_for_new_key
from ..http import Request, Response, Send, json_response
from ..services import Services
from .api import key_views

BODY_LIMIT = 1 << 16


class KeyChange(KeyUpdate):
    """A dashboard update names its key in the body."""
    hash: str = Field(min_length=1, max_length=64)


class KeyRevoke(StrictBody):
    hash: str = Field(min_length=1, max_length=64)


async def create(services: Services, request: Request, send: Send) -> Response:
    """A team-admin's new key belongs to its team."""
    principal = await guard.dashboard(services, request, Action.WRITE)
    spec = parse(KeyCreate, await request.body(BODY_LIMIT))
    record, plaintext = await create_from_spec(services, spec, principal.label, team=team_for_new_key(principal))
    view = next(v for v in await key_views(services, principal) if v["hash"] == record.hash)
    return json_response({"key": plaintext, "data": view, **ignored(spec)}, status=201)


async def update(services: Services, request: Request, send: Send) -> Response:
    principal = await guard.dashboard(services, request, Action.WRITE)
    spec = parse(KeyChange, await request.body(BODY_LIMIT))
    record = await _record(services, principal, spec.hash)
    if principal.team_scope is not None and "team" in spec.model_fields_set and spec.team != principal.team_scope:
        raise ForbiddenError(f"A team-admin keeps its keys in its team ({principal.team_scope})",
                             metadata={"role": principal.role})
    await apply_update(services, record, spec, principal.label)
    return json_response({"data": next(v for v in await key_views(services, principal) if v["hash"] == record.hash),
                          **ignored(spec)})


async def revoke(services: Services, request: Request, send: Send) -> Response:
    principal = await guard.dashboard(services, request, Action.WRITE)
    record = await _record(services, principal, parse(KeyRevoke, await request.body(BODY_LIMIT)).hash)
    actor = principal.label
    refuse_config_key(services, record)
    await services.governance.delete_key(record.hash, actor=actor, action="key.revoke")
    return json_response({"deleted": True, "hash": record.hash})


async def _record(services: Services, principal: Principal, key_hash: str) -> KeyRecord:
    """The key the body names; another team's key is not found for a team-admin."""
    row = await services.store.get_key(key_hash)
    record = await load_key(services.store, key_hash) if row is not None and owns(principal, row) else None
    if record is None:
        raise NotFoundError(f"Key {key_hash} not found")
    return record
