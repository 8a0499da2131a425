"""End to end in headless Chromium: log in, see charts drawn from ledger data this test created,
create a key, and save screenshots to test-artifacts/dashboard/."""

from __future__ import annotations

import pytest

from ..conftest import ADMIN_KEY
from .conftest import ARTIFACTS, CHROMIUM
from .helpers import http, make_traffic

pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="Debian chromium is not installed (scripts/system-deps.sh)")


def test_dashboard_end_to_end(make_gateway, upstream, browser_page) -> None:
    gateway = make_gateway()
    ids = make_traffic(gateway, upstream, ok=6, failed=2)
    page, errors = browser_page

    page.goto(f"{gateway.url}/dashboard")
    assert page.url.endswith("/dashboard/login")
    page.fill("#key", "sk-sp-not-the-admin-key")
    page.click("button[type=submit]")
    assert "not the admin key" in page.inner_text(".login-error")
    page.screenshot(path=str(ARTIFACTS / "login.png"))
    errors.clear()  # the browser logs the refused login's 401

    page.fill("#key", ADMIN_KEY)
    page.click("button[type=submit]")
    page.wait_for_selector("body[data-loaded=overview]")
    cookie = next(c for c in page.context.cookies() if c["name"] == "sp_session")
    assert cookie["httpOnly"] and cookie["secure"] and cookie["sameSite"] == "Strict"
    assert ADMIN_KEY not in page.url

    # The charts are drawn from the ledger rows this test created.
    drawn = page.evaluate("""() => ({
        requests: Chart.getChart('chart-spend').data.datasets[1].data.reduce((a, b) => a + b, 0),
        errors: Chart.getChart('chart-spend').data.datasets[2].data.reduce((a, b) => a + b, 0),
        models: Chart.getChart('chart-models').data.labels,
        width: document.getElementById('chart-spend').width })""")
    assert drawn["requests"] == 8 and drawn["errors"] == 2
    assert drawn["models"] == ["test/gpt"]
    assert drawn["width"] > 300
    assert page.inner_text("#stat-requests") == "8"
    page.screenshot(path=str(ARTIFACTS / "overview.png"), full_page=True)

    page.click("a[data-tab=endpoints]")
    page.wait_for_selector("body[data-loaded=endpoints]")
    assert "test/gpt" in page.inner_text("#table-endpoints")
    page.screenshot(path=str(ARTIFACTS / "endpoints.png"), full_page=True)

    page.click("a[data-tab=generations]")
    page.wait_for_selector("body[data-loaded=generations]")
    table = page.inner_text("#table-generations")
    assert ids[-1] in table
    page.click(f"text={ids[-1]}")
    assert "Attempts:" in page.inner_text("#table-generations")
    page.screenshot(path=str(ARTIFACTS / "generations.png"), full_page=True)

    page.click("a[data-tab=keys]")
    page.wait_for_selector("body[data-loaded=keys]")
    page.fill("#create-key input[name=name]", "browser-made")
    page.fill("#create-key input[name=limit]", "2.5")
    page.select_option("#create-key select[name=limit_reset]", "daily")
    page.fill("#create-key input[name=rate]", "60")
    page.click("#create-key button[type=submit]")
    page.wait_for_selector("#created-key:not([hidden])")
    new_key = page.inner_text("#created-key-value")
    assert new_key.startswith("sk-sp-v1-")
    page.wait_for_selector("tr[data-key=browser-made]")
    assert "of $2.50 daily" in page.inner_text("tr[data-key=browser-made]")
    page.screenshot(path=str(ARTIFACTS / "keys.png"), full_page=True)

    # The key works at once; disabling it from the dashboard stops it.
    status, _, _ = http(gateway, "GET", "/api/v1/key", headers={"authorization": f"Bearer {new_key}"})
    assert status == 200
    page.click("tr[data-key=browser-made] >> text=Disable")
    page.wait_for_selector("tr[data-key=browser-made] >> text=disabled")
    status, _, _ = http(gateway, "GET", "/api/v1/key", headers={"authorization": f"Bearer {new_key}"})
    assert status == 403
    page.click("text=Log out")
    page.wait_for_url("**/dashboard/login")
    status, _, _ = http(gateway, "GET", "/dashboard/api/overview",
                        headers={"cookie": f"sp_session={cookie['value']}"})
    assert status == 401
    assert not errors, errors
