"""Who may use the dashboard and the admin API: single sign-on (`dashboard.oidc`), the dashboard's
session settings, and management keys (`management_keys`), each with a role.

Roles: `admin` (everything), `viewer` (every read, no change) and `team-admin` (the keys and usage of
one team). They are checked in server/auth/; this module only validates the settings."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator, model_validator

from .base import Strict, parse_duration

Role = Literal["admin", "viewer", "team-admin"]
ROLES: tuple[Role, ...] = ("admin", "team-admin", "viewer")  # precedence when several groups map to roles
MIN_SECRET = 32


class OidcConfig(Strict):
    """OpenID Connect sign-in (authorization code flow with PKCE) against any standard provider."""

    issuer: str = Field(description="the provider's issuer URL; its /.well-known/openid-configuration is read")
    client_id: str = Field(min_length=1, description="the client registered at the provider")
    client_secret: str | None = Field(None, description="the client's secret (a confidential client); ${VAR}")
    redirect_url: str = Field(description="this gateway's callback as the browser reaches it, ending in "
                                          "/dashboard/oidc/callback; registered at the provider")
    scopes: list[str] = Field(default_factory=lambda: ["openid", "email", "profile"],
                              description="scopes asked for; add what carries the groups (e.g. groups)")
    display_name: str = Field("single sign-on", description="shown on the login button: 'Sign in with ...'")
    allowed_domains: list[str] = Field(min_length=1, description="email domains let in ('*' for any); others "
                                                                 "are refused")
    roles_claim: str | None = Field("groups", description="claim (dotted path for nested ones) whose values "
                                                          "role_map maps to roles")
    role_map: dict[str, Role] = Field(default_factory=dict, description="claim value -> admin | viewer | "
                                                                        "team-admin")
    default_role: Role | None = Field(None, description="role of a user no role_map entry matches; "
                                                        "null: refused")
    team_claim: str | None = Field(None, description="claim holding a team-admin's team")

    @field_validator("issuer", "redirect_url")
    @classmethod
    def _url(cls, value: str) -> str:
        if not value.startswith(("https://", "http://")):
            raise ValueError("must be an http(s) URL")
        return value  # kept as written: the ID token's `iss` must equal the issuer exactly

    @field_validator("redirect_url")
    @classmethod
    def _callback(cls, value: str) -> str:
        if not value.endswith("/dashboard/oidc/callback"):
            raise ValueError("must end in /dashboard/oidc/callback (the gateway's callback route)")
        return value

    @field_validator("allowed_domains")
    @classmethod
    def _domains(cls, value: list[str]) -> list[str]:
        return [domain.strip().lower().lstrip("@") for domain in value]

    @field_validator("scopes")
    @classmethod
    def _openid(cls, value: list[str]) -> list[str]:
        if "openid" not in value:
            raise ValueError("must include 'openid'")
        return value

    @model_validator(mode="after")
    def _team(self) -> OidcConfig:
        maps_team_admin = "team-admin" in self.role_map.values() or self.default_role == "team-admin"
        if maps_team_admin and not self.team_claim:
            raise ValueError("team_claim: required when a role maps to team-admin (it names the user's team)")
        return self


class DashboardConfig(Strict):
    """The dashboard's sign-in: sessions, and single sign-on when `oidc` is set."""

    oidc: OidcConfig | None = None
    session_secret: str | None = Field(None, min_length=MIN_SECRET, description="signs session cookies (the "
                                       "same on every replica); default: derived from admin_key, else from "
                                       "oidc.client_secret")
    session_lifetime: float = Field(12 * 3600.0, gt=60, le=30 * 86400, description="seconds (or '8h') a session "
                                                                                  "lasts")

    @field_validator("session_lifetime", mode="before")
    @classmethod
    def _duration(cls, value: object) -> float:
        return parse_duration(value)


class ManagementKeyConfig(Strict):
    """A key for the admin API (`/api/v1/keys`) and the dashboard's JSON API, with a role. One with a
    `team` is a team-admin of that team."""

    name: str = Field(min_length=1, max_length=200, description="the key's name (unique), as the audit log shows it")
    key: str = Field(min_length=MIN_SECRET, description="the key itself (usually ${VAR})")
    role: Role | None = Field(None, description="default: team-admin with a team, else admin")
    team: str | None = Field(None, min_length=1, description="makes it the team-admin of this team")

    @model_validator(mode="after")
    def _role(self) -> ManagementKeyConfig:
        if self.team is not None and self.role not in (None, "team-admin"):
            raise ValueError(f"team: a {self.role} key sees every team; drop team, or use role team-admin")
        if self.role == "team-admin" and self.team is None:
            raise ValueError("team: required for role team-admin")
        return self

    @property
    def effective_role(self) -> Role:
        return self.role or ("team-admin" if self.team else "admin")


def access_problems(dashboard: DashboardConfig, management_keys: list[ManagementKeyConfig],
                    admin_key: str | None) -> list[str]:
    """Checks across these settings and `admin_key`, as "path: message" lines."""
    problems = []
    oidc = dashboard.oidc
    if oidc is not None and not (dashboard.session_secret or admin_key or oidc.client_secret):
        problems.append("dashboard.session_secret: required to sign sessions when there is neither an admin_key "
                        "nor an oidc.client_secret")
    seen: set[str] = set()
    for i, key in enumerate(management_keys):
        if key.name in seen:
            problems.append(f"management_keys[{i}].name: duplicate name '{key.name}'")
        seen.add(key.name)
        if admin_key is not None and key.key == admin_key:
            problems.append(f"management_keys[{i}].key: the same as admin_key; give each its own key")
    return problems
