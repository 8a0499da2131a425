"""Key management from the dashboard: create (the key is returned once), enable/disable, change the
limit, revoke. The same validation and writes as the provisioning API (server/admin.py)."""

from __future__ import annotations

from ...accounting.keys import KeyRecord
from ...errors import BadRequestError, NotFoundError
from ...protocols.openai_chat.request import load_object
from ..admin import KeyCreate, KeyUpdate, apply_update, create_from_spec, parse, refuse_config_key
from ..http import Request, Response, Send, json_response
from ..services import Services
from . import session
from .api import key_views

BODY_LIMIT = 1 << 16


async def create(services: Services, request: Request, send: Send) -> Response:
    actor = await session.require(services, request)
    record, plaintext = await create_from_spec(services, parse(KeyCreate, await request.body(BODY_LIMIT)), actor)
    view = next(v for v in await key_views(services) if v["hash"] == record.hash)
    return json_response({"key": plaintext, "data": view}, status=201)


async def update(services: Services, request: Request, send: Send) -> Response:
    actor = await session.require(services, request)
    body = await request.body(BODY_LIMIT)
    record = await _record(services, body)
    await apply_update(services, record, parse(KeyUpdate, body), actor)
    return json_response({"data": next(v for v in await key_views(services) if v["hash"] == record.hash)})


async def revoke(services: Services, request: Request, send: Send) -> Response:
    actor = await session.require(services, request)
    record = await _record(services, await request.body(BODY_LIMIT))
    refuse_config_key(services, record)
    await services.keys.delete(record.hash, actor=actor, action="key.revoke")
    return json_response({"deleted": True, "hash": record.hash})


async def _record(services: Services, body: bytes) -> KeyRecord:
    key_hash = load_object(body).get("hash")
    if not isinstance(key_hash, str) or not key_hash:
        raise BadRequestError("hash: required")
    row = await services.store.get_key(key_hash)
    if row is None:
        raise NotFoundError(f"Key {key_hash} not found")
    return KeyRecord.from_row(row)
