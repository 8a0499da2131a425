"""Dashboard sessions. Whoever signs in (the admin key typed into the login form, or a user back from
single sign-on) gets a signed, HTTP-only, SameSite=Strict, Secure cookie naming their principal (kind,
name, role, team) and its expiry. The signing key is the same on every replica (server/auth/
credentials.py), so any replica accepts the cookie; logout marks the session revoked in the shared
state for the rest of its lifetime.

Every state-changing request made with the cookie must also carry the session's CSRF token (the
`x-csrf-token` header, or a `csrf` form field): an HMAC of the session's nonce, so it needs no
storage and a page of another site cannot know it. Failed admin-key logins are counted per client
address in the shared state: past `server.login_failures` in `server.login_window` seconds every
attempt from that address is refused (429), so the form cannot be used to guess the key (it once
took 7,337 wrong tries a second)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs

import orjson

from ...config.roles import ROLES
from ...state import Window
from ..http import Request
from ..services import Services
from .principal import Principal

COOKIE = "sp_session"
CSRF_HEADER = b"x-csrf-token"
_PURPOSE = b"session\x00"


@dataclass(frozen=True, slots=True)
class Session:
    nonce: str
    expires: int
    principal: Principal


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def sign(key: bytes, purpose: bytes, data: dict[str, Any]) -> str:
    """`data` as JSON with an HMAC-SHA256 over it and its purpose (a state cookie is no session)."""
    payload = orjson.dumps(data)
    return f"{b64(payload)}.{b64(hmac.new(key, purpose + payload, hashlib.sha256).digest())}"


def unsign(key: bytes, purpose: bytes, token: str, now: float | None = None) -> dict[str, Any] | None:
    """What `sign` signed, or None when forged, malformed or past its `exp`."""
    body, _, signature = token.partition(".")
    try:
        payload, given = _unb64(body), _unb64(signature)
    except ValueError:
        return None
    if not hmac.compare_digest(hmac.new(key, purpose + payload, hashlib.sha256).digest(), given):
        return None
    data = orjson.loads(payload)
    if not isinstance(data, dict) or not isinstance(data.get("exp"), int) or data["exp"] <= (now or time.time()):
        return None
    return data


def issue(key: bytes, principal: Principal, lifetime: float, now: float | None = None) -> str:
    return sign(key, _PURPOSE, {"exp": int((now or time.time()) + lifetime), "n": secrets.token_urlsafe(16),
                                "k": principal.kind, "s": principal.name, "r": principal.role,
                                "t": principal.team, "e": principal.email})


def verify(key: bytes, token: str, now: float | None = None) -> Session | None:
    """The session a cookie value stands for, or None if it is forged, malformed or expired."""
    data = unsign(key, _PURPOSE, token, now)
    if data is None or data.get("r") not in ROLES or data.get("k") not in ("admin-key", "management-key", "sso"):
        return None
    principal = Principal(kind=data["k"], name=data["s"], role=data["r"], team=data.get("t"), email=data.get("e"),
                          via="session")
    return Session(nonce=data["n"], expires=data["exp"], principal=principal)


def csrf_token(key: bytes, session: Session) -> str:
    return b64(hmac.new(key, b"csrf\x00" + session.nonce.encode(), hashlib.sha256).digest())


def csrf_ok(key: bytes, session: Session, given: str | None) -> bool:
    return given is not None and hmac.compare_digest(csrf_token(key, session).encode(), given.encode())


def cookie_value(request: Request, name: str = COOKIE) -> str | None:
    header = request.header(b"cookie")
    if not header:
        return None
    for part in header.split(";"):
        key, _, value = part.strip().partition("=")
        if key == name:
            return value
    return None


def set_cookie(token: str, lifetime: float) -> tuple[bytes, bytes]:
    return (b"set-cookie", f"{COOKIE}={token}; Path=/dashboard; Max-Age={int(lifetime)}; HttpOnly; Secure; "
                           "SameSite=Strict".encode())


def clear_cookie() -> tuple[bytes, bytes]:
    return (b"set-cookie", f"{COOKIE}=; Path=/dashboard; Max-Age=0; HttpOnly; Secure; SameSite=Strict".encode())


def _revocation(session: Session) -> str:
    return f"dashboard-session-revoked:{session.nonce}"


async def current(services: Services, request: Request) -> Session | None:
    key = services.credentials.session_key
    token = cookie_value(request)
    if key is None or token is None:
        return None
    session = verify(key, token)
    if session is None or await services.state.spent(_revocation(session)) is not None:
        return None
    return session


async def revoke(services: Services, session: Session) -> None:
    await services.state.seed(_revocation(session), 1, ttl=max(1.0, session.expires - time.time()))


def same_origin(request: Request) -> bool:
    origin = request.header(b"origin")
    if origin is None:
        return True  # not sent by a browser for this request; the SameSite cookie still applies
    host = request.header(b"host") or ""
    return origin.partition("://")[2] == host


async def login_refused(services: Services, request: Request, *, failed: bool) -> float | None:
    """Count a failed login against the client's address. Seconds to wait when that address has used
    up its failures, whatever this attempt was (a right key is refused too, or the answer would tell
    which guess was right); None to go on. One atomic hit, so concurrent guesses cannot overrun it."""
    server = services.config.server
    client = request.scope.get("client")
    address = client[0] if client else "unknown"
    window = Window(f"dashboard-login-failures:{address}", server.login_failures, server.login_window,
                    1 if failed else 0)
    check = await services.state.hit([window], time.time())
    return None if check.admitted else check.reset[0]


def form_field(body: bytes, name: str) -> str:
    form = parse_qs(body.decode("utf-8", "replace"))
    return (form.get(name) or [""])[-1].strip()


def login_key(body: bytes) -> str:
    return form_field(body, "key")
