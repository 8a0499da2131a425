"""Teams in the store, on each SQL dialect: rows, the keys of a team, the teams of keys, the config's
teams upserted, and a team's spend from the ledger."""

from __future__ import annotations

from switchpoint.accounting.keys import new_key_row
from switchpoint.accounting.teams import new_team_row
from switchpoint.storage import Store

from .test_contract import generation


async def test_team_rows_and_their_keys(store: Store) -> None:
    await store.insert_team(new_team_row("ops", limit_nanos=5, limit_reset="daily", rate_limit=(10, 60.0),
                                         models=["openai/*"], max_price={"prompt": 1.5, "completion": None}))
    await store.insert_team(new_team_row("web"))
    row = await store.get_team("ops")
    assert row is not None and (row["limit_nanos"], row["limit_reset"], row["rate_limit_requests"]) == (5, "daily", 10)
    assert (row["models"], row["providers"], row["max_price"]) == ('["openai/*"]', None, '{"prompt":1.5}')
    assert [t["name"] for t in await store.list_teams()] == ["ops", "web"]
    assert await store.update_team("ops", {"limit_nanos": None}) is True
    assert (await store.get_team("ops"))["updated_at_ms"] is not None
    for i, team in enumerate(("ops", "ops", "web", None)):
        await store.insert_key(new_key_row(f"sk-sp-v1-team-store-{i}-0123456789", f"k{i}", team=team))
    ops = await store.team_key_hashes("ops")
    assert len(ops) == 2
    assert sorted((await store.key_teams()).values()) == ["ops", "ops", "web"]
    await store.insert_generations([generation(1, key_hash=ops[0], cost_nanos=100),
                                    generation(2, key_hash=ops[1], cost_nanos=20),
                                    generation(3, key_hash=(await store.team_key_hashes("web"))[0], cost_nanos=7)])
    assert await store.spend_nanos(None, 0, team="ops") == 120
    assert await store.spend_nanos(None, 0, team="web") == 7
    assert await store.spend_nanos(None, 0, team="ops", exclude=["gen-1"]) == 20
    assert await store.delete_team("web") is True and await store.get_team("web") is None


async def test_config_teams_are_upserted(store: Store) -> None:
    await store.upsert_config_teams([new_team_row("ops", limit_nanos=5, source="config"),
                                     new_team_row("web", source="config")])
    first = await store.get_team("ops")
    await store.upsert_config_teams([new_team_row("ops", limit_nanos=9, source="config")])
    again = await store.get_team("ops")
    assert (again["limit_nanos"], again["created_at_ms"]) == (9, first["created_at_ms"])
    assert again["updated_at_ms"] is not None
    assert (await store.get_team("web"))["source"] == "api"  # the file no longer defines it
