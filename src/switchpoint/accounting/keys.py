"""API keys: generation, hashing, the record the request path sees, and the cached lookup."""

from __future__ import annotations

import asyncio
import functools
import hashlib
import hmac
import logging
import secrets
import time
from dataclasses import dataclass
from typing import Any

from ..config import Config
from ..errors import AuthenticationError, ForbiddenError
from ..state import State
from ..state.singleflight import SingleFlight
from ..storage import Store
from ..storage.store import now_ms
from .audit import key_entry

log = logging.getLogger("switchpoint.keys")
KEY_PREFIX = "sk-sp-v1-"
CHANGED = "keys"  # the state channel on which a created, changed or deleted key's hash is published


def generate_key() -> str:
    return KEY_PREFIX + secrets.token_hex(32)


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def key_label(key: str) -> str:
    return f"{key[:len(KEY_PREFIX) + 3]}...{key[-3:]}"


@dataclass(frozen=True, slots=True)
class KeyRecord:
    hash: str
    name: str
    label: str
    disabled: bool = False
    limit_nanos: int | None = None
    limit_reset: str | None = None
    rate_limit_requests: int | None = None
    rate_limit_interval: float | None = None
    token_limit_tokens: int | None = None
    token_limit_interval: float | None = None
    cache: bool = False
    log_content: bool = False
    source: str = "api"
    created_at_ms: int = 0
    updated_at_ms: int | None = None
    expires_at_ms: int | None = None
    external_user: str | None = None
    user_limit_nanos: int | None = None          # USD budget per end user, in the key's limit_reset period
    user_rate_limit_requests: int | None = None  # requests per interval per end user
    user_rate_limit_interval: float | None = None

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> KeyRecord:
        return cls(**{k: row[k] for k in cls.__slots__ if k in row})  # type: ignore[attr-defined]


class KeyService:
    """Looks keys up by hash, with a short cache. A key changed through this service is published on
    the shared state, and every process (worker or replica) drops it from its cache: at once with
    `serve --workers N`, within milliseconds over Redis. The cache is refreshed every `ttl` all the
    same, for changes made straight in the database (`switchpoint keys revoke`)."""

    def __init__(self, store: Store, *, admin_key: str | None, ttl: float = 5.0, state: State | None = None) -> None:
        self.store = store
        self.state = state
        self.ttl = ttl
        self._epoch = 0  # bumped by every drop, so a lookup begun before it does not cache what it read
        self._admin_hash = hash_key(admin_key) if admin_key else None
        self._cache: dict[str, tuple[KeyRecord | None, float]] = {}
        self._refreshing: set[str] = set()
        self._loading: SingleFlight[KeyRecord | None] = SingleFlight()

    async def authenticate(self, authorization: str | None) -> KeyRecord:
        record = await self.identify(authorization)
        refusal = refused(record)
        if refusal is not None:
            raise refusal
        return record

    async def identify(self, authorization: str | None) -> KeyRecord:
        """The key the credentials name, usable or not (see `refused`); 401 when they name none."""
        token = bearer(authorization)
        if token is None:
            raise AuthenticationError("No auth credentials found")
        record = await self.lookup(hash_key(token))
        if record is None:
            raise AuthenticationError("Invalid API key")
        return record

    def is_admin(self, authorization: str | None) -> bool:
        token = bearer(authorization)
        if token is None or self._admin_hash is None:
            return False
        return hmac.compare_digest(hash_key(token), self._admin_hash)

    async def lookup(self, key_hash: str) -> KeyRecord | None:
        """Cached; a stale entry is served while one background query refreshes it, so a busy key
        costs one database read per `ttl`, not one per request in flight."""
        cached = self._cache.get(key_hash)
        if cached is None:
            return await self._loading.run(key_hash, lambda: self._load(key_hash))
        if time.monotonic() - cached[1] >= self.ttl and key_hash not in self._refreshing:
            self._refreshing.add(key_hash)
            task = asyncio.ensure_future(self._load(key_hash))
            task.add_done_callback(functools.partial(self._refreshed, key_hash))
        return cached[0]

    async def _load(self, key_hash: str) -> KeyRecord | None:
        epoch = self._epoch
        row = await self.store.get_key(key_hash)
        record = KeyRecord.from_row(row) if row else None
        if epoch != self._epoch:  # the key may have changed while we read it: answer, but do not keep it
            return record
        if len(self._cache) > 200_000:
            self._cache.clear()
        self._cache[key_hash] = (record, time.monotonic())
        return record

    def _refreshed(self, key_hash: str, task: asyncio.Future[KeyRecord | None]) -> None:
        self._refreshing.discard(key_hash)
        if not task.cancelled() and task.exception() is not None:
            log.warning("refreshing key %s failed: %s", key_hash[:12], task.exception())

    def forget(self, key_hash: str) -> None:
        self._epoch += 1
        self._cache.pop(key_hash, None)
        self._loading.forget(key_hash)  # a lookup after this starts its own read

    def forget_all(self) -> None:
        """Drop every cached key here (a reload stored the config's keys anew)."""
        self._heard(None)

    def reconfigure(self, *, admin_key: str | None) -> None:
        """A reloaded configuration's admin key (the cache is kept: see forget_all)."""
        self._admin_hash = hash_key(admin_key) if admin_key else None

    async def changed(self, key_hash: str) -> None:
        """The key was created, changed or deleted here: drop it here and in every other process."""
        self.forget(key_hash)
        if self.state is not None:
            await self.state.publish(CHANGED, key_hash)

    async def listen(self) -> None:
        """Drop the keys other processes change (and everything, when some changes may be lost)."""
        if self.state is not None:
            await self.state.subscribe(CHANGED, self._heard)

    def _heard(self, key_hash: str | None) -> None:
        if key_hash is None:
            self._epoch += 1
            self._cache.clear()
        else:
            self.forget(key_hash)

    async def create(self, name: str, *, limit_usd: float | None = None, limit_reset: str | None = None,
                     rate_limit: tuple[int, float] | None = None, token_limit: tuple[int, float] | None = None,
                     expires_at_ms: int | None = None, cache: bool = False, log_content: bool = False,
                     external_user: str | None = None, plaintext: str | None = None,
                     user_limit_usd: float | None = None, user_rate_limit: tuple[int, float] | None = None,
                     actor: str) -> tuple[KeyRecord, str]:
        """Store a new key in one insert (with its audit-log entry naming `actor`); returns its record
        and its plaintext (shown once). The plaintext is generated unless the caller brings its own
        (OpenRouter's `external.api_key`)."""
        key = plaintext or generate_key()
        row = new_key_row(key, name, limit_usd=limit_usd, limit_reset=limit_reset, rate_limit=rate_limit,
                          token_limit=token_limit, expires_at_ms=expires_at_ms, cache=cache, log_content=log_content,
                          external_user=external_user, user_limit_usd=user_limit_usd, user_rate_limit=user_rate_limit)
        await self.store.insert_key(row, audit=key_entry(actor, "key.create", None, row))
        await self.changed(row["hash"])  # a process that was asked for it before keeps no "unknown key"
        return KeyRecord.from_row(row), key

    # Every change to a key goes through these methods (the provisioning API, the dashboard and the
    # command line alike), so each writes exactly one audit-log entry, in the transaction of the change.

    async def update(self, key_hash: str, values: dict[str, Any], *, actor: str) -> bool:
        """Change the stored fields in `values`; False when the key does not exist."""
        before = await self.store.get_key(key_hash)
        if before is None:
            return False
        after = {**before, **values, "updated_at_ms": now_ms()}
        done = await self.store.update_key(key_hash, values, audit=key_entry(actor, "key.update", before, after))
        await self.changed(key_hash)
        return done

    async def delete(self, key_hash: str, *, actor: str, action: str = "key.delete") -> bool:
        """Delete the key (`action` names how the caller calls it: key.delete, key.revoke)."""
        before = await self.store.get_key(key_hash)
        if before is None:
            return False
        done = await self.store.delete_key(key_hash, audit=key_entry(actor, action, before, None))
        await self.changed(key_hash)
        return done


def refused(record: KeyRecord) -> AuthenticationError | ForbiddenError | None:
    """Why a known key may not be used now (disabled, expired), or None."""
    if record.disabled:
        return ForbiddenError("This API key is disabled")
    if record.expires_at_ms is not None and record.expires_at_ms <= now_ms():
        return AuthenticationError("This API key has expired")
    return None


def config_key_hashes(config: Config) -> set[str]:
    """The hashes of the keys switchpoint.yaml defines."""
    return {hash_key(key.key) for key in config.keys}


def config_key_problem(row: dict[str, Any], config_hashes: set[str]) -> str | None:
    """Why a key may not be revoked or deleted here: the config defines it, so the next start would
    store it again. None for keys made by the API or CLI, or that the config no longer defines."""
    if row.get("source") != "config" or row["hash"] not in config_hashes:
        return None
    return (f"key '{row['name']}' is defined in switchpoint.yaml (keys:), so every start stores it again. "
            "Remove it from the config file and restart the gateway: a key the config no longer defines is "
            "disabled at start (then it can be deleted).")


def new_key_row(key: str, name: str, *, limit_usd: float | None = None, limit_reset: str | None = None,
                rate_limit: tuple[int, float] | None = None, token_limit: tuple[int, float] | None = None,
                expires_at_ms: int | None = None, cache: bool = False, log_content: bool = False,
                external_user: str | None = None, source: str = "api", user_limit_usd: float | None = None,
                user_rate_limit: tuple[int, float] | None = None) -> dict[str, Any]:
    return {
        "hash": hash_key(key), "name": name, "label": key_label(key), "disabled": False,
        "limit_nanos": usd_to_nanos(limit_usd), "limit_reset": limit_reset,
        "rate_limit_requests": rate_limit[0] if rate_limit else None,
        "rate_limit_interval": rate_limit[1] if rate_limit else None,
        "token_limit_tokens": token_limit[0] if token_limit else None,
        "token_limit_interval": token_limit[1] if token_limit else None,
        "cache": cache, "log_content": log_content, "source": source,
        "created_at_ms": now_ms(), "updated_at_ms": None, "expires_at_ms": expires_at_ms,
        "external_user": external_user,
        "user_limit_nanos": usd_to_nanos(user_limit_usd),
        "user_rate_limit_requests": user_rate_limit[0] if user_rate_limit else None,
        "user_rate_limit_interval": user_rate_limit[1] if user_rate_limit else None,
    }


def usd_to_nanos(usd: float | None) -> int | None:
    if usd is None:
        return None
    from decimal import Decimal

    return int(Decimal(str(usd)) * 1_000_000_000)


def bearer(authorization: str | None) -> str | None:
    if not authorization:
        return None
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer":
        return None
    token = token.strip()
    return token or None
