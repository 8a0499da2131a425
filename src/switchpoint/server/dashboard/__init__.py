"""The operator dashboard at /dashboard: login, charts and tables over the ledger, key and team management."""

from __future__ import annotations

from typing import Any

from . import api, keys, pages, sso, teams

ROUTES: dict[tuple[str, str], Any] = {
    ("GET", "/dashboard"): pages.dashboard,
    ("GET", "/dashboard/"): pages.dashboard,
    ("GET", "/dashboard/login"): pages.login_form,
    ("POST", "/dashboard/login"): pages.login,
    ("POST", "/dashboard/logout"): pages.logout,
    ("GET", "/dashboard/oidc/login"): sso.start,
    ("GET", "/dashboard/oidc/callback"): sso.callback,
    ("GET", "/dashboard/api/me"): api.me,
    ("GET", "/dashboard/api/overview"): api.overview,
    ("GET", "/dashboard/api/endpoints"): api.endpoints,
    ("GET", "/dashboard/api/generations"): api.generations,
    ("GET", "/dashboard/api/keys"): api.keys,
    ("GET", "/dashboard/api/users"): api.users,
    ("GET", "/dashboard/api/audit"): api.audit,
    ("POST", "/dashboard/api/keys"): keys.create,
    ("POST", "/dashboard/api/keys/update"): keys.update,
    ("POST", "/dashboard/api/keys/revoke"): keys.revoke,
    ("GET", "/dashboard/api/teams"): teams.list_teams,
    ("POST", "/dashboard/api/teams"): teams.create,
    ("POST", "/dashboard/api/teams/update"): teams.update,
    ("POST", "/dashboard/api/teams/delete"): teams.delete,
    **{("GET", f"/dashboard/static/{name}"): pages.static_handler(name) for name in pages.STATIC_FILES},
}
