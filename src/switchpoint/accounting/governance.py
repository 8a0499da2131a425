"""The one place where keys and teams are created, changed and deleted: the provisioning API, the
dashboard and the CLI all call it. Each mutation returns a `Change` with the stored record before and
after, and is handed to every listener, after the caches of every process sharing the state have
dropped what changed. Each mutation writes exactly one audit-log entry (accounting/audit.py), in the
same transaction as the change itself, naming the authenticated actor."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from ..errors import BadRequestError, NotFoundError
from ..storage import Store
from ..storage.store import now_ms
from .audit import key_entry, team_entry
from .keys import KeyRecord, KeyService, generate_key, hash_key, new_key_row
from .teams import TeamRecord, new_team_row


@dataclass(frozen=True, slots=True)
class Change:
    """One mutation: what (`key` by hash, `team` by name), how, and the stored rows around it (None
    before a creation and after a deletion). Rows are as stored: a key's has only its hash."""

    kind: Literal["key", "team"]
    action: Literal["create", "update", "delete"]
    id: str
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    actor: str  # who asked, as authentication named them (server/actor.py), or the CLI's user


Listener = Callable[[Change], Awaitable[None]]


@dataclass
class Governance:
    store: Store
    keys: KeyService
    listeners: list[Listener] = field(default_factory=list)

    async def _done(self, change: Change) -> Change:
        for listener in self.listeners:
            await listener(change)
        return change

    async def _require_team(self, name: str | None) -> None:
        if name is not None and await self.store.get_team(name) is None:
            raise BadRequestError(f"team: unknown team '{name}'", metadata={"param": "team"})

    # -- keys ----------------------------------------------------------------------------------

    async def create_key(self, name: str, *, actor: str, plaintext: str | None = None,
                         **settings: Any) -> tuple[KeyRecord, str, Change]:
        """Store a new key (settings as `new_key_row` takes them); its record, plaintext and change."""
        await self._require_team(settings.get("team"))
        key = plaintext or generate_key()
        row = new_key_row(key, name, **settings)
        await self.store.insert_key(row, audit=key_entry(actor, "key.create", None, row))
        await self.keys.changed(row["hash"])  # a process asked for it before keeps no "unknown key"
        team_row = await self.store.get_team(row["team"]) if row.get("team") else None
        record = KeyRecord.from_row(row, TeamRecord.from_row(team_row) if team_row else None)
        return record, key, await self._done(Change("key", "create", row["hash"], None, row, actor))

    async def update_key(self, key_hash: str, values: dict[str, Any], *, actor: str) -> Change:
        """Set the stored columns in `values` (the caller validated them)."""
        before = await self._key_row(key_hash)
        if "team" in values:
            await self._require_team(values["team"])
        if values:
            after = {**before, **values, "updated_at_ms": now_ms()}
            await self.store.update_key(key_hash, values, audit=key_entry(actor, "key.update", before, after))
            await self.keys.changed(key_hash)
        return await self._done(Change("key", "update", key_hash, before, await self._key_row(key_hash), actor))

    async def delete_key(self, key_hash: str, *, actor: str, action: str = "key.delete") -> Change:
        """Delete the key (`action` names how the caller calls it in the audit log: key.delete, key.revoke)."""
        before = await self._key_row(key_hash)
        await self.store.delete_key(key_hash, audit=key_entry(actor, action, before, None))
        await self.keys.changed(key_hash)
        return await self._done(Change("key", "delete", key_hash, before, None, actor))

    async def _key_row(self, key_hash: str) -> dict[str, Any]:
        row = await self.store.get_key(key_hash)
        if row is None:
            raise NotFoundError(f"Key {key_hash} not found")
        return row

    def key_in_use(self, plaintext: str) -> bool:
        return self.keys.is_admin(f"Bearer {plaintext}")

    async def key_exists(self, plaintext: str) -> bool:
        return self.key_in_use(plaintext) or await self.store.get_key(hash_key(plaintext)) is not None

    # -- teams ---------------------------------------------------------------------------------

    async def create_team(self, name: str, *, actor: str, **settings: Any) -> Change:
        if await self.store.get_team(name) is not None:
            raise BadRequestError(f"name: team '{name}' already exists", metadata={"param": "name"})
        row = new_team_row(name, **settings)
        await self.store.insert_team(row, audit=team_entry(actor, "team.create", None, row))
        return await self._done(Change("team", "create", name, None, row, actor))

    async def update_team(self, name: str, values: dict[str, Any], *, actor: str) -> Change:
        before = await self.team_row(name)
        if values:
            after = {**before, **values, "updated_at_ms": now_ms()}
            await self.store.update_team(name, values, audit=team_entry(actor, "team.update", before, after))
            await self.keys.changed_all()  # every cached key of the team carries the team's settings
        return await self._done(Change("team", "update", name, before, await self.team_row(name), actor))

    async def delete_team(self, name: str, *, actor: str) -> Change:
        """Refused while keys belong to the team: removing it would lift their team limits unasked."""
        before = await self.team_row(name)
        members = await self.store.team_key_hashes(name)
        if members:
            raise BadRequestError(f"team '{name}' has {len(members)} key(s); move them to another team "
                                  "(PATCH /api/v1/keys/{hash} with \"team\") or delete them first",
                                  metadata={"keys": len(members)})
        await self.store.delete_team(name, audit=team_entry(actor, "team.delete", before, None))
        await self.keys.changed_all()
        return await self._done(Change("team", "delete", name, before, None, actor))

    async def team_row(self, name: str) -> dict[str, Any]:
        row = await self.store.get_team(name)
        if row is None:
            raise NotFoundError(f"Team {name} not found")
        return row
