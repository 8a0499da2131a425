"""Key provisioning (admin only) and how keys authenticate."""

from __future__ import annotations

import json
import urllib.error
import urllib.request

import openai
import pytest

from switchpoint.accounting.keys import hash_key

from ..conftest import ADMIN_KEY, TEST_KEY
from ..upstream import Reply


def call(gateway, method: str, path: str, body: dict | None = None, key: str = ADMIN_KEY) -> tuple[int, dict]:
    request = urllib.request.Request(gateway.url + path, method=method,
                                     data=json.dumps(body).encode() if body is not None else None,
                                     headers={"authorization": f"Bearer {key}", "content-type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def chat(gateway, key: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{gateway.url}/api/v1", api_key=key, max_retries=0)


def test_create_list_get_patch_delete(gateway, upstream):
    status, created = call(gateway, "POST", "/api/v1/keys",
                           {"name": "team-a", "limit": 12.5, "limit_reset": "monthly",
                            "rate_limit": {"requests": 30, "interval": "1m"}})
    assert status == 201
    key, data = created["key"], created["data"]
    assert key.startswith("sk-sp-v1-") and len(key) == len("sk-sp-v1-") + 64
    assert data["name"] == "team-a" and data["limit"] == 12.5 and data["limit_remaining"] == 12.5
    assert data["limit_reset"] == "monthly" and data["rate_limit"]["requests"] == 30
    assert data["rate_limit"]["interval"] == "60s"
    assert key not in json.dumps(call(gateway, "GET", "/api/v1/keys")[1])  # shown once only

    stored = gateway.call(gateway.services.store.get_key, data["hash"])
    assert stored["hash"] == data["hash"] and key not in json.dumps(stored, default=str)

    status, listing = call(gateway, "GET", "/api/v1/keys")
    assert status == 200 and {k["name"] for k in listing["data"]} == {"team-a", "test"}
    assert call(gateway, "GET", f"/api/v1/keys/{data['hash']}")[1]["data"]["name"] == "team-a"

    upstream.always("/v1/chat/completions", Reply.file("openai/chat_text.response.json"))
    assert chat(gateway, key).chat.completions.create(model="test/gpt", messages=[{"role": "user", "content": "x"}])

    status, patched = call(gateway, "PATCH", f"/api/v1/keys/{data['hash']}", {"disabled": True, "limit": 20})
    assert status == 200 and patched["data"]["disabled"] is True and patched["data"]["limit"] == 20
    with pytest.raises(openai.PermissionDeniedError):
        chat(gateway, key).chat.completions.create(model="test/gpt", messages=[{"role": "user", "content": "x"}])

    assert call(gateway, "DELETE", f"/api/v1/keys/{data['hash']}") == (200, {"deleted": True})
    with pytest.raises(openai.AuthenticationError):
        chat(gateway, key).chat.completions.create(model="test/gpt", messages=[{"role": "user", "content": "x"}])
    assert call(gateway, "GET", f"/api/v1/keys/{data['hash']}")[0] == 404


def test_a_key_from_the_config_cannot_be_deleted(gateway):
    """The config's keys are stored again at every start: deleting one would not last."""
    key_hash = hash_key(TEST_KEY)
    status, body = call(gateway, "DELETE", f"/api/v1/keys/{key_hash}")
    assert status == 400 and "key 'test' is defined in switchpoint.yaml" in body["error"]["message"]
    assert call(gateway, "GET", f"/api/v1/keys/{key_hash}")[0] == 200


def test_admin_only(gateway):
    status, body = call(gateway, "GET", "/api/v1/keys", key=TEST_KEY)
    assert status == 403 and body["error"]["message"] == "Only management keys can perform this operation"
    assert call(gateway, "POST", "/api/v1/keys", {"name": "x"}, key="nonsense")[0] == 403


@pytest.mark.parametrize(("body", "field"), [
    ({}, "name"), ({"name": ""}, "name"), ({"name": "a", "limit": -1}, "limit"),
    ({"name": "a", "limit_reset": "hourly"}, "limit_reset"),
    ({"name": "a", "expires_at": "2030-01-01T00:00:00+02:00"}, "expires_at"),
])
def test_create_validation(gateway, body, field):
    status, payload = call(gateway, "POST", "/api/v1/keys", body)
    assert status == 400 and payload["error"]["message"].startswith(field)


def test_expired_key_is_refused(gateway, upstream):
    _, created = call(gateway, "POST", "/api/v1/keys", {"name": "old", "expires_at": "2020-01-01T00:00:00Z"})
    with pytest.raises(openai.AuthenticationError) as caught:
        chat(gateway, created["key"]).chat.completions.create(model="test/gpt",
                                                              messages=[{"role": "user", "content": "x"}])
    assert "expired" in str(caught.value)
