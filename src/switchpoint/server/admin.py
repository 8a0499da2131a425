"""Key provisioning API (admin key only), shaped like OpenRouter's /api/v1/keys. Bodies are strict:
an unknown field is a 400 naming it. Every write goes through `services.governance`."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from ..accounting.keys import KeyRecord, config_key_hashes, config_key_problem, load_key, usd_to_nanos
from ..config.access import policy_columns
from ..config.governance import RateLimitConfig, TokenLimitConfig
from ..errors import BadRequestError, ForbiddenError, NotFoundError
from ..protocols.openai_chat.request import load_object
from .auth import guard
from .auth.principal import Action, Principal
from .auth.scope import owns, team_for_new_key
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


class StrictBody(BaseModel):
    """An admin API body: a field it does not know is a 400 naming it (a misspelt restriction must
    never be accepted and silently not applied)."""
    model_config = ConfigDict(extra="forbid")


class MaxPrice(StrictBody):
    """USD per million tokens, as a request's `provider.max_price`."""
    prompt: float | None = Field(None, ge=0, le=MAX_LIMIT_USD)
    completion: float | None = Field(None, ge=0, le=MAX_LIMIT_USD)


class PolicyFields(StrictBody):
    """What a key or team may use (docs/governance.md); null = no restriction."""
    models: list[Annotated[str, Field(min_length=1, max_length=200)]] | None = Field(None, max_length=1000)
    providers: list[Annotated[str, Field(min_length=1, max_length=100)]] | None = Field(None, max_length=1000)
    max_price: MaxPrice | None = None

    def policy_values(self) -> dict[str, Any]:
        """The stored columns of the policy fields given."""
        given = self.model_fields_set
        columns = policy_columns(self.models, self.providers,
                                 self.max_price.model_dump() if self.max_price else None)
        return {name: columns[name] for name in ("models", "providers", "max_price") if name in given}


class External(StrictBody):
    """OpenRouter's partner identity for a new key: the end user it is for, and optionally the key
    itself (stored as a hash like every key, and never shown again)."""
    user: str = Field(min_length=1, max_length=256)
    api_key: str | None = Field(None, min_length=32, max_length=512)


TeamName = Annotated[str, Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9][\w.\-]*$")]
# OpenRouter's optional key fields that the gateway accepts but has nothing to apply to: each one
# given is named in the answer's `metadata.ignored`.
IGNORED_FIELDS = ("include_byok_in_limit", "creator_user_id")


class KeyCreate(PolicyFields):
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
    team: TeamName | None = None
    include_byok_in_limit: bool | None = None  # no BYOK here: accepted, listed as ignored
    creator_user_id: str | None = Field(None, max_length=200)  # no organization members: ignored
    user_limit: float | None = Field(None, ge=0, le=MAX_LIMIT_USD)  # USD per end user, per limit_reset period
    user_rate_limit: KeyRateLimit | None = None                      # requests per interval per end user

    @field_validator("workspace_id")
    @classmethod
    def _workspace(cls, value: str | None) -> str | None:
        return one_workspace(value)

    @field_validator("expires_at")
    @classmethod
    def _utc(cls, value: dt.datetime | None) -> dt.datetime | None:
        return utc_time(value)


class KeyUpdate(PolicyFields):
    name: str | None = Field(None, min_length=1, max_length=200)
    disabled: bool | None = None
    limit: float | None = Field(None, ge=0, le=MAX_LIMIT_USD)
    limit_reset: Literal["daily", "weekly", "monthly"] | None = None
    expires_at: dt.datetime | None = None
    rate_limit: KeyRateLimit | None = None
    token_limit: KeyTokenLimit | None = None
    cache: bool | None = None
    log_content: bool | None = None
    workspace_id: str | None = None
    team: TeamName | None = None
    include_byok_in_limit: bool | None = None
    user_limit: float | None = Field(None, ge=0, le=MAX_LIMIT_USD)
    user_rate_limit: KeyRateLimit | None = None

    @field_validator("workspace_id")
    @classmethod
    def _workspace(cls, value: str | None) -> str | None:
        return one_workspace(value)

    @field_validator("expires_at")
    @classmethod
    def _utc(cls, value: dt.datetime | None) -> dt.datetime | None:
        return utc_time(value)


def utc_time(value: dt.datetime | None) -> dt.datetime | None:
    if value is not None and (value.tzinfo is None or value.utcoffset() != dt.timedelta(0)):
        raise ValueError("must be an ISO-8601 time in UTC (ending in Z or +00:00)")
    return value


def ignored(spec: BaseModel) -> dict[str, Any]:
    """`{"metadata": {"ignored": [...]}}` for the accepted fields that have no effect here, else {}."""
    names = [name for name in IGNORED_FIELDS if name in spec.model_fields_set]
    return {"metadata": {"ignored": names}} if names else {}


def one_workspace(value: str | None) -> str | None:
    """OpenRouter's keys live in workspaces; the gateway has one, so only its id is accepted."""
    if value is not None and value != WORKSPACE_ID:
        raise ValueError(f"unknown workspace; the gateway has one, {WORKSPACE_ID}")
    return value


def require_admin(services: Services, request: Request, action: Action = Action.ADMIN) -> Principal:
    """The admin key or a management key whose role allows `action` (server/auth/guard.py); its
    `label` is the actor the audit log names."""
    return guard.admin_api(services, request, action)


def parse(model: type[BaseModel], body: bytes | dict[str, Any]) -> Any:
    """Validate an admin body; a 400 naming every unknown field, or else the first invalid one."""
    try:
        return model.model_validate(body if isinstance(body, dict) else load_object(body))
    except ValidationError as exc:
        errors = exc.errors()
        unknown = [".".join(str(p) for p in e["loc"]) for e in errors if e["type"] == "extra_forbidden"]
        if unknown:
            raise BadRequestError(f"Unknown field{'s' if len(unknown) > 1 else ''}: {', '.join(unknown)}",
                                  metadata={"param": unknown[0], "unknown_fields": unknown}) from None
        first = errors[0]
        field = ".".join(str(p) for p in first["loc"]) or "body"
        raise BadRequestError(f"{field}: {first['msg'].removeprefix('Value error, ')}",
                              metadata={"param": field}) from None


async def create_key(services: Services, request: Request, send: Send) -> Response:
    principal = require_admin(services, request, Action.WRITE)
    spec = parse(KeyCreate, await request.body(1 << 16))
    record, plaintext = await create_from_spec(services, spec, principal.label, team=team_for_new_key(principal))
    # Built from the stored record alone (a new key has spent nothing, never been used): once the key
    # exists, nothing can fail before its one-time plaintext reaches the caller.
    return json_response({"data": key_fields(record, {}, None), "key": plaintext, **ignored(spec)}, status=201)


async def create_from_spec(services: Services, spec: KeyCreate, actor: str,
                           team: str | None = None) -> tuple[KeyRecord, str]:
    """Create a key as the provisioning API and the dashboard both do; returns it and its plaintext.
    `team`: a team-admin's team, which the new key belongs to."""
    if team is not None and spec.team not in (None, team):
        raise ForbiddenError(f"A team-admin creates keys in its team ({team})", metadata={"param": "team"})
    own = spec.external.api_key if spec.external else None
    if own is not None and await services.governance.key_exists(own):
        raise BadRequestError("external.api_key: this key is already in use", metadata={"param": "external.api_key"})
    record, plaintext, _ = await services.governance.create_key(
        spec.name, plaintext=own, actor=actor, limit_usd=spec.limit, limit_reset=spec.limit_reset,
        rate_limit=(spec.rate_limit.requests, spec.rate_limit.interval) if spec.rate_limit else None,
        token_limit=(spec.token_limit.tokens, spec.token_limit.interval) if spec.token_limit else None,
        expires_at_ms=int(spec.expires_at.timestamp() * 1000) if spec.expires_at else None, cache=spec.cache,
        log_content=spec.log_content, external_user=spec.external.user if spec.external else None,
        team=team if team is not None else spec.team, models=spec.models, providers=spec.providers,
        max_price=spec.max_price.model_dump() if spec.max_price else None,
        user_limit_usd=spec.user_limit,
        user_rate_limit=(spec.user_rate_limit.requests, spec.user_rate_limit.interval) if spec.user_rate_limit else None,
    )
    return record, plaintext


async def list_keys(services: Services, request: Request, send: Send) -> Response:
    principal = require_admin(services, request, Action.READ)
    offset = request.query.get("offset", "0")
    if not offset.isdigit():
        raise BadRequestError("offset: must be a non-negative integer")
    # OpenRouter's defaults: disabled keys listed, expired keys not
    include_disabled = request.query.get("include_disabled", "true").lower() != "false"
    include_expired = request.query.get("include_expired", "false").lower() == "true"
    if request.query.get("workspace_id") not in (None, "", WORKSPACE_ID):
        return json_response({"data": []})
    if principal.team_scope is None:
        rows = await services.store.list_keys(offset=int(offset), limit=100, include_disabled=include_disabled,
                                              include_expired=include_expired)
    else:  # a team-admin's page of its team's keys
        rows = [row for row in await services.store.list_keys(limit=1_000_000, include_disabled=include_disabled,
                                                              include_expired=include_expired)
                if owns(principal, row)][int(offset):int(offset) + 100]
    used = await last_used_times(services, [r["hash"] for r in rows])
    return json_response({"data": [await key_object(services, KeyRecord.from_row(r), used) for r in rows]})


async def get_key(services: Services, request: Request, send: Send) -> Response:
    principal = require_admin(services, request, Action.READ)
    return json_response({"data": await key_object(services, await _record(services, request, principal))})


async def update_key(services: Services, request: Request, send: Send) -> Response:
    principal = require_admin(services, request, Action.WRITE)
    record = await _record(services, request, principal)
    spec = parse(KeyUpdate, await request.body(1 << 16))
    if principal.team_scope is not None and "team" in spec.model_fields_set and spec.team != principal.team_scope:
        raise ForbiddenError(f"A team-admin keeps its keys in its team ({principal.team_scope})",
                             metadata={"role": principal.role})
    await apply_update(services, record, spec, principal.label)
    return json_response({"data": await key_object(services, await _record(services, request, principal)),
                          **ignored(spec)})


async def apply_update(services: Services, record: KeyRecord, spec: KeyUpdate, actor: str) -> None:
    """Apply the fields given in `spec` to the key (the provisioning API and the dashboard)."""
    values: dict[str, Any] = spec.policy_values()
    given = spec.model_fields_set
    for name in ("name", "disabled", "limit_reset", "cache", "log_content", "team"):
        if name in given and (getattr(spec, name) is not None or name in ("limit_reset", "team")):
            values[name] = getattr(spec, name)
    if "expires_at" in given:
        values["expires_at_ms"] = int(spec.expires_at.timestamp() * 1000) if spec.expires_at else None
    values.update(limit_columns(spec, given))
    await services.governance.update_key(record.hash, values, actor=actor)


async def delete_key(services: Services, request: Request, send: Send) -> Response:
    principal = require_admin(services, request, Action.WRITE)
    record = await _record(services, request, principal)
    actor = principal.label
    refuse_config_key(services, record)
    await services.governance.delete_key(record.hash, actor=actor)
    return json_response({"deleted": True})


def refuse_config_key(services: Services, record: KeyRecord) -> None:
    problem = config_key_problem({"source": record.source, "hash": record.hash, "name": record.name},
                                 config_key_hashes(services.config))
    if problem is not None:
        raise BadRequestError(problem, metadata={"source": "config"})


async def _record(services: Services, request: Request, principal: Principal) -> KeyRecord:
    """The key the path names; another team's key is not found for a team-admin."""
    row = await services.store.get_key(request.params["hash"])
    record = await load_key(services.store, row["hash"]) if row is not None and owns(principal, row) else None
    if record is None:
        raise NotFoundError(f"Key {request.params['hash']} not found")
    return record


def limit_columns(spec: Any, given: set[str]) -> dict[str, Any]:
    """The stored columns of the limits a key or team body sets (`given`: the fields it names; null
    clears one): a budget, request and token windows, and the per-end-user budget and window."""
    values: dict[str, Any] = {}
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
    return values
