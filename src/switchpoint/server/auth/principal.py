"""The authenticated caller of a dashboard or admin request, as one small value: what kind of
credential it used, who it is, its role and, for a team-admin, its team. Handlers read it to scope
what they show; the audit log records it as the actor (`Principal.actor`).

What each role may do is `allows`: a pure table, tested route by route in
tests/dashboard/test_roles.py."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Literal

from ...config.roles import Role

Kind = Literal["admin-key", "management-key", "sso"]
Via = Literal["bearer", "session"]


class Action(Enum):
    """What a route does, as far as roles care."""

    READ = "read"                # read data a team-admin sees for its own team (keys, usage)
    READ_GLOBAL = "read-global"  # read data across every team (endpoint health and spend)
    WRITE = "write"              # change keys (a team-admin: its own team's)
    ADMIN = "admin"              # change what only an admin may (teams, settings)


_ALLOWED: dict[Role, frozenset[Action]] = {
    "admin": frozenset(Action),
    "viewer": frozenset({Action.READ, Action.READ_GLOBAL}),
    "team-admin": frozenset({Action.READ, Action.WRITE}),
}


def allows(role: Role, action: Action) -> bool:
    return action in _ALLOWED[role]


@dataclass(frozen=True, slots=True)
class Principal:
    kind: Kind
    name: str                   # "admin", the management key's name, or the signed-in user's email
    role: Role
    team: str | None = None     # a team-admin's team
    email: str | None = None    # single sign-on users
    via: Via = "bearer"         # how this request proved it: a bearer key, or a dashboard session cookie

    @property
    def team_scope(self) -> str | None:
        """The one team whose keys and usage this caller is limited to; None: every team."""
        return self.team if self.role == "team-admin" else None

    def may(self, action: Action) -> bool:
        return allows(self.role, action)

    def actor(self) -> dict[str, str | None]:
        """What an audit record says about who acted."""
        return {"kind": self.kind, "name": self.name, "email": self.email, "role": self.role, "team": self.team,
                "via": self.via}

    @property
    def label(self) -> str:
        """Who acted, in one line: `admin-key`, `management-key grafana`, `dashboard (ana@example.com)`."""
        who = {"admin-key": "admin-key", "management-key": f"management-key {self.name}"}.get(self.kind, self.name)
        return f"dashboard ({who})" if self.via == "session" else who


ADMIN_KEY = Principal(kind="admin-key", name="admin", role="admin")
