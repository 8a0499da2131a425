"""The sign-in settings: `dashboard` (sessions, single sign-on) and `management_keys` (roles, teams)."""

from __future__ import annotations

from pathlib import Path

import pytest

from switchpoint.config import load_config
from switchpoint.errors import ConfigError

OIDC = """
admin_key: admin-key-0123456789abcdef0123456789
dashboard:
  session_lifetime: 8h
  oidc:
    issuer: https://idp.example.com/realms/acme
    client_id: switchpoint
    client_secret: ${OIDC_SECRET}
    redirect_url: https://gw.example.com/dashboard/oidc/callback
    allowed_domains: ["Example.com", "@acme.io"]
    roles_claim: realm_access.roles
    role_map: {sp-admins: admin, sp-viewers: viewer, sp-leads: team-admin}
    team_claim: team
management_keys:
  - {name: ci-viewer, key: "${VIEWER_KEY}", role: viewer}
  - {name: search-bot, key: "mk-search-0123456789abcdef0123456789"}
  - {name: root-bot, key: "mk-root-0123456789abcdef0123456789ab"}
"""


def load(tmp_path: Path, text: str, env: dict[str, str] | None = None) -> object:
    path = tmp_path / "switchpoint.yaml"
    path.write_text(text)
    return load_config(path, env=env or {})


def problems(tmp_path: Path, text: str, env: dict[str, str] | None = None) -> dict[str, str]:
    with pytest.raises(ConfigError) as caught:
        load(tmp_path, text, env)
    return dict(caught.value.problems)


def test_sign_in_settings_load(tmp_path: Path) -> None:
    config = load(tmp_path, OIDC, {"OIDC_SECRET": "s3cret", "VIEWER_KEY": "mk-viewer-0123456789abcdef0123456789"})
    oidc = config.dashboard.oidc
    assert oidc.client_secret == "s3cret" and oidc.allowed_domains == ["example.com", "acme.io"]
    assert oidc.scopes == ["openid", "email", "profile"] and oidc.default_role is None
    assert config.dashboard.session_lifetime == 8 * 3600
    assert [(k.name, k.effective_role) for k in config.management_keys] == [
        ("ci-viewer", "viewer"), ("search-bot", "admin"), ("root-bot", "admin")]


def test_each_mistake_is_reported_with_its_path(tmp_path: Path) -> None:
    text = """
dashboard:
  oidc:
    issuer: idp.example.com
    client_id: switchpoint
    redirect_url: https://gw.example.com/callback
    allowed_domains: []
    scopes: [email]
management_keys:
  - {name: a, key: short}
  - {name: b, key: mk-0123456789abcdef0123456789abcdef, role: viewer, team: search}
  - {name: c, key: mk-1123456789abcdef0123456789abcdef, role: team-admin}
"""
    found = problems(tmp_path, text)
    assert "must be an http(s) URL" in found["dashboard.oidc.issuer"]
    assert "/dashboard/oidc/callback" in found["dashboard.oidc.redirect_url"]
    assert "dashboard.oidc.allowed_domains" in found
    assert "'openid'" in found["dashboard.oidc.scopes"]
    assert "management_keys[0].key" in found
    assert "drop team" in found["management_keys[1]"]
    assert "required for role team-admin" in found["management_keys[2]"]


def test_team_admins_need_a_team_claim_and_sessions_a_secret(tmp_path: Path) -> None:
    text = """
dashboard:
  oidc:
    issuer: https://accounts.google.com
    client_id: switchpoint
    redirect_url: https://gw.example.com/dashboard/oidc/callback
    allowed_domains: [example.com]
    default_role: team-admin
"""
    assert "team_claim: required" in problems(tmp_path, text)["dashboard.oidc"]
    text = text.replace("default_role: team-admin", "default_role: viewer")
    assert "required to sign sessions" in problems(tmp_path, text)["dashboard.session_secret"]
    config = load(tmp_path, text.replace("dashboard:\n", "dashboard:\n  session_secret: " + "x" * 32 + "\n"))
    assert config.dashboard.oidc.default_role == "viewer"


def test_management_keys_are_their_own(tmp_path: Path) -> None:
    text = """
admin_key: admin-key-0123456789abcdef0123456789
management_keys:
  - {name: a, key: admin-key-0123456789abcdef0123456789}
  - {name: a, key: mk-0123456789abcdef0123456789abcdef}
"""
    found = problems(tmp_path, text)
    assert "the same as admin_key" in found["management_keys[0].key"]
    assert "duplicate name 'a'" in found["management_keys[1].name"]
