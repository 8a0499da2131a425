"""JSON behind the dashboard's charts and tables. Every figure comes from storage/reports.py (the same
queries the command line uses) or from the live routing health; nothing walks the ledger row by row."""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass
from typing import Any

import orjson

from ...accounting.budget import period_start
from ...accounting.pricing import from_nanos
from ...config.access import policy_from_row
from ...errors import BadRequestError
from ...storage import reports
from ..audit import audit_page
from ..auth import guard
from ..auth.principal import Action, Principal
from ..auth.scope import owns, team_key_hashes
from ..http import Request, Response, Send, json_response
from ..services import Services
from .health import endpoint_rows

WINDOWS = {"24h": (24, "hour"), "7d": (24 * 7, "hour"), "30d": (30, "day"), "90d": (90, "day")}


@dataclass(frozen=True, slots=True)
class Window:
    name: str
    since_ms: int
    bucket: str


def parse_window(name: str | None, now_ms: int | None = None) -> Window:
    """The last N whole buckets up to and including the current one."""
    name = name or "24h"
    if name not in WINDOWS:
        raise BadRequestError(f"window: use one of {', '.join(WINDOWS)}")
    count, bucket = WINDOWS[name]
    size = reports.BUCKETS[bucket]
    now_ms = now_ms or reports.now_ms()
    return Window(name, now_ms // size * size - (count - 1) * size, bucket)


def money(row: dict[str, Any]) -> dict[str, Any]:
    """A report row for the browser: cost in USD, error rate as a fraction."""
    out = {k: v for k, v in row.items() if k != "cost_nanos"}
    out["cost"] = from_nanos(row["cost_nanos"])
    out["error_rate"] = row["errors"] / row["requests"] if row["requests"] else 0.0
    return out


async def key_names(services: Services) -> dict[str, str]:
    return {row["hash"]: row["name"] for row in await services.store.list_keys(limit=100_000)}


async def me(services: Services, request: Request, send: Send) -> Response:
    """Who is signed in (or which key is calling), with their role and team."""
    principal = await guard.dashboard(services, request, Action.READ)
    return json_response(principal.actor())


async def overview(services: Services, request: Request, send: Send) -> Response:
    """Usage in the window; a team-admin's covers its team's keys only."""
    principal = await guard.dashboard(services, request, Action.READ)
    window = parse_window(request.query.get("window"))
    store, since = services.store, window.since_ms
    scope = await team_key_hashes(services, principal)
    names = await key_names(services)
    by_key = [money(r) | {"name": names.get(r["group"], r["group"][:12])}
              for r in await reports.usage_by(store, "key", since, scope, limit=25)]
    return json_response({
        "window": window.name, "bucket": window.bucket, "since": since, "generated_at": reports.now_ms(),
        "team": principal.team_scope,
        "totals": money(await reports.totals(store, since, scope)),
        "series": [money(r) for r in await reports.series(store, since, window.bucket, key_hash=scope)],
        "by_model": [money(r) for r in await reports.usage_by(store, "model", since, scope, limit=25)],
        "by_provider": [money(r) for r in await reports.usage_by(store, "provider", since, scope, limit=25)],
        "by_key": by_key,
    })


async def endpoints(services: Services, request: Request, send: Send) -> Response:
    """Every endpoint's traffic and health, across every team (not for a team-admin)."""
    await guard.dashboard(services, request, Action.READ_GLOBAL)
    window = parse_window(request.query.get("window"))
    usage = await reports.usage_by(services.store, "endpoint", window.since_ms)
    busiest = [(r["provider"], r["model"]) for r in usage if r["provider"]][:30]
    latency = await reports.endpoint_latency(services.store, busiest, window.since_ms)
    attempts = await reports.endpoint_attempts(services.store, window.since_ms)
    rows = endpoint_rows(services, [money(r) for r in usage], latency, attempts)
    return json_response({"window": window.name, "endpoints": rows})


async def generations(services: Services, request: Request, send: Send) -> Response:
    principal = await guard.dashboard(services, request, Action.READ)
    query = request.query
    limit = query.get("limit", "50")
    if not limit.isdigit() or not 0 < int(limit) <= 500:
        raise BadRequestError("limit: a number from 1 to 500")
    before = query.get("before")
    key_filter: reports.KeyFilter = query.get("key") or None
    scope = await team_key_hashes(services, principal)
    if scope is not None:
        key_filter = [h for h in scope if h == key_filter] if key_filter else scope
    rows = await reports.recent_generations(
        services.store, limit=int(limit), before_ms=int(before) if before and before.isdigit() else None,
        key_hash=key_filter, model=query.get("model") or None, status=query.get("status") or None)
    names = await key_names(services)
    out = []
    for row in rows:
        attempts = row.pop("attempts")
        out.append(money({**row, "requests": 1, "errors": int(row["status"] in ("error", "refused"))})
                   | {"key_name": names.get(row["key_hash"], row["key_hash"][:12]),
                      "attempts": orjson.loads(attempts) if attempts else []})
    return json_response({"generations": out})


async def users(services: Services, request: Request, send: Send) -> Response:
    """Spend, requests and tokens per end user (the requests' `user`) and key in the window (a
    team-admin: of its team's keys)."""
    principal = await guard.dashboard(services, request, Action.READ)
    window = parse_window(request.query.get("window"))
    names = await key_names(services)
    rows = await reports.activity_rows(services.store, ["user", "key"], since_ms=window.since_ms,
                                       key_hash=await team_key_hashes(services, principal))
    return json_response({"window": window.name, "users": [
        {"user": row["user"], "key": row["key"], "key_name": names.get(row["key"], row["key"][:12]),
         "requests": row["requests"], "errors": row["errors"], "prompt_tokens": row["prompt_tokens"],
         "completion_tokens": row["completion_tokens"], "cost": from_nanos(row["cost_nanos"])}
        for row in rows[:500]]})


async def audit(services: Services, request: Request, send: Send) -> Response:
    """The audit log, newest first (the same page as GET /api/v1/audit); it spans every team."""
    await guard.dashboard(services, request, Action.READ_GLOBAL)
    return json_response(await audit_page(services, request.query))


async def keys(services: Services, request: Request, send: Send) -> Response:
    principal = await guard.dashboard(services, request, Action.READ)
    return json_response({"keys": await key_views(services, principal)})


async def key_views(services: Services, principal: Principal) -> list[dict[str, Any]]:
    """Every key the principal may see (a team-admin: its team's) with its spend in its current limit
    period and in total (one query per period kind)."""
    rows = [row for row in await services.store.list_keys(limit=10_000) if owns(principal, row)]
    now = dt.datetime.now(dt.UTC)
    spend: dict[str | None, dict[str, int]] = {}
    for reset in {row["limit_reset"] for row in rows} | {None}:
        start = period_start(reset, now)
        spend[reset] = await reports.spend_by_key(services.store, int(start.timestamp() * 1000) if start else 0)
    views = []
    for row in rows:
        limit = from_nanos(row["limit_nanos"]) if row["limit_nanos"] is not None else None
        expired = row["expires_at_ms"] is not None and row["expires_at_ms"] <= time.time() * 1000
        views.append({
            "hash": row["hash"], "name": row["name"], "label": row["label"], "disabled": row["disabled"],
            "team": row.get("team"),
            "expired": expired, "source": row["source"], "log_content": row["log_content"],
            "limit": limit, "limit_reset": row["limit_reset"],
            "usage": from_nanos(spend[row["limit_reset"]].get(row["hash"], 0)),
            "usage_total": from_nanos(spend[None].get(row["hash"], 0)),
            "rate_limit": ({"requests": row["rate_limit_requests"], "interval": row["rate_limit_interval"]}
                           if row["rate_limit_requests"] else None),
            "token_limit": ({"tokens": row["token_limit_tokens"], "interval": row["token_limit_interval"]}
                            if row["token_limit_tokens"] else None),
            "created_at": row["created_at_ms"], "expires_at": row["expires_at_ms"],
            **policy_from_row(row).as_fields(),
            "user_limit": from_nanos(row["user_limit_nanos"]) if row["user_limit_nanos"] is not None else None,
            "user_rate_limit": ({"requests": row["user_rate_limit_requests"],
                                 "interval": row["user_rate_limit_interval"]} if row["user_rate_limit_requests"] else None),
        })
    return views
