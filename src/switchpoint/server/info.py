"""Read-only endpoints about use: generation stats, the calling key, credits, activity, providers
and health (the model catalogue is server/models.py). Every answer carries each field OpenRouter's
SDKs require (checked by tests/server/test_openrouter_sdk*.py with both official SDKs)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import orjson

from ..accounting.activity import activity as report
from ..accounting.activity import day_range, parse_since
from ..accounting.budget import period_end, period_start
from ..accounting.keys import KeyRecord
from ..accounting.pricing import from_nanos
from ..errors import BadRequestError, NotFoundError, ServiceUnavailableError
from ..routing.auto import AUTO_MODEL
from ..storage.reports import last_used
from .auth.scope import team_key_hashes
from .http import Request, Response, Send, json_response
from .services import Services

# Switchpoint has one workspace, the gateway's own; OpenRouter's clients require a workspace id on
# keys (a UUID there), so every key and generation names this one.
WORKSPACE_ID = "00000000-0000-0000-0000-000000000000"


async def generation(services: Services, request: Request, send: Send) -> Response:
    key = await services.keys.authenticate(request.header(b"authorization"))
    generation_id = request.query.get("id")
    if not generation_id:
        raise BadRequestError("id: required (a generation id such as gen-...)")
    row = services.ledger.pending(generation_id) or await services.store.get_generation(generation_id)
    if row is None or (row["key_hash"] != key.hash and not services.keys.is_admin(request.header(b"authorization"))):
        raise NotFoundError(f"Generation {generation_id} not found")
    return json_response({"data": generation_object(row)})


def generation_object(row: dict[str, Any]) -> dict[str, Any]:
    attempts = row.get("attempts")
    if isinstance(attempts, str):
        attempts = orjson.loads(attempts)
    created = dt.datetime.fromtimestamp(row["created_at_ms"] / 1000, dt.UTC)
    return {
        "id": row["id"], "upstream_id": row["upstream_id"], "total_cost": from_nanos(row["cost_nanos"]),
        "usage": from_nanos(row["cost_nanos"]), "cache_discount": None,
        "upstream_inference_cost": from_nanos(row["cost_nanos"] - row["markup_nanos"]),
        "markup": from_nanos(row["markup_nanos"]),
        "created_at": created.isoformat().replace("+00:00", "Z"), "model": row["model"],
        "provider_name": row["provider"], "upstream_model": row["upstream_model"], "api_type": row["api_type"],
        "streamed": row["streamed"], "cancelled": row["status"] == "cancelled", "status": row["status"],
        "http_status": row["http_status"], "latency": row["latency_ms"], "time_to_first_token": row["ttft_ms"],
        "generation_time": row["generation_ms"], "moderation_latency": None,
        "finish_reason": row["finish_reason"], "native_finish_reason": row["native_finish_reason"],
        "tokens_prompt": row["prompt_tokens"], "tokens_completion": row["completion_tokens"],
        "native_tokens_prompt": row["prompt_tokens"], "native_tokens_completion": row["completion_tokens"],
        "native_tokens_reasoning": row["reasoning_tokens"], "native_tokens_cached": row["cached_tokens"],
        "native_tokens_cache_write": row["cache_write_tokens"], "usage_estimated": row["usage_estimated"],
        "cache_hit": row["cache_hit"], "is_byok": False, "external_user": row["external_user"],
        "error": row["error"], "provider_responses": [provider_response(a) for a in attempts or ()],
        **_router(row.get("router")),
        # OpenRouter's fields for what the gateway does not do (web search, presets, media, regions)
        "origin": "", "app_id": None, "http_referer": None, "user_agent": None, "preset_id": None,
        "workspace_id": WORKSPACE_ID, "data_region": "global", "service_tier": None, "web_search_engine": None,
        "num_search_results": None, "num_fetches": None, "num_media_prompt": None, "num_media_completion": None,
        "num_input_audio_prompt": None, "native_tokens_completion_images": None,
    }


def _router(stored: str | None) -> dict[str, Any]:
    """`router`: switchpoint/auto when it chose the model; `router_choice`: its model, tier and reason, and
    `sticky: true` when prompt-cache stickiness chose the endpoint (also the top-level `sticky`)."""
    choice = orjson.loads(stored) if stored else None
    return {"router": AUTO_MODEL if choice and "router" in choice else None, "router_choice": choice,
            "sticky": bool(choice and choice.get("sticky"))}


def provider_response(attempt: dict[str, Any]) -> dict[str, Any]:
    """One attempt, with OpenRouter's field names alongside ours."""
    return {**attempt, "provider_name": attempt.get("provider"), "model_permaslug": attempt.get("model"),
            "endpoint_id": f"{attempt.get('provider')}:{attempt.get('upstream_model')}", "is_byok": False}


async def key_info(services: Services, request: Request, send: Send) -> Response:
    key = await services.keys.authenticate(request.header(b"authorization"))
    data = await key_object(services, key)
    per_day, left = services.limiter.free_per_day, await services.limiter.free_requests_left(key)
    data["free_model_daily_requests"] = {"limit": per_day, "remaining": left, "used": per_day - left}
    return json_response({"data": data})


USAGE_PERIODS = (("usage", None), ("usage_daily", "daily"), ("usage_weekly", "weekly"), ("usage_monthly", "monthly"))


async def key_object(services: Services, key: KeyRecord, used: dict[str, int] | None = None) -> dict[str, Any]:
    """The key as OpenRouter's key objects: its spend in each period and when it was last used, from
    the ledger (`used`: last-use times already read for a page of keys)."""
    usage = {name: await services.budget.spent(key, reset) for name, reset in USAGE_PERIODS}
    if used is None:
        used = await last_used_times(services, [key.hash])
    fields = key_fields(key, usage, used.get(key.hash))
    team = key.team_record
    if team is not None and team.limit_nanos is not None:  # the team's budget, which the key shares
        spent = from_nanos(await services.budget.team_spent(team, team.limit_reset))
        limit = from_nanos(team.limit_nanos)
        resets = period_end(team.limit_reset, period_start(team.limit_reset, dt.datetime.now(dt.UTC)))
        fields["budgets"] = [*fields["budgets"], {
            "budget_id": None, "guardrail_id": None, "scope": "team_limit", "team": team.name, "include_byok": False,
            "limit_usd": limit, "spend_usd": spent, "remaining_usd": max(0.0, limit - spent),
            "reset_interval": team.limit_reset,
            "resets_at": iso_time(int(resets.timestamp() * 1000)) if resets else None}]
    return fields


async def last_used_times(services: Services, key_hashes: list[str]) -> dict[str, int]:
    """Each key's newest generation (epoch ms), the rows not yet written included."""
    stored = await last_used(services.store, key_hashes)
    for key_hash, ms in services.ledger.pending_last_used().items():
        if key_hash in key_hashes and ms > stored.get(key_hash, -1):
            stored[key_hash] = ms
    return stored


def key_fields(key: KeyRecord, usage_nanos: dict[str, int], last_used_ms: int | None) -> dict[str, Any]:
    """Every field OpenRouter's SDKs require of a key object (the /key, /keys and create answers),
    from the record and its spend: no I/O, so a new key's answer cannot fail after it was stored."""
    usage = {name: from_nanos(usage_nanos.get(name, 0)) for name, _ in USAGE_PERIODS}
    limit = from_nanos(key.limit_nanos) if key.limit_nanos is not None else None
    current = usage["usage" if key.limit_reset is None else f"usage_{key.limit_reset}"]
    remaining = max(0.0, limit - current) if limit is not None else None
    budget_object = None
    if limit is not None:  # the key's limit, as an OpenRouter budget
        now = dt.datetime.now(dt.UTC)
        resets = period_end(key.limit_reset, period_start(key.limit_reset, now))
        budget_object = {"budget_id": None, "guardrail_id": None, "scope": "key_limit", "include_byok": False,
                         "limit_usd": limit, "spend_usd": current, "remaining_usd": remaining,
                         "reset_interval": key.limit_reset,
                         "resets_at": iso_time(int(resets.timestamp() * 1000)) if resets else None}
    return {
        "hash": key.hash, "name": key.name, "label": key.label, "disabled": key.disabled,
        "limit": limit, "limit_remaining": remaining,
        "limit_reset": key.limit_reset, "include_byok_in_limit": False, **usage,
        "byok_usage": 0, "byok_usage_daily": 0, "byok_usage_weekly": 0, "byok_usage_monthly": 0,
        "is_free_tier": False, "is_management_key": False, "is_provisioning_key": False,
        "budgets": [budget_object] if budget_object else [], "effective_budget": budget_object,
        # OpenRouter's deprecated object; requests -1 = no request limit
        "rate_limit": {"requests": key.rate_limit_requests or -1, "interval": f"{key.rate_limit_interval or 60:g}s",
                       "note": "Deprecated by OpenRouter; requests -1 means no limit."},
        "token_limit": ({"tokens": key.token_limit_tokens, "interval": f"{key.token_limit_interval:g}s"}
                        if key.token_limit_tokens else None),
        "creator_user_id": None, "organization_id": None, "workspace_id": WORKSPACE_ID,
        "external_user": key.external_user,
        "team": key.team, **key.policy.as_fields(),
        # limits per end user of the key (the request's `user`)
        "user_limit": from_nanos(key.user_limit_nanos) if key.user_limit_nanos is not None else None,
        "user_rate_limit": ({"requests": key.user_rate_limit_requests,
                             "interval": f"{key.user_rate_limit_interval or 60:g}s"}
                            if key.user_rate_limit_requests else None),
        "allowed_data_regions": ["global"],
        "created_at": iso_time(key.created_at_ms), "updated_at": iso_time(key.updated_at_ms),
        "last_used_at": iso_time(last_used_ms), "expires_at": iso_time(key.expires_at_ms),
    }


def iso_time(ms: int | None) -> str | None:
    if ms is None:
        return None
    return dt.datetime.fromtimestamp(ms / 1000, dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


async def credits(services: Services, request: Request, send: Send) -> Response:
    """OpenRouter's credits are money paid in, so credits - usage is what is left. A key with a limit
    has its limit as credits and its spend in the limit's current period as usage. Without a limit
    nothing was paid in ahead and nothing caps the spend: the credits are what was spent (credits -
    usage = 0 means "no prepaid balance", never "blocked": GET /key's `limit: null` says unlimited).
    The admin key sees all spend the same way."""
    authorization = request.header(b"authorization")
    if services.keys.is_admin(authorization):
        usage = await services.budget.ledger_spend(None, 0)
        limit = None
    else:
        key = await services.keys.authenticate(authorization)
        usage = await services.budget.spent(key, key.limit_reset)
        limit = key.limit_nanos
    return json_response({"data": {"total_credits": from_nanos(limit if limit is not None else usage),
                                   "total_usage": from_nanos(usage)}})


async def list_providers(services: Services, request: Request, send: Send) -> Response:
    """`GET /providers`: the configured providers, in OpenRouter's shape (name and slug are the name
    the config gives; the policy and status links are unknown for an operator's own providers)."""
    data = [{"name": name, "slug": name, "privacy_policy_url": None, "terms_of_service_url": None,
             "status_page_url": None, "headquarters": None, "datacenters": None} for name in services.providers]
    return json_response({"data": data})


async def activity(services: Services, request: Request, send: Send) -> Response:
    """Spend per day, model and provider (`date=YYYY-MM-DD` for one UTC day, `since=7d` or an ISO
    time, default the last 30 days). The admin key and management keys see every key (or
    `api_key_hash=`, also spelled `key_hash=`; `team=` for the keys of one team, `group_by=team` for a
    row per team), a team-scoped one its team's keys; a key its own. OpenRouter's `workspace_id` and
    `group_by=workspace` name the gateway's one workspace; `user_id` (an organization member) matches
    nothing: there are none. `group_by=user` adds the end user (the requests' `user`) to each row's
    day, model and provider."""
    authorization = request.header(b"authorization")
    query = request.query
    manager = services.credentials.bearer(authorization)  # the admin key or a management key
    key_hash: str | list[str] | None
    if manager is not None:
        request.principal = manager
        key_hash = query.get("api_key_hash") or query.get("key_hash") or None
        scope = await team_key_hashes(services, manager)  # a team-admin: its team's keys only
        if scope is not None:
            key_hash = [h for h in scope if h == key_hash] if key_hash else scope
    else:
        key_hash = (await services.keys.authenticate(authorization)).hash
    group_by = query.get("group_by") or None
    if group_by not in (None, "workspace", "team", "user"):
        raise BadRequestError("group_by: must be 'workspace', 'team' or 'user'", metadata={"param": "group_by"})
    team = query.get("team") or None
    if query.get("workspace_id") not in (None, "", WORKSPACE_ID):
        raise NotFoundError(f"Workspace {query['workspace_id']} not found")
    try:
        if query.get("date"):
            since_ms, until_ms = day_range(query["date"])
        else:
            since_ms, until_ms = parse_since(query.get("since") or "30d"), None
    except ValueError as exc:
        raise BadRequestError(str(exc)) from None
    if query.get("user_id"):
        return json_response({"data": []})
    endpoint_ids = {(m.id, e.provider): e.key for m in services.catalogue.models.values() for e in m.endpoints}
    by = ("day", "model", "provider", group_by) if group_by in ("team", "user") else ("day", "model", "provider")
    rows = await report(services.store, by=by, since_ms=since_ms, until_ms=until_ms, key_hash=key_hash,
                        endpoint_ids=endpoint_ids, team=team)
    if group_by == "workspace":
        for row in rows:
            row["workspace_id"] = WORKSPACE_ID
    return json_response({"data": rows})


async def healthz(services: Services, request: Request, send: Send) -> Response:
    return json_response({"status": "ok"})


async def readyz(services: Services, request: Request, send: Send) -> Response:
    try:
        await services.store.ping()
        await services.state.ping()
    except Exception as exc:  # noqa: BLE001 - any backend failure means not ready; reported, not hidden
        raise ServiceUnavailableError(f"not ready: {exc.__class__.__name__}: {exc}") from None
    if services.ledger.problem is not None:
        raise ServiceUnavailableError(f"not ready: {services.ledger.problem}",
                                      metadata={"reason": "ledger_unavailable", "ledger_backlog": services.ledger.backlog})
    return json_response({"status": "ready", "ledger_backlog": services.ledger.backlog})
