"""CSRF: a state change made with a dashboard session cookie needs that session's token (header or,
for the logout form, a form field) and the dashboard's own origin; a bearer key needs neither. And
the session cookie's attributes, whoever signed in."""

from __future__ import annotations

import json
from typing import Any

from ..conftest import ADMIN_KEY
from ..upstream import Upstream
from .helpers import csrf_token, http, login
from .oidc_standin import claims, finish, oidc_settings, serve_idp, signed, start

CREATE = "/dashboard/api/keys"
BODY = json.dumps({"name": "csrf-probe"}).encode()
JSON = {"content-type": "application/json"}


def create(gateway: Any, headers: dict[str, str]) -> tuple[int, dict[str, Any]]:
    status, _, body = http(gateway, "POST", CREATE, BODY, {**JSON, **headers})
    return status, json.loads(body)


def test_state_changes_from_a_session_need_its_csrf_token(gateway: Any) -> None:
    cookie, other = login(gateway), login(gateway)
    token, other_token = csrf_token(gateway, cookie), csrf_token(gateway, other)
    assert token != other_token
    for headers in ({}, {"x-csrf-token": ""}, {"x-csrf-token": "forged"}, {"x-csrf-token": other_token}):
        status, answer = create(gateway, {"cookie": cookie, **headers})
        assert status == 403 and answer["error"]["metadata"]["reason"] == "csrf", (headers, answer)
    status, answer = create(gateway, {"cookie": cookie, "x-csrf-token": token, "origin": "https://evil.example"})
    assert status == 403 and answer["error"]["message"] == "Cross-origin request refused"
    status, answer = create(gateway, {"cookie": cookie, "x-csrf-token": token, "origin": gateway.url})
    assert status == 201 and answer["key"].startswith("sk-sp-v1-")
    # A bearer key is no ambient credential: no token needed.
    assert create(gateway, {"authorization": f"Bearer {ADMIN_KEY}"})[0] == 201
    # Reads need no token.
    assert http(gateway, "GET", CREATE, headers={"cookie": cookie})[0] == 200


def test_logout_needs_the_token(gateway: Any) -> None:
    cookie = login(gateway)
    form = {"cookie": cookie, "content-type": "application/x-www-form-urlencoded"}
    status, _, page = http(gateway, "POST", "/dashboard/logout", b"csrf=forged", form)
    assert status == 403 and b"Log out refused" in page
    assert http(gateway, "GET", "/dashboard/api/me", headers={"cookie": cookie})[0] == 200  # still signed in
    status, headers, _ = http(gateway, "POST", "/dashboard/logout", f"csrf={csrf_token(gateway, cookie)}".encode(),
                              form)
    assert status == 303 and "Max-Age=0" in headers["set-cookie"]
    assert http(gateway, "GET", "/dashboard/api/me", headers={"cookie": cookie})[0] == 401


def test_a_tampered_session_is_no_session(gateway: Any) -> None:
    """The role is inside the signed cookie: changing it breaks the signature."""
    import base64

    cookie = login(gateway)
    value = cookie.partition("=")[2]
    body, _, signature = value.partition(".")
    payload = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    assert payload["r"] == "admin" and payload["k"] == "admin-key"
    payload["t"] = "someone-else"
    forged = base64.urlsafe_b64encode(json.dumps(payload).encode()).rstrip(b"=").decode()
    assert http(gateway, "GET", "/dashboard/api/me", headers={"cookie": f"sp_session={forged}.{signature}"})[0] == 401


def test_session_cookie_attributes(make_gateway: Any, upstream: Upstream) -> None:
    issuer = serve_idp(upstream)
    gateway = make_gateway(dashboard={"oidc": oidc_settings(issuer), "session_lifetime": "2h"})
    status, headers, _ = http(gateway, "POST", "/dashboard/login", f"key={ADMIN_KEY}".encode(),
                              {"content-type": "application/x-www-form-urlencoded"})
    assert status == 303
    by_admin_key = headers["set-cookie"]
    state, params = start(gateway)
    status, headers, _ = finish(gateway, upstream, state, params, signed(claims(issuer, params["nonce"])))
    assert status == 200
    by_sso = next(c for c in headers.get_all("set-cookie") if c.startswith("sp_session="))
    for cookie in (by_admin_key, by_sso):
        attributes = [part.strip() for part in cookie.split(";")[1:]]
        assert sorted(attributes) == ["HttpOnly", "Max-Age=7200", "Path=/dashboard", "SameSite=Strict", "Secure"]
        assert http(gateway, "GET", "/dashboard/api/me", headers={"cookie": cookie.split(";")[0]})[0] == 200
