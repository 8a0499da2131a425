"""From verified claims to a principal: the domain, role and team rules as a table."""

from __future__ import annotations

from typing import Any

import pytest

from switchpoint.config.roles import OidcConfig
from switchpoint.server.auth.claims import Refused, principal_for

BASE: dict[str, Any] = {
    "issuer": "https://idp.example.com", "client_id": "sp", "redirect_url": "https://gw/dashboard/oidc/callback",
    "allowed_domains": ["example.com", "acme.io"], "roles_claim": "groups", "team_claim": "team",
    "role_map": {"sp-admins": "admin", "sp-viewers": "viewer", "sp-leads": "team-admin"},
}


def config(**changes: Any) -> OidcConfig:
    return OidcConfig.model_validate({**BASE, **changes})


@pytest.mark.parametrize(("changes", "claims", "expected"), [
    ({}, {"email": "a@example.com", "groups": ["sp-admins"]}, ("admin", None)),
    ({}, {"email": "a@ACME.io", "groups": "sp-viewers"}, ("viewer", None)),  # one string is one group
    ({}, {"email": "a@example.com", "groups": ["sp-viewers", "sp-admins"]}, ("admin", None)),  # the strongest
    ({}, {"email": "a@example.com", "groups": ["sp-viewers", "sp-leads"], "team": "search"}, ("team-admin", "search")),
    ({}, {"email": "a@example.com", "groups": ["sp-leads"], "team": ["search"]}, ("team-admin", "search")),
    ({"default_role": "viewer"}, {"email": "a@example.com"}, ("viewer", None)),
    ({"roles_claim": "realm_access.roles"}, {"email": "a@example.com", "realm_access": {"roles": ["sp-admins"]}},
     ("admin", None)),
    ({"allowed_domains": ["*"]}, {"email": "a@anywhere.test", "groups": ["sp-admins"]}, ("admin", None)),
    ({}, {"email": "a@example.com", "groups": ["sp-admins"], "email_verified": True}, ("admin", None)),
    # refused, with the reason
    ({}, {"groups": ["sp-admins"]}, "did not share an email address"),
    ({}, {"email": "a@example.com.evil.test", "groups": ["sp-admins"]}, "accounts from example.com, acme.io only"),
    ({}, {"email": "a@example.com", "groups": ["sp-admins"], "email_verified": False}, "is not verified"),
    ({}, {"email": "a@example.com", "groups": ["staff"]}, "none of its groups (staff) gives a role"),
    ({}, {"email": "a@example.com", "groups": ["sp-leads"]}, "names no team"),
    ({}, {"email": "a@example.com", "groups": ["sp-leads"], "team": ["a", "b"]}, "several teams (a, b)"),
])
def test_claims_to_principal(changes: dict[str, Any], claims: dict[str, Any], expected: Any) -> None:
    if isinstance(expected, str):
        with pytest.raises(Refused, match=expected.replace("(", r"\(").replace(")", r"\)")):
            principal_for(config(**changes), claims)
        return
    principal = principal_for(config(**changes), claims)
    assert (principal.role, principal.team) == expected
    assert principal.kind == "sso" and principal.email == claims["email"] and principal.via == "session"


def test_the_principal_as_an_audit_actor() -> None:
    from switchpoint.server.auth.principal import ADMIN_KEY, Principal

    assert ADMIN_KEY.label == "admin-key" and ADMIN_KEY.actor()["role"] == "admin"
    key = Principal(kind="management-key", name="search-bot", role="team-admin", team="search")
    assert key.label == "management-key search-bot" and key.team_scope == "search"
    user = principal_for(config(), {"email": "a@example.com", "groups": ["sp-viewers"]})
    assert user.label == "dashboard (a@example.com)" and user.team_scope is None
    assert user.actor() == {"kind": "sso", "name": "a@example.com", "email": "a@example.com", "role": "viewer",
                            "team": None, "via": "session"}
