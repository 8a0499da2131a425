"""The audit log's entries: who changed what, when, and the object before and after.

Entries are built here, from the rows a change reads and writes, and stored in the same transaction as
the change (storage/store.py), so a change is never without its entry nor an entry without its change.
A key's entry names it by name and label (`sk-sp-v1-abc...xyz`, the form OpenRouter shows too) and
never holds the key, its hash or anything secret-like: fields named like secrets are dropped and
values shaped like keys or hashes are replaced, whatever object is logged."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import orjson

from ..storage.store import now_ms
from .pricing import from_nanos

REDACTED = "[redacted]"
SECRET_FIELDS = frozenset({"hash", "key", "key_hash", "api_key", "secret", "client_secret", "password",
                           "plaintext", "token", "access_token", "refresh_token", "authorization", "cookie"})
# a key (ours, OpenRouter's, a provider's), a bearer credential, or a SHA-256 hex digest
SECRET_VALUE = re.compile(r"(sk-[A-Za-z0-9_\-]{20,}|Bearer\s+\S+|\b[0-9a-fA-F]{64}\b)")

CONFIG_ACTOR = "config (switchpoint.yaml)"


def redact(value: Any) -> Any:
    """`value` with secret-named fields dropped and secret-shaped strings replaced, at any depth."""
    if isinstance(value, dict):
        return {k: redact(v) for k, v in value.items() if str(k).lower() not in SECRET_FIELDS}
    if isinstance(value, list | tuple):
        return [redact(v) for v in value]
    if isinstance(value, str):
        return SECRET_VALUE.sub(REDACTED, value)
    return value


def key_view(row: dict[str, Any] | None) -> dict[str, Any] | None:
    """A key row as the audit log shows it: its settings in the API's units, nothing secret."""
    if row is None:
        return None

    def usd(nanos: int | None) -> float | None:
        return from_nanos(nanos) if nanos is not None else None

    def per(count: int | None, interval: float | None, unit: str) -> dict[str, Any] | None:
        return {unit: count, "interval": interval or 60.0} if count else None

    return redact({
        "name": row.get("name"), "label": row.get("label"), "disabled": bool(row.get("disabled")),
        "limit": usd(row.get("limit_nanos")), "limit_reset": row.get("limit_reset"),
        "rate_limit": per(row.get("rate_limit_requests"), row.get("rate_limit_interval"), "requests"),
        "token_limit": per(row.get("token_limit_tokens"), row.get("token_limit_interval"), "tokens"),
        "user_limit": usd(row.get("user_limit_nanos")),
        "user_rate_limit": per(row.get("user_rate_limit_requests"), row.get("user_rate_limit_interval"), "requests"),
        "cache": bool(row.get("cache")), "log_content": bool(row.get("log_content")), "source": row.get("source"),
        "expires_at_ms": row.get("expires_at_ms"), "external_user": row.get("external_user"),
    })


def key_target(row: dict[str, Any]) -> str:
    return redact(f"key {row.get('name')} ({row.get('label')})")  # type: ignore[no-any-return]


def entry(actor: str, action: str, target: str, before: Any, after: Any) -> dict[str, Any]:
    """One audit row, ready to insert."""
    return {"at_ms": now_ms(), "actor": redact(actor)[:256], "action": action, "target": redact(target)[:512],
            "before": None if before is None else orjson.dumps(redact(before)).decode(),
            "after": None if after is None else orjson.dumps(redact(after)).decode()}


def key_entry(actor: str, action: str, before: dict[str, Any] | None, after: dict[str, Any] | None) -> dict[str, Any]:
    """The entry of a change to one key (`before`/`after`: its stored rows, None when absent)."""
    row = after if after is not None else before
    assert row is not None
    return entry(actor, action, key_target(row), key_view(before), key_view(after))


def config_key_entry(action: str, before: dict[str, Any] | None, after: dict[str, Any] | None) -> dict[str, Any]:
    """The entry of a key stored, changed or disabled because switchpoint.yaml says so, at start."""
    return key_entry(CONFIG_ACTOR, action, before, after)


def public(row: dict[str, Any]) -> dict[str, Any]:
    """A stored entry as `GET /api/v1/audit` serves it."""
    at = dt.datetime.fromtimestamp(row["at_ms"] / 1000, dt.UTC).isoformat(timespec="milliseconds")
    return {"id": row["id"], "at": at.replace("+00:00", "Z"), "actor": row["actor"], "action": row["action"],
            "target": row["target"], "before": orjson.loads(row["before"]) if row["before"] else None,
            "after": orjson.loads(row["after"]) if row["after"] else None}
