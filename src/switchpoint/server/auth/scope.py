"""What a team-admin sees: the keys whose `team` is its team, and the usage of those keys. An admin or
a viewer is not scoped (None), and sees every key."""

from __future__ import annotations

from typing import Any

from ..services import Services
from .principal import Principal


def owns(principal: Principal, row: dict[str, Any]) -> bool:
    """The key (a row of the keys table) is within what the principal may see and manage."""
    team = principal.team_scope
    return team is None or row.get("team") == team


async def team_key_hashes(services: Services, principal: Principal) -> list[str] | None:
    """The hashes of the keys a team-admin's reports cover; None for every key."""
    team = principal.team_scope
    if team is None:
        return None
    return [row["hash"] for row in await services.store.list_keys(limit=1_000_000) if row.get("team") == team]
