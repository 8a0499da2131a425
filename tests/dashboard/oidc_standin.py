"""A stand-in OpenID provider on the upstream stand-in (tests/upstream.py) whose ID tokens the tests
sign themselves, so they can sign users in with any claims, or with a broken token, through the
gateway's real callback. (The certified provider, in a browser, is in test_sso_browser.py.)"""

from __future__ import annotations

import time
import urllib.parse
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa

from ..upstream import Reply, Upstream
from .helpers import http

CLIENT_ID, SECRET = "gw-client", "client-secret-" + "ab12" * 8
KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
OTHER = rsa.generate_private_key(public_exponent=65537, key_size=2048)


def jwk(private: Any, kid: str) -> dict[str, Any]:
    return {**jwt.algorithms.RSAAlgorithm.to_jwk(private.public_key(), as_dict=True), "kid": kid, "use": "sig",
            "alg": "RS256"}


def serve_idp(upstream: Upstream) -> str:
    """Discovery and JWKS under {upstream}/idp; returns the issuer."""
    issuer = f"{upstream.url}/idp"
    upstream.always("/idp/.well-known/openid-configuration", Reply.json({
        "issuer": issuer, "authorization_endpoint": f"{issuer}/auth", "token_endpoint": f"{issuer}/token",
        "jwks_uri": f"{issuer}/jwks", "id_token_signing_alg_values_supported": ["RS256", "HS256", "none"],
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"]}))
    upstream.always("/idp/jwks", Reply.json({"keys": [jwk(KEY, "k1")]}))
    return issuer


def oidc_settings(issuer: str, **overrides: Any) -> dict[str, Any]:
    return {"issuer": issuer, "client_id": CLIENT_ID, "client_secret": SECRET,
            "redirect_url": "https://gw.example.com/dashboard/oidc/callback", "allowed_domains": ["example.com"],
            "role_map": {"ops": "admin", "readers": "viewer", "leads": "team-admin"}, "team_claim": "team",
            **overrides}


def start(gateway: Any) -> tuple[str, dict[str, str]]:
    """Begin a sign-in: the state cookie, and the authorization request's parameters."""
    status, headers, _ = http(gateway, "GET", "/dashboard/oidc/login")
    assert status == 303, status
    cookie = headers["set-cookie"]
    assert "HttpOnly" in cookie and "Secure" in cookie and "SameSite=Lax" in cookie and "Path=/dashboard/oidc" in cookie
    location = urllib.parse.urlsplit(headers["location"])
    return cookie.split(";")[0], dict(urllib.parse.parse_qsl(location.query))


def claims(issuer: str, nonce: str, **changes: Any) -> dict[str, Any]:
    now = int(time.time())
    base = {"iss": issuer, "aud": CLIENT_ID, "sub": "u-1", "iat": now, "exp": now + 300, "nonce": nonce,
            "email": "ana@example.com", "email_verified": True, "groups": ["ops"]}
    return {k: v for k, v in {**base, **changes}.items() if v is not None}


def signed(payload: dict[str, Any], key: Any = KEY, kid: str = "k1", algorithm: str = "RS256") -> str:
    return jwt.encode(payload, key, algorithm=algorithm, headers={"kid": kid})


def finish(gateway: Any, upstream: Upstream, cookie: str, params: dict[str, str], id_token: str,
           state: str | None = None) -> tuple[int, Any, bytes]:
    upstream.queue("/idp/token", Reply.json({"access_token": "at", "token_type": "Bearer", "id_token": id_token}))
    query = urllib.parse.urlencode({"code": "the-code", "state": state or params["state"]})
    return http(gateway, "GET", f"/dashboard/oidc/callback?{query}", headers={"cookie": cookie})


def sso_session(gateway: Any, upstream: Upstream, issuer: str, **user: Any) -> str:
    """Sign a user with these claims in through the real callback; returns the session's Cookie value."""
    cookie, params = start(gateway)
    status, headers, page = finish(gateway, upstream, cookie, params, signed(claims(issuer, params["nonce"], **user)))
    assert status == 200, page
    return next(c for c in headers.get_all("set-cookie") if c.startswith("sp_session=")).split(";")[0]
