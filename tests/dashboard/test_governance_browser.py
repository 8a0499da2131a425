"""In headless Chromium: spend per end user, a key made with per-end-user limits, and the audit log of
that change, on the dashboard's Users, Keys and Audit pages."""

from __future__ import annotations

import openai
import pytest

from ..conftest import ADMIN_KEY, TEST_KEY
from ..upstream import Reply
from .conftest import ARTIFACTS, CHROMIUM
from .helpers import CHAT

pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="Debian chromium is not installed (scripts/system-deps.sh)")


def test_users_keys_and_audit_pages(make_gateway, upstream, browser_page) -> None:
    gateway = make_gateway()
    client = openai.OpenAI(base_url=f"{gateway.url}/api/v1", api_key=TEST_KEY, max_retries=0, timeout=20)
    upstream.always(CHAT, Reply.file("openai/chat_text.response.json"))
    for user in ("alice", "alice", "alice", "bob"):
        client.chat.completions.create(model="test/gpt", user=user, messages=[{"role": "user", "content": "hi"}])
    gateway.flush()
    page, errors = browser_page
    page.goto(f"{gateway.url}/dashboard/login")
    page.fill("#key", ADMIN_KEY)
    page.click("button[type=submit]")
    page.wait_for_selector("body[data-loaded=overview]")

    page.click("a[data-tab=users]")
    page.wait_for_selector("body[data-loaded=users]")
    alice = page.inner_text("tr[data-user=alice]")
    assert "test" in alice and "\t3\t" in alice  # three requests under key "test"
    assert "\t1\t" in page.inner_text("tr[data-user=bob]")
    page.screenshot(path=str(ARTIFACTS / "users.png"), full_page=True)

    page.click("a[data-tab=keys]")
    page.wait_for_selector("body[data-loaded=keys]")
    page.fill("#create-key input[name=name]", "reseller")
    page.fill("#create-key input[name=user_limit]", "0.5")
    page.select_option("#create-key select[name=limit_reset]", "monthly")
    page.fill("#create-key input[name=user_rate]", "30")
    page.click("#create-key button[type=submit]")
    page.wait_for_selector("tr[data-key=reseller]")
    shown = page.inner_text("tr[data-key=reseller]")
    assert "$0.50 per end user monthly" in shown and "30 req / min per end user" in shown
    secret = page.inner_text("#created-key-value")

    page.click("a[data-tab=audit]")
    page.wait_for_selector("body[data-loaded=audit]")
    newest = page.inner_text("#table-audit tbody tr:first-child")
    assert "dashboard (admin-key)" in newest and "key.create" in newest and "key reseller" in newest
    assert "user_limit: 0.5" in newest
    assert secret not in page.inner_html("#table-audit")
    page.screenshot(path=str(ARTIFACTS / "audit.png"), full_page=True)
    assert not errors, errors
