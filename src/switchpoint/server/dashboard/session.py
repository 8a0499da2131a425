"""Dashboard sessions: the admin key is typed once into a login form; the browser then holds a signed,
HTTP-only, SameSite=Strict, Secure cookie. The signing secret is derived from the admin key, so every
replica accepts the same cookie and rotating the admin key ends every session. Logout marks the
session revoked in the shared state for the rest of its lifetime. Failed logins are counted per client
address in the shared state too: past `server.login_failures` in `server.login_window` seconds every
attempt from that address is refused (429), so the form cannot be used to guess the key (it once
took 7,337 wrong tries a second)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass
from urllib.parse import parse_qs

import orjson

from ...errors import AuthenticationError, ForbiddenError
from ...state import Window
from ..http import Request
from ..services import Services

COOKIE = "sp_session"
LIFETIME = 12 * 3600
_CONTEXT = b"switchpoint dashboard session v1"


@dataclass(frozen=True, slots=True)
class Session:
    nonce: str
    expires: int

    @property
    def actor(self) -> str:
        """Who acts in this session, as the audit log names them."""
        return SESSION_ACTOR


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _secret(admin_key: str) -> bytes:
    return hmac.new(admin_key.encode(), _CONTEXT, hashlib.sha256).digest()


def issue(admin_key: str, now: float | None = None) -> str:
    payload = orjson.dumps({"exp": int((now or time.time()) + LIFETIME), "n": secrets.token_urlsafe(16)})
    signature = hmac.new(_secret(admin_key), payload, hashlib.sha256).digest()
    return f"{_b64(payload)}.{_b64(signature)}"


def verify(admin_key: str, token: str, now: float | None = None) -> Session | None:
    """The session a cookie value stands for, or None if it is forged, malformed or expired."""
    body, _, signature = token.partition(".")
    try:
        payload, given = _unb64(body), _unb64(signature)
    except ValueError:
        return None
    expected = hmac.new(_secret(admin_key), payload, hashlib.sha256).digest()
    if not hmac.compare_digest(expected, given):
        return None
    data = orjson.loads(payload)
    if data["exp"] <= (now or time.time()):
        return None
    return Session(nonce=data["n"], expires=data["exp"])


def cookie_value(request: Request) -> str | None:
    header = request.header(b"cookie")
    if not header:
        return None
    for part in header.split(";"):
        name, _, value = part.strip().partition("=")
        if name == COOKIE:
            return value
    return None


def set_cookie(token: str) -> tuple[bytes, bytes]:
    return (b"set-cookie", f"{COOKIE}={token}; Path=/dashboard; Max-Age={LIFETIME}; HttpOnly; Secure; "
                           "SameSite=Strict".encode())


def clear_cookie() -> tuple[bytes, bytes]:
    return (b"set-cookie", f"{COOKIE}=; Path=/dashboard; Max-Age=0; HttpOnly; Secure; SameSite=Strict".encode())


def _revocation(session: Session) -> str:
    return f"dashboard-session-revoked:{session.nonce}"


async def current(services: Services, request: Request) -> Session | None:
    admin_key = services.config.admin_key
    token = cookie_value(request)
    if admin_key is None or token is None:
        return None
    session = verify(admin_key, token)
    if session is None or await services.state.spent(_revocation(session)) is not None:
        return None
    return session


async def revoke(services: Services, session: Session) -> None:
    await services.state.seed(_revocation(session), 1, ttl=max(1.0, session.expires - time.time()))


ADMIN_ACTOR = "admin-key"
SESSION_ACTOR = "dashboard (admin-key)"  # a session opened with the admin key; the audit log's actor


async def require(services: Services, request: Request) -> str:
    """A dashboard session or the admin key as a bearer token; state-changing requests must also come
    from the dashboard's own origin. Returns the actor the audit log names for the caller."""
    if services.config.admin_key is None:
        raise ForbiddenError("No admin key is configured: set admin_key in switchpoint.yaml or SWITCHPOINT_ADMIN_KEY")
    if services.keys.is_admin(request.header(b"authorization")):
        return ADMIN_ACTOR
    found = await current(services, request)
    if found is None:
        raise AuthenticationError("Log in to the dashboard first")
    if request.method != "GET" and not same_origin(request):
        raise ForbiddenError("Cross-origin request refused")
    return found.actor


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


def login_key(body: bytes) -> str:
    form = parse_qs(body.decode("utf-8", "replace"))
    return (form.get("key") or [""])[-1].strip()
