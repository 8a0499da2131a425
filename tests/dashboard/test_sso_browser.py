"""Single sign-on end to end in headless Chromium against a real OpenID provider (oidc-provider):
the dashboard's button, the provider's login and consent pages, the way back, and the dashboard
showing who signed in with which role. A viewer's session cannot change anything; an account from a
domain not allowed is refused with a page saying why."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from ..conftest import free_port
from .conftest import ARTIFACTS, CHROMIUM, FLAGS
from .helpers import http
from .sso_support import IdentityProvider, oidc_config

pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="Debian chromium is not installed (scripts/system-deps.sh)")


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    sync_api = pytest.importorskip("playwright.sync_api")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_api.sync_playwright() as p:
        launched = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        yield launched
        launched.close()


@pytest.fixture(scope="module")
def provider() -> Iterator[tuple[IdentityProvider, int]]:
    """One identity provider for the module, whose client's callback is at one gateway port."""
    gateway_port = free_port()
    idp = IdentityProvider(free_port()).start(f"http://127.0.0.1:{gateway_port}/dashboard/oidc/callback")
    yield idp, gateway_port
    idp.stop()


@pytest.fixture
def sso_gateway(make_gateway: Any, provider: tuple[IdentityProvider, int]) -> Any:
    idp, port = provider
    return make_gateway(port=port, dashboard={"oidc": oidc_config(idp.port, port)})


def sign_in(browser: Any, gateway: Any, login: str) -> tuple[Any, Any]:
    """A fresh browser context through the whole flow; returns the context and its page."""
    context = browser.new_context(viewport={"width": 1440, "height": 1000})
    page = context.new_page()
    page.goto(f"{gateway.url}/dashboard")
    assert page.url.endswith("/dashboard/login")
    page.click("#sso")
    page.wait_for_selector("input[name=login]")  # the identity provider's own login page
    assert page.url.startswith("http://localhost:")
    page.fill("input[name=login]", login)
    page.fill("input[name=password]", "any password")
    page.click("button[type=submit]")
    page.wait_for_selector("text=Continue")  # its consent page
    page.click("button[type=submit]")
    return context, page


def test_sign_in_with_sso_as_admin(browser: Any, sso_gateway: Any) -> None:
    context, page = sign_in(browser, sso_gateway, "alice")
    page.wait_for_selector("body[data-loaded=overview]")
    assert page.url == f"{sso_gateway.url}/dashboard"
    assert page.inner_text("#whoami") == "alice@example.com · admin"
    cookie = next(c for c in context.cookies() if c["name"] == "sp_session")
    assert cookie["httpOnly"] and cookie["secure"] and cookie["sameSite"] == "Strict" and cookie["path"] == "/dashboard"
    assert not [c for c in context.cookies() if c["name"] == "sp_oidc"]  # the sign-in's state is cleared
    page.click("a[data-tab=keys]")
    page.wait_for_selector("body[data-loaded=keys]")
    page.fill("#create-key input[name=name]", "made-by-alice")
    page.click("#create-key button[type=submit]")
    page.wait_for_selector("#created-key:not([hidden])")
    assert page.inner_text("#created-key-value").startswith("sk-sp-v1-")
    page.screenshot(path=str(ARTIFACTS / "sso-admin.png"), full_page=True)
    page.click("text=Log out")
    page.wait_for_url("**/dashboard/login")
    status, _, _ = http(sso_gateway, "GET", "/dashboard/api/me", headers={"cookie": f"sp_session={cookie['value']}"})
    assert status == 401
    context.close()


def test_a_viewer_sees_everything_and_changes_nothing(browser: Any, sso_gateway: Any) -> None:
    context, page = sign_in(browser, sso_gateway, "victor")
    page.wait_for_selector("body[data-loaded=overview]")
    assert page.inner_text("#whoami") == "victor@example.com · viewer"
    page.click("a[data-tab=keys]")
    page.wait_for_selector("body[data-loaded=keys]")
    assert not page.is_visible("#create-key")  # no controls offered
    # Even with the session's own CSRF token, from the dashboard's own page, a change is refused.
    answer = page.evaluate("""async () => {
        const csrf = document.querySelector('meta[name="sp-csrf"]').content;
        const r = await fetch("/dashboard/api/keys", {method: "POST", credentials: "same-origin",
            headers: {"content-type": "application/json", "x-csrf-token": csrf}, body: JSON.stringify({name: "x"})});
        return {status: r.status, body: await r.json()};
    }""")
    assert answer["status"] == 403 and "viewer" in answer["body"]["error"]["message"]
    me = page.evaluate("async () => (await fetch('/dashboard/api/me')).json()")
    assert me == {"kind": "sso", "name": "victor@example.com", "email": "victor@example.com", "role": "viewer",
                  "team": None, "via": "session"}
    endpoints = page.evaluate("async () => (await fetch('/dashboard/api/endpoints')).status")
    assert endpoints == 200
    context.close()


def test_a_team_admin_signs_in_with_its_team(browser: Any, sso_gateway: Any) -> None:
    context, page = sign_in(browser, sso_gateway, "tara")
    page.wait_for_selector("body[data-loaded=overview]")
    assert page.inner_text("#whoami") == "tara@example.com · team-admin (search)"
    assert not page.is_visible('a[data-tab="endpoints"]')
    assert page.evaluate("async () => (await fetch('/dashboard/api/endpoints')).status") == 403
    context.close()


@pytest.mark.parametrize(("login", "reason"), [
    ("mallory", "mallory@evil.test may not sign in to this dashboard: accounts from example.com only"),
    ("nobody", "nobody@example.com is signed in, but none of its groups (staff) gives a role"),
])
def test_refused_accounts_get_a_page_saying_why(browser: Any, sso_gateway: Any, login: str, reason: str) -> None:
    context, page = sign_in(browser, sso_gateway, login)
    page.wait_for_selector(".login-error")
    assert reason in page.inner_text(".login-error")
    assert "/dashboard/oidc/callback" in page.url
    assert not [c for c in context.cookies() if c["name"] == "sp_session"]
    page.screenshot(path=str(ARTIFACTS / f"sso-refused-{login}.png"))
    status, _, body = http(sso_gateway, "GET", "/dashboard/api/me")
    assert status == 401 and json.loads(body)["error"]["code"] == 401
    context.close()
