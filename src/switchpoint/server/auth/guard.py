"""The one check in front of every dashboard and admin API handler: who is calling (a bearer admin or
management key, or a dashboard session cookie), whether their role allows what the route does, and
for a cookie session's state change, the CSRF token and same-origin check. The principal is left on
the request (`request.principal`) for the handler and the audit log."""

from __future__ import annotations

from ...errors import AuthenticationError, ForbiddenError
from ..http import Request
from ..services import Services
from . import session
from .principal import Action, Principal

SAFE_METHODS = frozenset({"GET", "HEAD"})
NOT_CONFIGURED = ("No admin key is configured: set admin_key in switchpoint.yaml or SWITCHPOINT_ADMIN_KEY "
                  "(or dashboard.oidc for single sign-on)")
_VERBS = {Action.READ: "read this", Action.READ_GLOBAL: "read data across every team",
          Action.WRITE: "change keys", Action.ADMIN: "change this (admins only)"}


async def dashboard(services: Services, request: Request, action: Action) -> Principal:
    """A dashboard JSON request: a bearer admin or management key, or a session cookie (then a state
    change needs the session's CSRF token and the dashboard's own origin)."""
    credentials = services.credentials
    if not credentials.configured:
        raise ForbiddenError(NOT_CONFIGURED)
    principal = credentials.bearer(request.header(b"authorization"))
    if principal is None:
        current = await session.current(services, request)
        if current is None:
            raise AuthenticationError("Log in to the dashboard first")
        if request.method not in SAFE_METHODS:
            check_csrf(services, request, current, request.header(session.CSRF_HEADER))
        principal = current.principal
    return permit(request, principal, action)


def check_csrf(services: Services, request: Request, current: session.Session, given: str | None) -> None:
    if not session.same_origin(request):
        raise ForbiddenError("Cross-origin request refused")
    key = services.credentials.session_key
    if key is None or not session.csrf_ok(key, current, given):
        raise ForbiddenError("CSRF token missing or wrong: reload the dashboard and try again",
                             metadata={"reason": "csrf"})


def admin_api(services: Services, request: Request, action: Action) -> Principal:
    """An admin API request (/api/v1/keys...): a bearer admin or management key; API keys are refused."""
    authorization = request.header(b"authorization")
    if not authorization:
        raise AuthenticationError("No auth credentials found")
    if not services.credentials.configured:
        raise ForbiddenError(NOT_CONFIGURED)
    principal = services.credentials.bearer(authorization)
    if principal is None:
        raise ForbiddenError("Only management keys can perform this operation")
    return permit(request, principal, action)


def permit(request: Request, principal: Principal, action: Action) -> Principal:
    request.principal = principal
    if not principal.may(action):
        raise ForbiddenError(f"Your role ({principal.role}) may not {_VERBS[action]}",
                             metadata={"role": principal.role})
    return principal
