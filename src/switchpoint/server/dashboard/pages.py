"""The dashboard's HTML pages, login and logout, and its static files (served from the package)."""

from __future__ import annotations

import html
import math
from functools import cache
from importlib import resources

from ..auth import session
from ..auth.principal import ADMIN_KEY
from ..http import Request, Response, Send
from ..services import Services

STATIC_FILES = {
    "chart.umd.min.js": b"text/javascript; charset=utf-8",
    "dashboard.js": b"text/javascript; charset=utf-8",
    "dashboard.css": b"text/css; charset=utf-8",
}
SECURITY_HEADERS = [
    (b"content-security-policy", b"default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
                                 b"frame-ancestors 'none'; form-action 'self'; base-uri 'none'"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
    (b"x-frame-options", b"DENY"),
    (b"cache-control", b"no-store"),
]
HTML = b"text/html; charset=utf-8"


@cache
def static(name: str) -> bytes:
    return resources.files("switchpoint.server").joinpath("static", name).read_bytes()


def page(body: bytes, status: int = 200, extra: list[tuple[bytes, bytes]] | None = None) -> Response:
    return Response(body, status, [*SECURITY_HEADERS, *(extra or ())], content_type=HTML)


def redirect(location: str, extra: list[tuple[bytes, bytes]] | None = None) -> Response:
    return Response(b"", 303, [(b"location", location.encode()), *SECURITY_HEADERS, *(extra or ())],
                    content_type=HTML)


def login_html(services: Services, error: str | None = None) -> bytes:
    """The sign-in page: a single sign-on button when `dashboard.oidc` is set, the admin key form when
    an admin key is, and why nobody can sign in when neither is."""
    credentials = services.credentials
    oidc = services.config.dashboard.oidc
    message = error
    if message is None and oidc is None and not credentials.admin_key_login:
        message = ("No admin key is configured: set admin_key in switchpoint.yaml or SWITCHPOINT_ADMIN_KEY "
                   "(or dashboard.oidc for single sign-on), then restart.")
    notice = f'<p class="login-error" role="alert">{html.escape(message)}</p>' if message else ""
    body = static("login.html").replace(b"<!--notice-->", notice.encode())
    if oidc is not None:
        button = (f'<a class="button primary sso" id="sso" href="/dashboard/oidc/login">Sign in with '
                  f'{html.escape(oidc.display_name)}</a>')
        body = body.replace(b"<!--sso-->", button.encode())
    if not credentials.admin_key_login:
        head, _, rest = body.partition(b"<!--keyform-->")
        body = head + rest.partition(b"<!--/keyform-->")[2]
    return body


def dashboard_html(key: bytes, current: session.Session) -> bytes:
    """The dashboard page, carrying the session's CSRF token and who is signed in (for the page's
    script: what to show, which controls to offer)."""
    principal = current.principal
    meta = "".join(f'<meta name="sp-{name}" content="{html.escape(value or "")}">' for name, value in (
        ("csrf", session.csrf_token(key, current)), ("user", principal.name), ("role", principal.role),
        ("team", principal.team), ("kind", principal.kind)))
    return (static("dashboard.html").replace(b"<!--principal-->", meta.encode())
            .replace(b"__CSRF__", session.csrf_token(key, current).encode()))


async def dashboard(services: Services, request: Request, send: Send) -> Response:
    current = await session.current(services, request)
    key = services.credentials.session_key
    if current is None or key is None:
        return redirect("/dashboard/login")
    request.principal = current.principal
    return page(dashboard_html(key, current))


async def login_form(services: Services, request: Request, send: Send) -> Response:
    if await session.current(services, request) is not None:
        return redirect("/dashboard")
    return page(login_html(services))


async def login(services: Services, request: Request, send: Send) -> Response:
    """The admin key typed into the form."""
    key = services.credentials.session_key
    if not services.credentials.admin_key_login or key is None:
        return page(login_html(services, "Signing in with the admin key is not enabled: no admin_key is set."), 403)
    if not session.same_origin(request):
        return page(login_html(services, "This form must be sent from the dashboard itself."), 403)
    typed = session.login_key(await request.body(4096))
    right = bool(typed) and services.keys.is_admin(f"Bearer {typed}")
    wait = await session.login_refused(services, request, failed=not right)
    if wait is not None:
        seconds = max(1, math.ceil(wait))
        return page(login_html(services, f"Too many failed attempts from your address: try again in {seconds} "
                                         "seconds."), 429, [(b"retry-after", str(seconds).encode())])
    if not right:
        return page(login_html(services, "That is not the admin key."), 401)
    principal = ADMIN_KEY
    request.principal = principal
    lifetime = services.config.dashboard.session_lifetime
    return redirect("/dashboard", [session.set_cookie(session.issue(key, principal, lifetime), lifetime)])


async def logout(services: Services, request: Request, send: Send) -> Response:
    """Ends the session; needs the session's CSRF token (the form carries it), so another site cannot
    sign a user out."""
    current = await session.current(services, request)
    key = services.credentials.session_key
    if current is not None and key is not None:
        request.principal = current.principal
        given = request.header(session.CSRF_HEADER) or session.form_field(await request.body(4096), "csrf")
        if not session.same_origin(request) or not session.csrf_ok(key, current, given):
            return page(b"<!doctype html><title>Switchpoint</title><p>Log out refused: the request did not come "
                        b"from the dashboard. <a href=\"/dashboard\">Back to the dashboard</a></p>", 403)
        await session.revoke(services, current)
    return redirect("/dashboard/login", [session.clear_cookie()])


def static_handler(name: str):  # noqa: ANN201 - returns a handler bound to one file
    content_type = STATIC_FILES[name]

    async def serve(services: Services, request: Request, send: Send) -> Response:
        return Response(static(name), 200, [(b"cache-control", b"public, max-age=3600"),
                                            (b"x-content-type-options", b"nosniff")], content_type=content_type)

    return serve
