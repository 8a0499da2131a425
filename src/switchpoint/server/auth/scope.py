"""What a team-admin sees: the keys whose `team` is its team, and the usage of those keys. An admin or
a viewer is not scoped (None), and sees every key."""

from __future__ import annotations

from typing import Any

from ...errors import ForbiddenError
from ...storage.tables import keys as key_table
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


def team_for_new_key(principal: Principal) -> str | None:
    """The team a key created by this principal joins: a team-admin's own team, else none (the key's
    own `team`, if any). Kept for a keys table without a `team` column: then a team-admin cannot
    create keys, and says so."""
    team = principal.team_scope
    if team is not None and "team" not in key_table.c:
        raise ForbiddenError(f"A team-admin creates keys in its team ({team}), and keys cannot belong to a team "
                             "in this version", metadata={"role": principal.role})
    return team
