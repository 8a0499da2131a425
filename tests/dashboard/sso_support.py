"""A local OpenID provider for the single sign-on tests: oidc-provider (npm, pinned in
tests/dashboard/idp) run by node on a loopback port, with one client and a few users. The IdP is
`http://localhost:PORT` and the gateway `http://127.0.0.1:PORT`: two sites, as in production, so the
browser applies its cross-site cookie rules on the way back from the IdP."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

IDP_DIR = Path(__file__).resolve().parent / "idp"
CLIENT_ID = "switchpoint-dashboard"
CLIENT_SECRET = "idp-client-secret-" + "9c1e" * 8
USERS = {
    "alice": {"email": "alice@example.com", "groups": ["switchpoint-admins", "staff"]},
    "victor": {"email": "victor@example.com", "groups": ["switchpoint-viewers"]},
    "tara": {"email": "tara@example.com", "groups": ["team-leads"], "team": "search"},
    "nobody": {"email": "nobody@example.com", "groups": ["staff"]},
    "mallory": {"email": "mallory@evil.test", "groups": ["switchpoint-admins"]},
}


def oidc_config(idp_port: int, gateway_port: int, **overrides: Any) -> dict[str, Any]:
    return {
        "issuer": f"http://localhost:{idp_port}", "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET,
        "redirect_url": f"http://127.0.0.1:{gateway_port}/dashboard/oidc/callback",
        "scopes": ["openid", "email", "profile", "groups", "team"], "display_name": "Example SSO",
        "allowed_domains": ["example.com"], "roles_claim": "groups",
        "role_map": {"switchpoint-admins": "admin", "switchpoint-viewers": "viewer", "team-leads": "team-admin"},
        "team_claim": "team", **overrides,
    }


def node_ready() -> str:
    """node, with oidc-provider installed from the lockfile (`npm ci`) when node_modules is missing."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        pytest.fail("node and npm are needed for the single sign-on tests (Debian: nodejs, npm)")
    if not (IDP_DIR / "node_modules" / "oidc-provider").is_dir():
        done = subprocess.run([npm, "ci", "--no-audit", "--no-fund", "--ignore-scripts"], cwd=IDP_DIR,
                              capture_output=True, text=True, timeout=300,
                              env={**os.environ, "npm_config_update_notifier": "false"})
        if done.returncode != 0:
            pytest.fail(f"npm ci in {IDP_DIR} failed:\n{done.stdout}{done.stderr}")
    return node


class IdentityProvider:
    def __init__(self, port: int) -> None:
        self.port = port
        self.process: subprocess.Popen[str] | None = None

    @property
    def issuer(self) -> str:
        return f"http://localhost:{self.port}"

    def start(self, redirect_url: str) -> IdentityProvider:
        plan = {"port": self.port, "users": USERS,
                "client": {"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET, "redirect_uris": [redirect_url]}}
        self.process = subprocess.Popen([node_ready(), "idp.mjs", json.dumps(plan)], cwd=IDP_DIR, text=True,
                                        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        assert line.startswith("READY"), f"the identity provider did not start: {line!r}"
        return self

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(10)
