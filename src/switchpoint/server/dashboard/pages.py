"""The dashboard's HTML pages, login and logout, and its static files (served from the package)."""

from __future__ import annotations

import html
import math
from functools import cache
from importlib import resources

from ..http import Request, Response, Send
from ..services import Services
from . import session

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


def login_html(error: str | None = None, configured: bool = True) -> bytes:
    message = error or ("" if configured else "No admin key is configured: set admin_key in switchpoint.yaml "
                                              "or SWITCHPOINT_ADMIN_KEY, then restart.")
    notice = f'<p class="login-error" role="alert">{html.escape(message)}</p>' if message else ""
    return static("login.html").replace(b"<!--notice-->", notice.encode())


async def dashboard(services: Services, request: Request, send: Send) -> Response:
    if await session.current(services, request) is None:
        return redirect("/dashboard/login")
    return page(static("dashboard.html"))


async def login_form(services: Services, request: Request, send: Send) -> Response:
    if await session.current(services, request) is not None:
        return redirect("/dashboard")
    return page(login_html(configured=services.config.admin_key is not None))


async def login(services: Services, request: Request, send: Send) -> Response:
    admin_key = services.config.admin_key
    if admin_key is None:
        return page(login_html(configured=False), 403)
    if not session.same_origin(request):
        return page(login_html("This form must be sent from the dashboard itself."), 403)
    key = session.login_key(await request.body(4096))
    right = bool(key) and services.keys.is_admin(f"Bearer {key}")
    wait = await session.login_refused(services, request, failed=not right)
    if wait is not None:
        seconds = max(1, math.ceil(wait))
        return page(login_html(f"Too many failed attempts from your address: try again in {seconds} seconds."),
                    429, [(b"retry-after", str(seconds).encode())])
    if not right:
        return page(login_html("That is not the admin key."), 401)
    return redirect("/dashboard", [session.set_cookie(session.issue(admin_key))])


async def logout(services: Services, request: Request, send: Send) -> Response:
    current = await session.current(services, request)
    if current is not None and session.same_origin(request):
        await session.revoke(services, current)
    return redirect("/dashboard/login", [session.clear_cookie()])


def static_handler(name: str):  # noqa: ANN201 - returns a handler bound to one file
    content_type = STATIC_FILES[name]

    async def serve(services: Services, request: Request, send: Send) -> Response:
        return Response(static(name), 200, [(b"cache-control", b"public, max-age=3600"),
                                            (b"x-content-type-options", b"nosniff")], content_type=content_type)

    return serve
