"""The async store over SQLAlchemy Core."""

from __future__ import annotations

import time
from collections.abc import Callable, Collection, Iterable, Sequence
from typing import Any

from sqlalchemy import delete, event, func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from . import migrate
from .rollup import add_rollups
from .sqlite_ledger import PRAGMAS
from .sqlite_writer import SQLiteWriterProcess, ledger_insert_sql
from .tables import audit_log, generations, keys, stored_responses, teams


def async_url(url: str) -> str:
    """sqlite:///x.db -> sqlite+aiosqlite:///x.db; postgresql://... -> postgresql+asyncpg://..."""
    scheme, sep, rest = url.partition("://")
    if scheme in ("sqlite",):
        return f"sqlite+aiosqlite://{rest}"
    if scheme in ("postgres", "postgresql"):
        return f"postgresql+asyncpg://{rest}"
    return url


def now_ms() -> int:
    return int(time.time() * 1000)


class Store:
    def __init__(self, url: str) -> None:
        self.url = url
        self.is_sqlite = url.startswith("sqlite")
        kwargs: dict[str, Any] = {}
        if not self.is_sqlite:
            kwargs.update(pool_size=10, max_overflow=10, pool_pre_ping=True)
        self.engine: AsyncEngine = create_async_engine(async_url(url), **kwargs)
        self._ledger_insert: tuple[str, list[str]] | None = None
        self._writer: SQLiteWriterProcess | None = None
        if self.is_sqlite:
            event.listen(self.engine.sync_engine, "connect", _sqlite_pragmas)
            if ":memory:" not in url and "mode=memory" not in url:
                self._writer = SQLiteWriterProcess(url)

    async def create_schema(self) -> bool:
        """Bring the schema to the newest migration (a no-op when it is current); True if it changed."""
        return await migrate.ensure_current(self.engine)

    async def ping(self) -> None:
        async with self.engine.connect() as conn:
            await conn.execute(select(1))

    async def close(self) -> None:
        if self._writer is not None:
            await self._writer.close()
        await self.engine.dispose()

    # -- keys ---------------------------------------------------------------------------------

    async def insert_key(self, row: dict[str, Any], *, audit: dict[str, Any] | None = None) -> None:
        """Insert a key; `audit`: the audit-log row of the change, written in the same transaction."""
        async with self.engine.begin() as conn:
            await conn.execute(insert(keys).values(**row))
            if audit is not None:
                await conn.execute(insert(audit_log).values(**audit))

    async def upsert_config_keys(self, rows: list[dict[str, Any]],
                                 describe: Describe | None = None) -> None:
        """Static keys from switchpoint.yaml, in one transaction: insert the new ones, refresh the
        settings of those already stored that the file changed (their creation time and usage stay;
        their update time becomes now), and disable the keys an earlier config defined that this one no
        longer does (removing a key from the file revokes it). Processes doing it at once (the workers of
        a reload, replicas) may both insert a new key: the one that loses retries and finds it stored.
        `describe(action, before, after)` makes the audit-log row of each key it creates, changes or
        disables, written in the same transaction (so the process that lost writes none for that key)."""
        try:
            await self._upsert_config_keys(rows, describe)
        except IntegrityError:
            await self._upsert_config_keys(rows, describe)

    async def _upsert_config_keys(self, rows: list[dict[str, Any]], describe: Describe | None) -> None:
        changes: list[tuple[str, dict[str, Any] | None, dict[str, Any]]] = []
        async with self.engine.begin() as conn:
            hashes = [row["hash"] for row in rows]
            stale_rows = {r["hash"]: dict(r) for r in (await conn.execute(
                select(keys).where(keys.c.source == "config", keys.c.disabled.is_(False)))).mappings()}
            stale = set(stale_rows) - set(hashes)
            for chunk in _chunks(sorted(stale)):
                at = now_ms()
                await conn.execute(update(keys).where(keys.c.hash.in_(chunk)).values(disabled=True, updated_at_ms=at))
                changes += [("key.disable", stale_rows[h], {**stale_rows[h], "disabled": True, "updated_at_ms": at})
                            for h in chunk]
            existing: dict[str, dict[str, Any]] = {}
            for chunk in _chunks(hashes):
                found = await conn.execute(select(keys).where(keys.c.hash.in_(chunk)))
                existing.update((r["hash"], dict(r)) for r in found.mappings())
            new = [row for row in rows if row["hash"] not in existing]
            if new:
                await conn.execute(insert(keys), new)
                changes += [("key.create", None, row) for row in new]
            for row in rows:
                stored = existing.get(row["hash"])
                if stored is None:
                    continue
                values = {k: v for k, v in row.items()
                          if k not in ("hash", "created_at_ms", "updated_at_ms") and stored.get(k) != v}
                if values:
                    at = now_ms()
                    await conn.execute(update(keys).where(keys.c.hash == row["hash"]).values(**values, updated_at_ms=at))
                    changes.append(("key.update", stored, {**stored, **values, "updated_at_ms": at}))
            if describe is not None and changes:
                await conn.execute(insert(audit_log), [describe(*change) for change in changes])

    async def get_key(self, key_hash: str) -> dict[str, Any] | None:
        async with self.engine.connect() as conn:
            row = (await conn.execute(select(keys).where(keys.c.hash == key_hash))).mappings().first()
        return dict(row) if row else None

    async def find_keys(self, *, name: str | None = None, hash_prefix: str | None = None) -> list[dict[str, Any]]:
        query = select(keys)
        if name is not None:
            query = query.where(keys.c.name == name)
        if hash_prefix is not None:
            query = query.where(keys.c.hash.startswith(hash_prefix))
        async with self.engine.connect() as conn:
            return [dict(r) for r in (await conn.execute(query)).mappings()]

    async def list_keys(self, *, offset: int = 0, limit: int = 100, include_disabled: bool = True,
                        include_expired: bool = True) -> list[dict[str, Any]]:
        query = select(keys).order_by(keys.c.created_at_ms.desc(), keys.c.hash).offset(offset).limit(limit)
        if not include_disabled:
            query = query.where(keys.c.disabled.is_(False))
        if not include_expired:
            query = query.where(keys.c.expires_at_ms.is_(None) | (keys.c.expires_at_ms > now_ms()))
        async with self.engine.connect() as conn:
            return [dict(r) for r in (await conn.execute(query)).mappings()]

    async def update_key(self, key_hash: str, values: dict[str, Any], *, audit: dict[str, Any] | None = None) -> bool:
        async with self.engine.begin() as conn:
            result = await conn.execute(
                update(keys).where(keys.c.hash == key_hash).values(**values, updated_at_ms=now_ms()))
            if audit is not None and result.rowcount > 0:
                await conn.execute(insert(audit_log).values(**audit))
        return result.rowcount > 0

    async def delete_key(self, key_hash: str, *, audit: dict[str, Any] | None = None) -> bool:
        async with self.engine.begin() as conn:
            result = await conn.execute(delete(keys).where(keys.c.hash == key_hash))
            if audit is not None and result.rowcount > 0:
                await conn.execute(insert(audit_log).values(**audit))
        return result.rowcount > 0

    # -- teams --------------------------------------------------------------------------------

    async def insert_team(self, row: dict[str, Any], *, audit: dict[str, Any] | None = None) -> None:
        """Insert a team; `audit`: the audit-log row of the change, written in the same transaction."""
        async with self.engine.begin() as conn:
            await conn.execute(insert(teams).values(**row))
            if audit is not None:
                await conn.execute(insert(audit_log).values(**audit))

    async def get_team(self, name: str) -> dict[str, Any] | None:
        async with self.engine.connect() as conn:
            row = (await conn.execute(select(teams).where(teams.c.name == name))).mappings().first()
        return dict(row) if row else None

    async def list_teams(self) -> list[dict[str, Any]]:
        async with self.engine.connect() as conn:
            return [dict(r) for r in (await conn.execute(select(teams).order_by(teams.c.name))).mappings()]

    async def update_team(self, name: str, values: dict[str, Any], *, audit: dict[str, Any] | None = None) -> bool:
        async with self.engine.begin() as conn:
            result = await conn.execute(update(teams).where(teams.c.name == name).values(**values,
                                                                                          updated_at_ms=now_ms()))
            if audit is not None and result.rowcount > 0:
                await conn.execute(insert(audit_log).values(**audit))
        return result.rowcount > 0

    async def delete_team(self, name: str, *, audit: dict[str, Any] | None = None) -> bool:
        async with self.engine.begin() as conn:
            result = await conn.execute(delete(teams).where(teams.c.name == name))
            if audit is not None and result.rowcount > 0:
                await conn.execute(insert(audit_log).values(**audit))
        return result.rowcount > 0

    async def team_key_hashes(self, name: str) -> list[str]:
        """Every key of the team, disabled ones too (their spend still counts)."""
        async with self.engine.connect() as conn:
            return [h for (h,) in await conn.execute(select(keys.c.hash).where(keys.c.team == name))]

    async def key_teams(self) -> dict[str, str]:
        """key hash -> team, for the keys that belong to one (reports group by team with it)."""
        async with self.engine.connect() as conn:
            return {h: t for h, t in await conn.execute(select(keys.c.hash, keys.c.team).where(keys.c.team.is_not(None)))}

    async def upsert_config_teams(self, rows: list[dict[str, Any]], describe: Describe | None = None) -> None:
        """Teams from switchpoint.yaml: insert the new ones and refresh the settings the file changed.
        A team the file no longer defines stays (its keys may still name it) but is no longer `config`.
        `describe(action, before, after)` makes the audit-log row of each team created or changed,
        written in the same transaction."""
        changes: list[tuple[str, dict[str, Any] | None, dict[str, Any]]] = []
        async with self.engine.begin() as conn:
            names = [row["name"] for row in rows]
            gone = {r["name"]: dict(r) for r in (await conn.execute(select(teams).where(
                teams.c.source == "config", teams.c.name.not_in(names or [""])))).mappings()}
            if gone:
                at = now_ms()
                await conn.execute(update(teams).where(teams.c.name.in_(list(gone)))
                                   .values(source="api", updated_at_ms=at))
                changes += [("team.update", row, {**row, "source": "api", "updated_at_ms": at}) for row in gone.values()]
            existing = {r["name"]: dict(r) for r in (await conn.execute(
                select(teams).where(teams.c.name.in_(names or [""])))).mappings()}
            new = [row for row in rows if row["name"] not in existing]
            if new:
                await conn.execute(insert(teams), new)
                changes += [("team.create", None, row) for row in new]
            for row in rows:
                stored = existing.get(row["name"])
                if stored is None:
                    continue
                values = {k: v for k, v in row.items()
                          if k not in ("name", "created_at_ms", "updated_at_ms") and stored.get(k) != v}
                if values:
                    at = now_ms()
                    await conn.execute(update(teams).where(teams.c.name == row["name"]).values(
                        **values, updated_at_ms=at))
                    changes.append(("team.update", stored, {**stored, **values, "updated_at_ms": at}))
            if describe is not None and changes:
                await conn.execute(insert(audit_log), [describe(*change) for change in changes])

    # -- audit log ------------------------------------------------------------------------------

    async def audit_entries(self, *, limit: int = 100, offset: int = 0,
                            before_id: int | None = None) -> list[dict[str, Any]]:
        """Audit-log rows, newest first: `offset` rows skipped, or only those older than `before_id`."""
        query = select(audit_log).order_by(audit_log.c.id.desc()).limit(limit).offset(offset)
        if before_id is not None:
            query = query.where(audit_log.c.id < before_id)
        async with self.engine.connect() as conn:
            return [dict(r) for r in (await conn.execute(query)).mappings()]

    # -- ledger -------------------------------------------------------------------------------

    async def insert_generations(self, rows: Iterable[dict[str, Any]]) -> None:
        """Batch insert with the statement compiled once, plus the rollups, in one transaction. An
        SQLite file is written by a child process (see sqlite_writer) to keep the event loop's GIL free."""
        rows = list(rows)
        if not rows:
            return
        if self._writer is not None:
            await self._writer.insert(rows)
            return
        if self._ledger_insert is None:
            self._ledger_insert = ledger_insert_sql(self.engine.dialect)
        sql, order = self._ledger_insert
        async with self.engine.begin() as conn:
            await conn.exec_driver_sql(sql, [tuple(row[k] for k in order) for row in rows])
            await add_rollups(conn, rows)

    async def existing_generation_ids(self, ids: list[str]) -> set[str]:
        async with self.engine.connect() as conn:
            result = await conn.execute(select(generations.c.id).where(generations.c.id.in_(ids)))
            return {r[0] for r in result}

    async def get_generation(self, generation_id: str) -> dict[str, Any] | None:
        async with self.engine.connect() as conn:
            row = (await conn.execute(select(generations).where(generations.c.id == generation_id))).mappings().first()
        return dict(row) if row else None

    async def spend_nanos(self, key_hash: str | None, since_ms: int = 0, *, exclude: Collection[str] = (),
                          team: str | None = None, user: str | None = None) -> int:
        """Sum of cost since `since_ms`, for one key, one team's keys or all (and one end user of
        them, with `user`), leaving out the generations in `exclude`."""
        query = select(func.coalesce(func.sum(generations.c.cost_nanos), 0)).where(
            generations.c.created_at_ms >= since_ms)
        if key_hash is not None:
            query = query.where(generations.c.key_hash == key_hash)
        if team is not None:
            query = query.where(generations.c.key_hash.in_(select(keys.c.hash).where(keys.c.team == team)))
        if user is not None:
            query = query.where(generations.c.external_user == user)
        if exclude:
            query = query.where(generations.c.id.not_in(list(exclude)))
        async with self.engine.connect() as conn:
            return int((await conn.execute(query)).scalar_one())

    async def activity(self, dims: Sequence[str], *, since_ms: int = 0, until_ms: int | None = None,
                       key_hash: str | Sequence[str] | None = None) -> list[dict[str, Any]]:
        """Requests, tokens and cost grouped by any of day (UTC, as days since the epoch), model,
        provider and key; most expensive first. Read from the usage rollups (storage/reports.py)."""
        from .reports import activity_rows  # noqa: PLC0415 - reports builds on this module

        return await activity_rows(self, list(dims), since_ms=since_ms, until_ms=until_ms, key_hash=key_hash)

    async def count_generations(self) -> int:
        async with self.engine.connect() as conn:
            return int((await conn.execute(select(func.count()).select_from(generations))).scalar_one())


    # -- stored responses (Responses API) ----------------------------------------------------------

    async def put_response(self, row: dict[str, Any]) -> None:
        """Insert a stored response (a passed-through upstream id seen again replaces the old row)."""
        async with self.engine.begin() as conn:
            await conn.execute(delete(stored_responses).where(stored_responses.c.id == row["id"]))
            await conn.execute(insert(stored_responses).values(**row))

    async def get_response(self, response_id: str, key_hash: str) -> dict[str, Any] | None:
        """The key's stored response, unless it expired."""
        query = select(stored_responses).where(stored_responses.c.id == response_id,
                                               stored_responses.c.key_hash == key_hash,
                                               stored_responses.c.expires_at_ms > now_ms())
        async with self.engine.connect() as conn:
            row = (await conn.execute(query)).mappings().first()
        return dict(row) if row is not None else None

    async def delete_response(self, response_id: str, key_hash: str) -> bool:
        async with self.engine.begin() as conn:
            result = await conn.execute(delete(stored_responses).where(
                stored_responses.c.id == response_id, stored_responses.c.key_hash == key_hash,
                stored_responses.c.expires_at_ms > now_ms()))
        return bool(result.rowcount)

    async def purge_responses(self, before_ms: int) -> int:
        """Delete the stored responses that expired before `before_ms`; how many."""
        async with self.engine.begin() as conn:
            result = await conn.execute(delete(stored_responses).where(stored_responses.c.expires_at_ms <= before_ms))
        return int(result.rowcount or 0)


# Makes the audit-log row of one change: (action, the row before or None, the row after).
Describe = Callable[[str, dict[str, Any] | None, dict[str, Any]], dict[str, Any]]


def _chunks(items: list[str], size: int = 500) -> Iterable[list[str]]:
    """Bounded IN lists (SQLite caps the parameters of one statement)."""
    return (items[start:start + size] for start in range(0, len(items), size))


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cursor = dbapi_conn.cursor()
    for pragma in PRAGMAS:
        cursor.execute(pragma)
    cursor.close()

