"""Key management from the dashboard: create (the key is returned once), enable/disable, change the
limit, the team and the policy, revoke. The same validation (strict bodies) and writes (through
`services.governance`) as the provisioning API (server/admin.py)."""

from __future__ import annotations

from pydantic import Field

from ...accounting.keys import KeyRecord, load_key
from ...errors import NotFoundError
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
from ..http import Request, Response, Send, json_response
from ..services import Services
from . import session
from .api import key_views

BODY_LIMIT = 1 << 16


class KeyChange(KeyUpdate):
    """A dashboard update names its key in the body."""
    hash: str = Field(min_length=1, max_length=64)


class KeyRevoke(StrictBody):
    hash: str = Field(min_length=1, max_length=64)


async def create(services: Services, request: Request, send: Send) -> Response:
    actor = await session.require(services, request)
    spec = parse(KeyCreate, await request.body(BODY_LIMIT))
    record, plaintext = await create_from_spec(services, spec, actor)
    view = next(v for v in await key_views(services) if v["hash"] == record.hash)
    return json_response({"key": plaintext, "data": view, **ignored(spec)}, status=201)


async def update(services: Services, request: Request, send: Send) -> Response:
    actor = await session.require(services, request)
    spec = parse(KeyChange, await request.body(BODY_LIMIT))
    record = await _record(services, spec.hash)
    await apply_update(services, record, spec, actor)
    return json_response({"data": next(v for v in await key_views(services) if v["hash"] == record.hash),
                          **ignored(spec)})


async def revoke(services: Services, request: Request, send: Send) -> Response:
    actor = await session.require(services, request)
    record = await _record(services, parse(KeyRevoke, await request.body(BODY_LIMIT)).hash)
    refuse_config_key(services, record)
    await services.governance.delete_key(record.hash, actor=actor, action="key.revoke")
    return json_response({"deleted": True, "hash": record.hash})


async def _record(services: Services, key_hash: str) -> KeyRecord:
    record = await load_key(services.store, key_hash)
    if record is None:
        raise NotFoundError(f"Key {key_hash} not found")
    return record
