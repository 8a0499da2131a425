"""Key provisioning API (admin key only), shaped like OpenRouter's /api/v1/keys."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from ..accounting.keys import KeyRecord, config_key_hashes, config_key_problem, hash_key, usd_to_nanos
from ..config.schema import RateLimitConfig, TokenLimitConfig
from ..errors import AuthenticationError, BadRequestError, ForbiddenError, NotFoundError
from ..protocols.openai_chat.request import load_object
from .http import Request, Response, Send, json_response
from .info import WORKSPACE_ID, key_fields, key_object, last_used_times
from .services import Services

MAX_LIMIT_USD = 1e9  # in nano-USD it still fits the ledger's 64-bit columns
INT32_MAX = 2**31 - 1  # the key table's request counts are a 32-bit INTEGER column on PostgreSQL
YEAR = 366 * 86400.0


class KeyRateLimit(RateLimitConfig):
    requests: int = Field(gt=0, le=INT32_MAX)
    interval: float = Field(60.0, gt=0, le=YEAR)


class KeyTokenLimit(TokenLimitConfig):
    tokens: int = Field(gt=0, le=2**63 - 1)
    interval: float = Field(60.0, gt=0, le=YEAR)


class External(BaseModel):
    """OpenRouter's partner identity for a new key: the end user it is for, and optionally the key
    itself (stored as a hash like every key, and never shown again)."""
    model_config = ConfigDict(extra="ignore")
    user: str = Field(min_length=1, max_length=256)
    api_key: str | None = Field(None, min_length=32, max_length=512)


class KeyCreate(BaseModel):
    model_config = ConfigDict(extra="ignore")
    name: str = Field(min_length=1, max_length=200)
    limit: float | None = Field(None, ge=0, le=MAX_LIMIT_USD)
    limit_reset: Literal["daily", "weekly", "monthly"] | None = None
    expires_at: dt.datetime | None = None
    rate_limit: KeyRateLimit | None = None
    token_limit: KeyTokenLimit | None = None
    cache: bool = False
    log_content: bool = False  # write prompts and completions into the generation log
    workspace_id: str | None = None
    external: External | None = None
    user_limit: float | None = Field(None, ge=0, le=MAX_LIMIT_USD)  # USD per end user, per limit_reset period
    user_rate_limit: KeyRateLimit | None = None                      # requests per interval per end user

    @field_validator("workspace_id")
    @classmethod
    def _workspace(cls, value: str | None) -> str | None:
        return one_workspace(value)

    @field_validator("expires_at")
    @classmethod
    def _utc(cls, value: dt.datetime | None) -> dt.datetime | None:
        if value is not None and (value.tzinfo is None or value.utcoffset() != dt.timedelta(0)):
            raise ValueError("must be an ISO-8601 time in UTC (ending in Z or +00:00)")
        return value


class KeyUpdate(BaseModel):
    model_config = ConfigDict(extra="ignore")
    name: str | None = Field(None, min_length=1, max_length=200)
    disabled: bool | None = None
    limit: float | None = Field(None, ge=0, le=MAX_LIMIT_USD)
    limit_reset: Literal["daily", "weekly", "monthly"] | None = None
    rate_limit: KeyRateLimit | None = None
    token_limit: KeyTokenLimit | None = None
    cache: bool | None = None
    log_content: bool | None = None
    workspace_id: str | None = None
    user_limit: float | None = Field(None, ge=0, le=MAX_LIMIT_USD)
    user_rate_limit: KeyRateLimit | None = None

    @field_validator("workspace_id")
    @classmethod
    def _workspace(cls, value: str | None) -> str | None:
        return one_workspace(value)


def one_workspace(value: str | None) -> str | None:
    """OpenRouter's keys live in workspaces; the gateway has one, so only its id is accepted."""
    if value is not None and value != WORKSPACE_ID:
        raise ValueError(f"unknown workspace; the gateway has one, {WORKSPACE_ID}")
    return value


ADMIN_ACTOR = "admin-key"  # the audit log's name for whoever holds the management key


def require_admin(services: Services, request: Request) -> str:
    """Refuse anyone but the management key; returns the actor the audit log names for the caller."""
    authorization = request.header(b"authorization")
    if not authorization:
        raise AuthenticationError("No auth credentials found")
    if services.config.admin_key is None:
        raise ForbiddenError("No admin key is configured: set admin_key in switchpoint.yaml or SWITCHPOINT_ADMIN_KEY")
    if not services.keys.is_admin(authorization):
        raise ForbiddenError("Only management keys can perform this operation")
    return ADMIN_ACTOR


def parse(model: type[BaseModel], body: bytes) -> Any:
    try:
        return model.model_validate(load_object(body))
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(p) for p in first["loc"]) or "body"
        raise BadRequestError(f"{field}: {first['msg'].removeprefix('Value error, ')}",
                              metadata={"param": field}) from None


async def create_key(services: Services, request: Request, send: Send) -> Response:
    actor = require_admin(services, request)
    record, plaintext = await create_from_spec(services, parse(KeyCreate, await request.body(1 << 16)), actor)
    # Built from the stored record alone (a new key has spent nothing, never been used): once the key
    # exists, nothing can fail before its one-time plaintext reaches the caller.
    return json_response({"data": key_fields(record, {}, None), "key": plaintext}, status=201)


async def create_from_spec(services: Services, spec: KeyCreate, actor: str) -> tuple[KeyRecord, str]:
    """Create a key as the provisioning API and the dashboard both do; returns it and its plaintext."""
    own = spec.external.api_key if spec.external else None
    if own is not None and (services.keys.is_admin(f"Bearer {own}") or await services.store.get_key(hash_key(own))):
        raise BadRequestError("external.api_key: this key is already in use", metadata={"param": "external.api_key"})
    record, plaintext = await services.keys.create(
        spec.name, limit_usd=spec.limit, limit_reset=spec.limit_reset,
        rate_limit=(spec.rate_limit.requests, spec.rate_limit.interval) if spec.rate_limit else None,
        token_limit=(spec.token_limit.tokens, spec.token_limit.interval) if spec.token_limit else None,
        expires_at_ms=int(spec.expires_at.timestamp() * 1000) if spec.expires_at else None, cache=spec.cache,
        log_content=spec.log_content, external_user=spec.external.user if spec.external else None, plaintext=own,
        user_limit_usd=spec.user_limit,
        user_rate_limit=(spec.user_rate_limit.requests, spec.user_rate_limit.interval) if spec.user_rate_limit else None,
        actor=actor,
    )
    return record, plaintext


async def list_keys(services: Services, request: Request, send: Send) -> Response:
    require_admin(services, request)
    offset = request.query.get("offset", "0")
    if not offset.isdigit():
        raise BadRequestError("offset: must be a non-negative integer")
    # OpenRouter's defaults: disabled keys listed, expired keys not
    include_disabled = request.query.get("include_disabled", "true").lower() != "false"
    include_expired = request.query.get("include_expired", "false").lower() == "true"
    if request.query.get("workspace_id") not in (None, "", WORKSPACE_ID):
        return json_response({"data": []})
    rows = await services.store.list_keys(offset=int(offset), limit=100, include_disabled=include_disabled,
                                          include_expired=include_expired)
    used = await last_used_times(services, [r["hash"] for r in rows])
    return json_response({"data": [await key_object(services, KeyRecord.from_row(r), used) for r in rows]})


async def get_key(services: Services, request: Request, send: Send) -> Response:
    require_admin(services, request)
    return json_response({"data": await key_object(services, await _record(services, request))})


async def update_key(services: Services, request: Request, send: Send) -> Response:
    actor = require_admin(services, request)
    record = await _record(services, request)
    await apply_update(services, record, parse(KeyUpdate, await request.body(1 << 16)), actor)
    return json_response({"data": await key_object(services, await _record(services, request))})


async def apply_update(services: Services, record: KeyRecord, spec: KeyUpdate, actor: str) -> None:
    """Apply the fields given in `spec` to the key (the provisioning API and the dashboard)."""
    values: dict[str, Any] = {}
    given = spec.model_fields_set
    for name in ("name", "disabled", "limit_reset", "cache", "log_content"):
        if name in given and (getattr(spec, name) is not None or name == "limit_reset"):
            values[name] = getattr(spec, name)
    if "limit" in given:
        values["limit_nanos"] = usd_to_nanos(spec.limit)
    if "rate_limit" in given:
        values["rate_limit_requests"] = spec.rate_limit.requests if spec.rate_limit else None
        values["rate_limit_interval"] = spec.rate_limit.interval if spec.rate_limit else None
    if "token_limit" in given:
        values["token_limit_tokens"] = spec.token_limit.tokens if spec.token_limit else None
        values["token_limit_interval"] = spec.token_limit.interval if spec.token_limit else None
    if "user_limit" in given:
        values["user_limit_nanos"] = usd_to_nanos(spec.user_limit)
    if "user_rate_limit" in given:
        values["user_rate_limit_requests"] = spec.user_rate_limit.requests if spec.user_rate_limit else None
        values["user_rate_limit_interval"] = spec.user_rate_limit.interval if spec.user_rate_limit else None
    if values:
        await services.keys.update(record.hash, values, actor=actor)


async def delete_key(services: Services, request: Request, send: Send) -> Response:
    actor = require_admin(services, request)
    record = await _record(services, request)
    refuse_config_key(services, record)
    await services.keys.delete(record.hash, actor=actor)
    return json_response({"deleted": True})


def refuse_config_key(services: Services, record: KeyRecord) -> None:
    problem = config_key_problem({"source": record.source, "hash": record.hash, "name": record.name},
                                 config_key_hashes(services.config))
    if problem is not None:
        raise BadRequestError(problem, metadata={"source": "config"})


async def _record(services: Services, request: Request) -> KeyRecord:
    row = await services.store.get_key(request.params["hash"])
    if row is None:
        raise NotFoundError(f"Key {request.params['hash']} not found")
    return KeyRecord.from_row(row)
