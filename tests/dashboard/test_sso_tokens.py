"""The single sign-on callback against a stand-in identity provider whose ID tokens the test signs
itself: a good token signs the user in; a token with another key's signature, another issuer or
audience, an old expiry, another sign-in's nonce, an unsigned or HMAC algorithm, is refused. Also: the
PKCE challenge sent is S256 of the verifier sent at the token endpoint, the client authenticates with
its secret, the state is checked and used once, and key rotation (a new `kid`) fetches the JWKS again."""

from __future__ import annotations

import base64
import hashlib
import time
import urllib.parse
from typing import Any

import jwt
import pytest

from ..upstream import Reply, Upstream
from .helpers import http
from .oidc_standin import (
    CLIENT_ID,
    KEY,
    OTHER,
    SECRET,
    claims,
    finish,
    jwk,
    oidc_settings,
    serve_idp,
    signed,
    start,
)


@pytest.fixture
def idp(upstream: Upstream) -> str:
    return serve_idp(upstream)


@pytest.fixture
def gateway(make_gateway: Any, idp: str) -> Any:
    return make_gateway(dashboard={"oidc": oidc_settings(idp)})



def test_a_good_id_token_signs_the_user_in(gateway: Any, upstream: Upstream, idp: str) -> None:
    cookie, params = start(gateway)
    assert params["response_type"] == "code" and params["client_id"] == CLIENT_ID
    assert params["code_challenge_method"] == "S256" and params["scope"] == "openid email profile"
    assert params["redirect_uri"] == "https://gw.example.com/dashboard/oidc/callback"
    status, headers, page = finish(gateway, upstream, cookie, params, signed(claims(idp, params["nonce"])))
    assert status == 200 and b"Signed in as ana@example.com (admin)" in page, page
    assert b'http-equiv="refresh" content="0;url=/dashboard"' in page
    session_cookie = next(c for c in headers.get_all("set-cookie") if c.startswith("sp_session="))
    assert "HttpOnly" in session_cookie and "Secure" in session_cookie and "SameSite=Strict" in session_cookie
    token_call = upstream.hits("/idp/token")[-1]
    form = dict(urllib.parse.parse_qsl(token_call.body.decode()))
    verifier = form["code_verifier"]
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    assert challenge == params["code_challenge"] and form["grant_type"] == "authorization_code"
    assert form["code"] == "the-code" and form["redirect_uri"] == params["redirect_uri"]
    basic = base64.b64decode(token_call.headers["authorization"].removeprefix("Basic ")).decode()
    assert basic == f"{CLIENT_ID}:{SECRET}"
    me = http(gateway, "GET", "/dashboard/api/me", headers={"cookie": session_cookie.split(";")[0]})
    assert me[0] == 200 and b'"role":"admin"' in me[2]
    # The state is used once: the same answer replayed is refused.
    assert finish(gateway, upstream, cookie, params, signed(claims(idp, params["nonce"])))[0] == 400


@pytest.mark.parametrize(("case", "reason"), [
    ("other key", b"Signature verification failed"),
    ("other issuer", b"Invalid issuer"),
    ("other audience", b"Audience doesn"),
    ("expired", b"Signature has expired"),
    ("other nonce", b"nonce does not match"),
    ("no expiry", b"exp"),
    ("hmac", b"accepted: RS256"),
    ("unsigned", b"accepted: RS256"),
    ("unknown kid", b"does not publish"),
])
def test_bad_id_tokens_are_refused(gateway: Any, upstream: Upstream, idp: str, case: str, reason: bytes) -> None:
    cookie, params = start(gateway)
    nonce = params["nonce"]
    token = {
        "other key": lambda: signed(claims(idp, nonce), OTHER),
        "other issuer": lambda: signed(claims(idp, nonce, iss="https://evil.example")),
        "other audience": lambda: signed(claims(idp, nonce, aud="someone-else")),
        "expired": lambda: signed(claims(idp, nonce, exp=int(time.time()) - 3600)),
        "other nonce": lambda: signed(claims(idp, "a-nonce-of-another-sign-in")),
        "no expiry": lambda: signed(claims(idp, nonce, exp=None)),
        "hmac": lambda: jwt.encode(claims(idp, nonce), SECRET, algorithm="HS256"),
        "unsigned": lambda: jwt.encode(claims(idp, nonce), None, algorithm="none"),
        "unknown kid": lambda: signed(claims(idp, nonce), OTHER, kid="k9"),
    }[case]()
    status, headers, page = finish(gateway, upstream, cookie, params, token)
    assert status == 502 and reason in page, page
    assert not [c for c in headers.get_all("set-cookie") or [] if c.startswith("sp_session=")]


def test_a_rotated_key_is_fetched(gateway: Any, upstream: Upstream, idp: str) -> None:
    cookie, params = start(gateway)
    assert finish(gateway, upstream, cookie, params, signed(claims(idp, params["nonce"])))[0] == 200
    upstream.always("/idp/jwks", Reply.json({"keys": [jwk(KEY, "k1"), jwk(OTHER, "k2")]}))
    cookie, params = start(gateway)
    status, _, page = finish(gateway, upstream, cookie, params, signed(claims(idp, params["nonce"]), OTHER, "k2"))
    assert status == 200, page
    assert len(upstream.hits("/idp/jwks")) == 2


def test_the_state_must_match_and_come_with_its_cookie(gateway: Any, upstream: Upstream, idp: str) -> None:
    cookie, params = start(gateway)
    status, _, page = finish(gateway, upstream, cookie, params, signed(claims(idp, params["nonce"])), state="forged")
    assert status == 400 and b"state does not match" in page
    status, _, page = http(gateway, "GET", f"/dashboard/oidc/callback?code=c&state={params['state']}")
    assert status == 400 and b"expired or did not start here" in page
    cookie, params = start(gateway)
    query = urllib.parse.urlencode({"error": "access_denied", "error_description": "User cancelled",
                                    "state": params["state"]})
    status, _, page = http(gateway, "GET", f"/dashboard/oidc/callback?{query}", headers={"cookie": cookie})
    assert status == 401 and b"User cancelled" in page
    assert not upstream.hits("/idp/token")


def test_single_sign_on_without_an_admin_key(make_gateway: Any, upstream: Upstream, idp: str) -> None:
    """Sessions are then signed with a key derived from the client secret; the admin key form is gone."""
    gateway = make_gateway(admin_key=None, dashboard={"oidc": oidc_settings(idp)})
    status, _, page = http(gateway, "GET", "/dashboard/login")
    assert status == 200 and b'id="sso"' in page and b"Sign in with single sign-on" in page
    assert b'name="key"' not in page
    status, _, page = http(gateway, "POST", "/dashboard/login", b"key=anything",
                           {"content-type": "application/x-www-form-urlencoded"})
    assert status == 403 and b"not enabled" in page
    cookie, params = start(gateway)
    status, headers, _ = finish(gateway, upstream, cookie, params, signed(claims(idp, params["nonce"])))
    assert status == 200
    session = next(c for c in headers.get_all("set-cookie") if c.startswith("sp_session=")).split(";")[0]
    assert http(gateway, "GET", "/dashboard/api/keys", headers={"cookie": session})[0] == 200
    assert http(gateway, "GET", "/api/v1/keys", headers={"authorization": "Bearer anything"})[0] == 403
