"""Spend and token reports from the ledger: the one query behind `GET /api/v1/activity` and
`switchpoint usage`, so both always agree."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any

from ..storage import Store
from .pricing import from_nanos

DIMENSIONS = ("day", "model", "provider", "key", "team", "user")
SUMMED = ("requests", "errors", "cancelled", "cache_hits", "prompt_tokens", "completion_tokens", "reasoning_tokens",
          "cached_tokens", "cost_nanos", "markup_nanos")
DAY_MS = 86_400_000


def parse_since(value: str | None, now: dt.datetime | None = None) -> int:
    """'7d', '24h', '30m' or an ISO date/time (UTC unless it says otherwise) -> epoch ms; 0 = all time.
    Raises ValueError for anything else."""
    if not value:
        return 0
    units = {"d": 86400, "h": 3600, "m": 60}
    if value[-1] in units and value[:-1].isdigit():
        start = (now or dt.datetime.now(dt.UTC)) - dt.timedelta(seconds=int(value[:-1]) * units[value[-1]])
    else:
        try:
            start = dt.datetime.fromisoformat(value)
        except ValueError:
            raise ValueError(f"'{value}' is not a time: use e.g. 7d, 24h, 30m or an ISO date like 2026-11-01") from None
        if start.tzinfo is None:
            start = start.replace(tzinfo=dt.UTC)
    return int(start.timestamp() * 1000)


def day_range(date: str) -> tuple[int, int]:
    """One UTC day 'YYYY-MM-DD' -> [start, end) in epoch ms."""
    try:
        day = dt.date.fromisoformat(date)
    except ValueError:
        raise ValueError(f"'{date}' is not a date: use YYYY-MM-DD") from None
    start = int(dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC).timestamp() * 1000)
    return start, start + DAY_MS


async def activity(store: Store, *, by: Sequence[str] = ("day", "model", "provider"), since_ms: int = 0,
                   until_ms: int | None = None, key_hash: str | Sequence[str] | None = None,
                   key_names: dict[str, str] | None = None,
                   endpoint_ids: Mapping[tuple[str, str], str] | None = None,
                   team: str | None = None) -> list[dict[str, Any]]:
    """Rows shaped like OpenRouter's /activity items (`date`, `model`, `provider_name`, `endpoint_id`,
    `usage` in USD, `requests`, token counts) plus errors, cache hits and the operator's markup.

    Requests no provider served (refused before routing, or every endpoint failed) have the
    provider "" and the endpoint "": OpenRouter's clients require strings there. `endpoint_ids`
    maps (model, provider) to the endpoint's key (`provider:upstream model`, as in /generation's
    `provider_responses`); an endpoint no longer configured is named `provider:model`."""
    for dim in by:
        if dim not in DIMENSIONS:
            raise ValueError(f"cannot group by '{dim}' (use {', '.join(DIMENSIONS)})")
    if team is not None or "team" in by:
        rows = await by_team(store, by, since_ms=since_ms, until_ms=until_ms, key_hash=key_hash, team=team)
    else:
        rows = await store.activity(by, since_ms=since_ms, until_ms=until_ms, key_hash=key_hash)
    out = []
    for row in rows:
        item: dict[str, Any] = {}
        if "day" in by:
            item["date"] = dt.datetime.fromtimestamp(row["day"] * 86400, dt.UTC).date().isoformat()
        if "model" in by:
            item["model"] = item["model_permaslug"] = row["model"]
        if "provider" in by:
            item["provider_name"] = row["provider"] or ""
        if "provider" in by and "model" in by:
            served = (row["model"], row["provider"])
            item["endpoint_id"] = ((endpoint_ids or {}).get(served) or f"{row['provider']}:{row['model']}"
                                   if row["provider"] else "")
        if "team" in by:
            item["team"] = row["team"]
        if "key" in by:
            item["key_hash"] = row["key"]
            item["key"] = (key_names or {}).get(row["key"], row["key"][:12] if row["key"] else None)
        if "user" in by:
            item["user"] = row["user"]  # the request's end user id; None when it named none
        item.update(
            usage=from_nanos(row["cost_nanos"]), markup=from_nanos(row["markup_nanos"]), byok_usage_inference=0,
            requests=row["requests"], errors=row["errors"], cache_hits=row["cache_hits"],
            prompt_tokens=row["prompt_tokens"], completion_tokens=row["completion_tokens"],
            reasoning_tokens=row["reasoning_tokens"], cached_tokens=row["cached_tokens"],
        )
        out.append(item)
    return out


async def by_team(store: Store, by: Sequence[str], *, since_ms: int, until_ms: int | None,
                  key_hash: str | Sequence[str] | None, team: str | None) -> list[dict[str, Any]]:
    """Rows grouped by the other dimensions and by key, folded into the keys' teams (a key's spend
    counts for the team it belongs to now; keys of no team under `team: null`), keeping only `team`'s
    keys when it is given."""
    dims = [d for d in by if d != "team"]
    rows = await store.activity([*dims, "key"] if "key" not in dims else dims, since_ms=since_ms,
                                until_ms=until_ms, key_hash=key_hash)
    teams = await store.key_teams()
    folded: dict[tuple[Any, ...], dict[str, Any]] = {}
    for row in rows:
        owner = teams.get(row["key"])
        if team is not None and owner != team:
            continue
        group = tuple(row[d] for d in dims) + ((owner,) if "team" in by else ())
        into = folded.get(group)
        if into is None:
            folded[group] = {**{d: row[d] for d in dims}, "team": owner, **{n: row.get(n) or 0 for n in SUMMED}}
        else:
            for name in SUMMED:
                into[name] += row.get(name) or 0
    return sorted(folded.values(), key=lambda r: -r["cost_nanos"])
