"""Every dashboard and admin API route against every kind of caller, through the real server: the
admin, a viewer and a team-admin signed in by single sign-on (session cookies, with their CSRF
tokens), the admin key's own session, nobody, the admin key as a bearer, and management keys scoped
to a viewer role or to a team. Each cell is the status the route must answer.

Cookie sessions belong to the dashboard (the cookie's path is /dashboard): the admin API takes bearer
keys only, so a session sent there is no credential (401). Every key here is outside the team-admin's
team: it is not found for a team-admin (404), and (keys having no team column yet) a team-admin cannot
create one (403)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from ..conftest import ADMIN_KEY
from ..upstream import Upstream
from .helpers import csrf_token, http, login
from .oidc_standin import oidc_settings, serve_idp, sso_session

VIEWER_KEY = "mgmt-viewer-" + "5e7a" * 8
TEAM_KEY = "mgmt-search-" + "c0de" * 8
TEAM = "search"
CALLERS = ("admin", "viewer", "team-admin", "admin-session", "anonymous", "admin-key", "viewer-key", "team-key")

# route: (method, path, body) and the status for each caller, in the order of CALLERS. `{hash}` is a
# key made for the row by the admin (in no team).
MATRIX: list[tuple[str, str, dict[str, Any] | None, tuple[int, ...]]] = [
    ("GET", "/dashboard", None, (200, 200, 200, 200, 303, 303, 303, 303)),
    ("GET", "/dashboard/api/me", None, (200, 200, 200, 200, 401, 200, 200, 200)),
    ("GET", "/dashboard/api/overview", None, (200, 200, 200, 200, 401, 200, 200, 200)),
    ("GET", "/dashboard/api/endpoints", None, (200, 200, 403, 200, 401, 200, 200, 403)),
    ("GET", "/dashboard/api/generations", None, (200, 200, 200, 200, 401, 200, 200, 200)),
    ("GET", "/dashboard/api/keys", None, (200, 200, 200, 200, 401, 200, 200, 200)),
    ("GET", "/dashboard/api/users", None, (200, 200, 200, 200, 401, 200, 200, 200)),
    ("GET", "/dashboard/api/audit", None, (200, 200, 403, 200, 401, 200, 200, 403)),
    ("POST", "/dashboard/api/keys", {"name": "made"}, (201, 403, 201, 201, 401, 201, 403, 201)),
    ("POST", "/dashboard/api/keys/update", {"hash": "{hash}", "disabled": True},
     (200, 403, 404, 200, 401, 200, 403, 404)),
    ("POST", "/dashboard/api/keys/revoke", {"hash": "{hash}"}, (200, 403, 404, 200, 401, 200, 403, 404)),
    ("GET", "/api/v1/keys", None, (401, 401, 401, 401, 401, 200, 200, 200)),
    ("POST", "/api/v1/keys", {"name": "made"}, (401, 401, 401, 401, 401, 201, 403, 201)),
    ("GET", "/api/v1/keys/{hash}", None, (401, 401, 401, 401, 401, 200, 200, 404)),
    ("PATCH", "/api/v1/keys/{hash}", {"disabled": True}, (401, 401, 401, 401, 401, 200, 403, 404)),
    ("DELETE", "/api/v1/keys/{hash}", None, (401, 401, 401, 401, 401, 200, 403, 404)),
    ("GET", "/api/v1/activity", None, (401, 401, 401, 401, 401, 200, 200, 200)),
    ("GET", "/api/v1/audit", None, (401, 401, 401, 401, 401, 200, 200, 403)),
    ("POST", "/api/v1/admin/reload", None, (401, 401, 401, 401, 401, 200, 403, 403)),
    ("GET", "/dashboard/api/teams", None, (200, 200, 403, 200, 401, 200, 200, 403)),
    # a team name is unique: the first admin makes it, the next ones are allowed but find it taken (400)
    ("POST", "/dashboard/api/teams", {"name": "made"}, (201, 403, 403, 400, 401, 400, 403, 403)),
    ("GET", "/api/v1/teams", None, (401, 401, 401, 401, 401, 200, 200, 403)),
    ("POST", "/api/v1/teams", {"name": "made"}, (401, 401, 401, 401, 401, 201, 403, 403)),
]


@pytest.fixture
def world(make_gateway: Any, upstream: Upstream) -> dict[str, Any]:
    issuer = serve_idp(upstream)
    gateway = make_gateway(
        dashboard={"oidc": oidc_settings(issuer)},
        management_keys=[{"name": "ops-viewer", "key": VIEWER_KEY, "role": "viewer"},
                         {"name": "search-admin", "key": TEAM_KEY, "team": TEAM}],
        teams=[{"name": TEAM}])  # a team-admin's new keys join it
    sessions = {
        "admin": sso_session(gateway, upstream, issuer, email="ana@example.com", groups=["ops"]),
        "viewer": sso_session(gateway, upstream, issuer, email="vic@example.com", groups=["readers"]),
        "team-admin": sso_session(gateway, upstream, issuer, email="tess@example.com", groups=["leads"], team=TEAM),
        "admin-session": login(gateway),
    }
    return {"gateway": gateway, "sessions": sessions}


def credentials(world: dict[str, Any], caller: str, method: str, path: str) -> dict[str, str]:
    """The headers a caller sends: a bearer key, or its session cookie (with the CSRF token for a change)."""
    bearer = {"admin-key": ADMIN_KEY, "viewer-key": VIEWER_KEY, "team-key": TEAM_KEY}.get(caller)
    if bearer:
        return {"authorization": f"Bearer {bearer}"}
    cookie = world["sessions"].get(caller)
    if cookie is None:
        return {}
    headers = {"cookie": cookie}
    if method != "GET" and path.startswith("/dashboard"):
        headers["x-csrf-token"] = csrf_token(world["gateway"], cookie)
    return headers


def target_key(gateway: Any) -> str:
    status, _, body = http(gateway, "POST", "/api/v1/keys", json.dumps({"name": "target"}).encode(),
                           {"authorization": f"Bearer {ADMIN_KEY}", "content-type": "application/json"})
    assert status == 201, body
    return str(json.loads(body)["data"]["hash"])


@pytest.mark.parametrize(("method", "path", "body", "expected"), MATRIX,
                         ids=[f"{m} {p}" for m, p, _, _ in MATRIX])
def test_role_matrix(world: dict[str, Any], method: str, path: str, body: dict[str, Any] | None,
                     expected: tuple[int, ...]) -> None:
    gateway = world["gateway"]
    got = {}
    for caller in CALLERS:
        target = target_key(gateway) if "{hash}" in path or (body and "{hash}" in body.values()) else ""
        data = json.dumps({k: (target if v == "{hash}" else v) for k, v in body.items()}).encode() if body else None
        headers = {**credentials(world, caller, method, path), "content-type": "application/json"}
        status, _, answer = http(gateway, method, path.replace("{hash}", target), data, headers)
        got[caller] = status
        if status >= 400 and path.startswith(("/dashboard/api", "/api/v1")):
            assert json.loads(answer)["error"]["code"] == status  # the API's own error envelope, never a page
    assert got == dict(zip(CALLERS, expected, strict=True))


def test_a_team_admin_sees_only_its_team(world: dict[str, Any], upstream: Upstream) -> None:
    """Keys and usage outside its team are not there for a team-admin; the admin sees them all."""
    from .helpers import make_traffic

    gateway = world["gateway"]
    theirs = target_key(gateway)
    make_traffic(gateway, upstream, ok=2, failed=0)
    for caller in ("team-admin", "team-key"):
        headers = credentials(world, caller, "GET", "/dashboard")
        listed = json.loads(http(gateway, "GET", "/dashboard/api/keys", headers=headers)[2])["keys"]
        assert theirs not in {k["hash"] for k in listed} and all(k["team"] == TEAM for k in listed)
        overview = json.loads(http(gateway, "GET", "/dashboard/api/overview", headers=headers)[2])
        assert overview["team"] == TEAM and overview["totals"]["requests"] == 0 and overview["by_key"] == []
        recent = json.loads(http(gateway, "GET", "/dashboard/api/generations", headers=headers)[2])
        assert recent["generations"] == []
    bearer = {"authorization": f"Bearer {TEAM_KEY}"}
    assert theirs not in {k["hash"] for k in json.loads(http(gateway, "GET", "/api/v1/keys", headers=bearer)[2])["data"]}
    assert json.loads(http(gateway, "GET", "/api/v1/activity", headers=bearer)[2])["data"] == []
    admin = {"authorization": f"Bearer {ADMIN_KEY}"}
    assert json.loads(http(gateway, "GET", "/dashboard/api/overview", headers=admin)[2])["totals"]["requests"] == 2
    assert theirs in {k["hash"] for k in json.loads(http(gateway, "GET", "/api/v1/keys", headers=admin)[2])["data"]}
    viewer = {"authorization": f"Bearer {VIEWER_KEY}"}
    assert len(json.loads(http(gateway, "GET", "/dashboard/api/generations", headers=viewer)[2])["generations"]) == 2
