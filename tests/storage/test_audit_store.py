"""The audit log and end-user spend on both SQL dialects: an entry is written in the transaction of
its change (and only when something changed), read newest first a page at a time."""

from __future__ import annotations

from typing import Any

from switchpoint.accounting.audit import config_key_entry, key_entry
from switchpoint.accounting.keys import new_key_row
from switchpoint.storage import Store

from .test_contract import generation


def key(name: str, source: str = "api") -> dict[str, Any]:
    return new_key_row(f"sk-sp-v1-{name:x<64}", name, limit_usd=1.0, user_limit_usd=0.25, user_rate_limit=(5, 60.0),
                       source=source)


async def test_changes_and_their_entries_are_written_together(store: Store) -> None:
    row = key("a")
    await store.insert_key(row, audit=key_entry("admin-key", "key.create", None, row))
    assert (await store.get_key(row["hash"]))["user_limit_nanos"] == 250_000_000
    assert await store.update_key(row["hash"], {"disabled": True},
                                  audit=key_entry("admin-key", "key.update", row, {**row, "disabled": True}))
    assert not await store.update_key("missing", {"disabled": True}, audit=key_entry("x", "key.update", row, row))
    assert await store.delete_key(row["hash"], audit=key_entry("admin-key", "key.delete", row, None))
    assert not await store.delete_key(row["hash"], audit=key_entry("x", "key.delete", row, None))
    entries = await store.audit_entries()
    assert [e["action"] for e in entries] == ["key.delete", "key.update", "key.create"]  # newest first
    assert [e["action"] for e in await store.audit_entries(limit=1, offset=1)] == ["key.update"]
    assert [e["action"] for e in await store.audit_entries(before_id=entries[1]["id"])] == ["key.create"]
    assert row["hash"] not in str(entries)


async def test_config_keys_write_an_entry_per_changed_key(store: Store) -> None:
    a, b = key("a", "config"), key("b", "config")
    await store.upsert_config_keys([a, b], config_key_entry)
    await store.upsert_config_keys([a, b], config_key_entry)  # nothing changed: no entry
    await store.upsert_config_keys([{**a, "limit_nanos": 7}], config_key_entry)  # a changed, b removed
    entries = await store.audit_entries()
    assert sorted((e["action"], e["target"].split()[1]) for e in entries) == [
        ("key.create", "a"), ("key.create", "b"), ("key.disable", "b"), ("key.update", "a")]
    assert {e["actor"] for e in entries} == {"config (switchpoint.yaml)"}


async def test_spend_of_one_end_user(store: Store) -> None:
    await store.insert_generations([generation(1, cost_nanos=10, external_user="alice"),
                                    generation(2, cost_nanos=20, external_user="bob"),
                                    generation(3, cost_nanos=40, external_user="alice")])
    assert await store.spend_nanos("k1", 0, user="alice") == 50
    assert await store.spend_nanos("k1", 0, user="alice", exclude=["gen-3"]) == 10
    assert await store.spend_nanos("k1", 0) == 70
