"""Single sign-on routes: /dashboard/oidc/login sends the browser to the identity provider, and
/dashboard/oidc/callback brings it back signed in (server/auth/oidc.py does the protocol).

The sign-in's state, nonce and PKCE code verifier travel in a signed cookie (`sp_oidc`, ten minutes,
HttpOnly, Secure, Path=/dashboard/oidc) rather than in server memory, so any replica can finish a
sign-in another began. That cookie is SameSite=Lax: the callback is a navigation from the provider's
site, on which a Strict cookie would not be sent. Each state is used once (marked in the shared
state). The session cookie is SameSite=Strict, so it would not be sent either on the redirect chain
that started at the provider: the callback answers with a page that moves on to /dashboard itself (a
navigation from our own origin, on which it is)."""

from __future__ import annotations

import hmac
import html
import secrets
import time

from ..auth import session
from ..auth.claims import Refused, principal_for
from ..auth.oidc import OidcError
from ..http import Request, Response, Send
from ..services import Services
from .pages import login_html, page, redirect

STATE_COOKIE = "sp_oidc"
STATE_LIFETIME = 600
_PURPOSE = b"oidc-state\x00"


def _state_cookie(value: str, max_age: int) -> tuple[bytes, bytes]:
    return (b"set-cookie", f"{STATE_COOKIE}={value}; Path=/dashboard/oidc; Max-Age={max_age}; HttpOnly; Secure; "
                           "SameSite=Lax".encode())


async def start(services: Services, request: Request, send: Send) -> Response:
    oidc, key = services.credentials.oidc, services.credentials.session_key
    if oidc is None or key is None:
        return page(login_html(services, "Single sign-on is not configured (dashboard.oidc)."), 404)
    state, nonce, verifier = secrets.token_urlsafe(24), secrets.token_urlsafe(24), secrets.token_urlsafe(48)
    try:
        url = await oidc.authorization_url(state, nonce, verifier)
    except OidcError as exc:
        return page(login_html(services, str(exc)), 502)
    cookie = session.sign(key, _PURPOSE, {"exp": int(time.time()) + STATE_LIFETIME, "s": state, "n": nonce,
                                          "v": verifier})
    return redirect(url, [_state_cookie(cookie, STATE_LIFETIME)])


async def callback(services: Services, request: Request, send: Send) -> Response:
    oidc, key = services.credentials.oidc, services.credentials.session_key
    if oidc is None or key is None:
        return page(login_html(services, "Single sign-on is not configured (dashboard.oidc)."), 404)
    clear = [_state_cookie("", 0)]
    query = request.query
    raw = session.cookie_value(request, STATE_COOKIE)
    started = session.unsign(key, _PURPOSE, raw) if raw else None
    if started is None:
        return page(login_html(services, "This sign-in expired or did not start here: sign in again."), 400, clear)
    if query.get("error"):
        reason = query.get("error_description") or query["error"]
        return page(login_html(services, f"The identity provider did not sign you in: {reason}"), 401, clear)
    if not hmac.compare_digest(query.get("state", "").encode(), str(started["s"]).encode()):
        return page(login_html(services, "This sign-in's state does not match: sign in again."), 400, clear)
    if "iss" in query and query["iss"] != oidc.config.issuer:  # RFC 9207: answered by the provider we asked
        return page(login_html(services, "The answer came from another identity provider: sign in again."), 400,
                    clear)
    used = f"dashboard-oidc-state:{started['s']}"
    if await services.state.spent(used) is not None:
        return page(login_html(services, "This sign-in was already used: sign in again."), 400, clear)
    await services.state.seed(used, 1, ttl=STATE_LIFETIME)
    code = query.get("code")
    if not code:
        return page(login_html(services, "The identity provider sent no authorization code: sign in again."), 400,
                    clear)
    try:
        claims = await oidc.sign_in(code, started["v"], started["n"])
        principal = principal_for(oidc.config, claims)
    except OidcError as exc:
        return page(login_html(services, f"Single sign-on failed: {exc}"), 502, clear)
    except Refused as exc:
        return page(login_html(services, str(exc)), 403, clear)
    request.principal = principal
    lifetime = services.config.dashboard.session_lifetime
    cookie = session.set_cookie(session.issue(key, principal, lifetime), lifetime)
    body = (f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Switchpoint · Signed in</title>'
            f'<meta http-equiv="refresh" content="0;url=/dashboard"><link rel="stylesheet" '
            f'href="/dashboard/static/dashboard.css"></head><body class="login-page"><main class="login-card">'
            f'<p>Signed in as {html.escape(principal.name)} ({principal.role}).</p>'
            f'<p><a href="/dashboard">Continue to the dashboard</a></p></main></body></html>')
    return page(body.encode(), 200, [*clear, cookie])
