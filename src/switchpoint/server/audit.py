"""`GET /api/v1/audit` (management key only) and the dashboard's Audit view: the audit log, newest
first. Pages by `limit` and `offset`, or by cursor: `before` (an entry's id) lists the entries older
than it, so a page stays stable while new entries arrive; each answer names the next cursor."""

from __future__ import annotations

from typing import Any

from ..accounting.audit import public
from ..errors import BadRequestError
from .admin import require_admin
from .auth.principal import Action
from .http import Request, Response, Send, json_response
from .services import Services

MAX_PAGE = 500


async def audit_page(services: Services, query: dict[str, str]) -> dict[str, Any]:
    """One page of the audit log from the query's `limit` (1-500, default 100), `offset` and `before`."""
    numbers: dict[str, int] = {}
    for name, default in (("limit", "100"), ("offset", "0"), ("before", "")):
        value = query.get(name) or default
        if value and not value.isdigit():
            raise BadRequestError(f"{name}: must be a non-negative integer", metadata={"param": name})
        if value:
            numbers[name] = int(value)
    if not 0 < numbers["limit"] <= MAX_PAGE:
        raise BadRequestError(f"limit: a number from 1 to {MAX_PAGE}", metadata={"param": "limit"})
    rows = await services.store.audit_entries(limit=numbers["limit"], offset=numbers["offset"],
                                              before_id=numbers.get("before"))
    data = [public(row) for row in rows]
    return {"data": data, "next_before": data[-1]["id"] if len(data) == numbers["limit"] else None}


async def audit_log(services: Services, request: Request, send: Send) -> Response:
    require_admin(services, request, Action.READ_GLOBAL)
    return json_response(await audit_page(services, request.query))
