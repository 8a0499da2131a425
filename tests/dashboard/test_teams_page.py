"""The Teams page and team/policy fields of the Keys page, in headless Chromium; the dashboard's JSON
bodies are as strict as the admin API's (an unknown field is a 400 naming it)."""

from __future__ import annotations

import json

import openai
import pytest

from ..conftest import ADMIN_KEY
from ..upstream import Reply
from .conftest import ARTIFACTS, CHROMIUM
from .helpers import csrf_token, get_json, http, login


def post(gateway, path: str, body: dict, cookie: str) -> tuple[int, dict]:
    status, _, answer = http(gateway, "POST", path, json.dumps(body).encode(),
                             {"cookie": cookie, "origin": gateway.url, "content-type": "application/json",
                              "x-csrf-token": csrf_token(gateway, cookie)})
    return status, json.loads(answer)


def test_dashboard_bodies_are_strict(gateway) -> None:
    cookie = login(gateway)
    status, body = post(gateway, "/dashboard/api/keys", {"name": "x", "allowed_models": ["a/b"]}, cookie)
    assert (status, body["error"]["message"]) == (400, "Unknown field: allowed_models")
    key_hash = get_json(gateway, "/dashboard/api/keys", cookie)["keys"][0]["hash"]
    status, body = post(gateway, "/dashboard/api/keys/update", {"hash": key_hash, "disabld": True}, cookie)
    assert (status, body["error"]["metadata"]["unknown_fields"]) == (400, ["disabld"])
    status, body = post(gateway, "/dashboard/api/keys/revoke", {"hash": key_hash, "force": True}, cookie)
    assert (status, body["error"]["metadata"]["unknown_fields"]) == (400, ["force"])
    status, body = post(gateway, "/dashboard/api/teams", {"name": "ops", "limits": 1}, cookie)
    assert (status, body["error"]["metadata"]["unknown_fields"]) == (400, ["limits"])
    assert post(gateway, "/dashboard/api/teams", {"name": "ops", "limit": 1}, cookie)[0] == 201
    status, body = post(gateway, "/dashboard/api/teams/update", {"name": "ops", "limt": 2}, cookie)
    assert (status, body["error"]["metadata"]["unknown_fields"]) == (400, ["limt"])
    status, body = post(gateway, "/dashboard/api/teams/update", {"name": "ops", "limit": 2}, cookie)
    assert status == 200 and body["data"]["limit"] == 2
    assert post(gateway, "/dashboard/api/teams/delete", {"name": "ops"}, cookie) == (200, {"deleted": True,
                                                                                       "name": "ops"})


@pytest.mark.skipif(CHROMIUM is None, reason="Debian chromium is not installed (scripts/system-deps.sh)")
def test_teams_page_and_key_policy_in_the_browser(gateway, upstream, browser_page) -> None:
    upstream.always("/v1/chat/completions", Reply.file("openai/chat_text.response.json"))
    page, errors = browser_page
    page.goto(f"{gateway.url}/dashboard/login")
    page.fill("#key", ADMIN_KEY)
    page.click("button[type=submit]")
    page.wait_for_selector("body[data-loaded=overview]")

    page.click("a[data-tab=teams]")
    page.wait_for_selector("body[data-loaded=teams]")
    assert "No teams yet" in page.inner_text("#table-teams")
    form = "#create-team"
    page.fill(f"{form} input[name=name]", "platform")
    page.fill(f"{form} input[name=limit]", "4")
    page.select_option(f"{form} select[name=limit_reset]", "monthly")
    page.fill(f"{form} input[name=rate]", "120")
    page.fill(f"{form} input[name=providers]", "up, backup")
    page.fill(f"{form} input[name=max_completion]", "2")
    page.click(f"{form} button[type=submit]")
    page.wait_for_selector("tr[data-team=platform]")
    row = page.inner_text("tr[data-team=platform]")
    assert "of $4.00 monthly" in row and "120 req" in row
    assert "providers: up, backup" in row and "max $/M: completion 2" in row

    # a key of the team, restricted to one model, made on the Keys page
    page.click("a[data-tab=keys]")
    page.wait_for_selector("body[data-loaded=keys]")
    page.fill("#create-key input[name=name]", "team-app")
    page.select_option("#create-key select[name=team]", "platform")
    page.fill("#create-key input[name=models]", "test/gpt")
    page.click("#create-key button[type=submit]")
    page.wait_for_selector("#created-key:not([hidden])")
    key = page.inner_text("#created-key-value")
    page.wait_for_selector("tr[data-key=team-app]")
    row = page.inner_text("tr[data-key=team-app]")
    assert "platform" in row and "models: test/gpt" in row
    page.screenshot(path=str(ARTIFACTS / "keys-policy.png"), full_page=True)

    client = openai.OpenAI(base_url=f"{gateway.url}/api/v1", api_key=key, max_retries=0)
    assert client.chat.completions.create(model="test/gpt", messages=[{"role": "user", "content": "hi"}])
    with pytest.raises(openai.PermissionDeniedError):
        client.chat.completions.create(model="test/fallback", messages=[{"role": "user", "content": "hi"}])
    gateway.flush()

    page.click("a[data-tab=teams]")
    page.wait_for_selector("body[data-loaded=teams]")
    row = page.locator("tr[data-team=platform]")
    assert row.locator("td").nth(4).inner_text() == "1"  # keys
    spent = get_json(gateway, "/dashboard/api/teams", login(gateway))["teams"][0]["usage"]
    assert spent > 0
    page.screenshot(path=str(ARTIFACTS / "teams.png"), full_page=True)

    # a team with keys cannot be deleted; the page says why
    page.on("dialog", lambda dialog: dialog.accept())
    page.click("tr[data-team=platform] >> text=Delete")
    page.wait_for_selector("text=has 1 key(s)")
    assert page.locator("tr[data-team=platform]").count() == 1
    errors[:] = [e for e in errors if "400" not in e]  # the refused delete's console line
    assert not errors, errors
