"""The governance service: every key and team change goes through it and is handed to its listeners
with the stored row before and after, and who asked; each writes its one audit-log entry."""

from __future__ import annotations

import pytest

from switchpoint.accounting.governance import Change, Governance
from switchpoint.accounting.keys import KeyService, load_key
from switchpoint.errors import BadRequestError, NotFoundError
from switchpoint.storage import Store


async def test_every_change_reaches_the_listeners_with_before_and_after(tmp_path) -> None:
    store = Store(f"sqlite:///{tmp_path / 'g.db'}")
    await store.create_schema()
    try:
        governance = Governance(store, KeyService(store, admin_key=None))
        heard: list[Change] = []

        async def listen(change: Change) -> None:
            heard.append(change)

        governance.listeners.append(listen)
        await governance.create_team("ops", limit_nanos=5_000_000_000, providers=["groq"], actor="admin-key")
        record, plaintext, created = await governance.create_key("app", team="ops", models=["openai/*"],
                                                                 actor="dashboard")
        assert record.team == "ops" and record.team_record is not None
        assert record.team_record.policy.providers == ("groq",) and record.policy.models == ("openai/*",)
        assert created.after is not None and created.after["hash"] == record.hash and plaintext not in str(created)
        await governance.update_key(record.hash, {"limit_nanos": 7}, actor="cli")
        await governance.update_team("ops", {"limit_nanos": None}, actor="admin-key")
        with pytest.raises(BadRequestError, match=r"has 1 key\(s\)"):
            await governance.delete_team("ops", actor="admin-key")
        await governance.delete_key(record.hash, actor="admin-key")
        await governance.delete_team("ops", actor="admin-key")
        assert [(c.kind, c.action, c.id, c.actor) for c in heard] == [
            ("team", "create", "ops", "admin-key"), ("key", "create", record.hash, "dashboard"),
            ("key", "update", record.hash, "cli"), ("team", "update", "ops", "admin-key"),
            ("key", "delete", record.hash, "admin-key"), ("team", "delete", "ops", "admin-key")]
        audit = [(e["action"], e["actor"], e["target"]) for e in reversed(await store.audit_entries())]
        assert audit == [("team.create", "admin-key", "team ops"), ("key.create", "dashboard", f"key app ({record.label})"),
                         ("key.update", "cli", f"key app ({record.label})"), ("team.update", "admin-key", "team ops"),
                         ("key.delete", "admin-key", f"key app ({record.label})"),
                         ("team.delete", "admin-key", "team ops")]
        update = heard[2]
        assert update.before is not None and update.after is not None
        assert (update.before["limit_nanos"], update.after["limit_nanos"]) == (None, 7)
        assert heard[3].before["limit_nanos"] == 5_000_000_000 and heard[3].after["limit_nanos"] is None
        assert heard[4].after is None and heard[5].after is None
        assert await load_key(store, record.hash) is None
        with pytest.raises(BadRequestError, match="team: unknown team 'nobody'"):
            await governance.create_key("x", team="nobody", actor="admin-key")
        with pytest.raises(NotFoundError):
            await governance.update_team("nobody", {}, actor="admin-key")
        assert len(await store.audit_entries()) == 6  # a refused change writes no entry
    finally:
        await store.close()
