"""From a signed-in user's verified claims to a principal, or a refusal the user can act on: the
email domain must be allowed, the roles claim (or `default_role`) must give a role, and a team-admin
must have a team. Pure: table-tested in tests/server/test_sso_claims.py."""

from __future__ import annotations

from typing import Any

from ...config.roles import ROLES, OidcConfig, Role
from .principal import Principal


class Refused(Exception):
    """The user is who they say, but may not in: the message says why and what to do."""


def claim(claims: dict[str, Any], path: str) -> Any:
    """A claim by name, or a nested one by dotted path (Keycloak's `realm_access.roles`)."""
    if path in claims:
        return claims[path]
    node: Any = claims
    for part in path.split("."):
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node


def values(value: Any) -> list[str]:
    """A claim holding one string or a list of them, as a list."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [v for v in value if isinstance(v, str)]
    return []


def principal_for(config: OidcConfig, claims: dict[str, Any]) -> Principal:
    email = claims.get("email")
    if not isinstance(email, str) or "@" not in email:
        raise Refused("Your identity provider did not share an email address: the 'email' scope (or claim) is "
                      "needed to sign in here.")
    email = email.strip()
    if claims.get("email_verified") is False:
        raise Refused(f"{email} is not verified at your identity provider: verify it there, then sign in again.")
    domain = email.rpartition("@")[2].lower()
    if "*" not in config.allowed_domains and domain not in config.allowed_domains:
        raise Refused(f"{email} may not sign in to this dashboard: accounts from "
                      f"{', '.join(config.allowed_domains)} only. Sign in with another account.")
    groups = values(claim(claims, config.roles_claim)) if config.roles_claim else []
    mapped = {config.role_map[g] for g in groups if g in config.role_map}
    role: Role | None = next((r for r in ROLES if r in mapped), config.default_role)
    if role is None:
        shown = ", ".join(groups[:10]) or "none"
        raise Refused(f"{email} is signed in, but none of its {config.roles_claim or 'groups'} ({shown}) gives a "
                      "role on this dashboard. Ask an administrator to add you to a group that does.")
    team = None
    if role == "team-admin":
        teams = values(claim(claims, config.team_claim)) if config.team_claim else []
        if len(teams) != 1:
            raise Refused(f"{email} is a team-admin, but its '{config.team_claim}' claim names "
                          f"{'no team' if not teams else 'several teams (' + ', '.join(teams) + ')'}; it must "
                          "name exactly one.")
        team = teams[0]
    return Principal(kind="sso", name=email, role=role, team=team, email=email, via="session")
