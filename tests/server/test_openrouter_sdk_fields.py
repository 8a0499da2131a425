"""The fields and routes OpenRouter's SDKs need, over plain HTTP, for each kind of input behind them:
context lengths nobody configured, model-list pages, the workspace and member filters of /activity,
key update times across restarts, and the routes under both /api/v1 and /v1."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import httpx
import pytest

from switchpoint.accounting.keys import hash_key
from switchpoint.config import load_config
from switchpoint.server.services import config_key_rows
from switchpoint.storage import Store

from ..conftest import ADMIN_KEY, PRICE, TEST_KEY
from ..upstream import Reply, Upstream
from .test_openrouter_sdk import LIMITED_KEY, sdk_gateway

WORKSPACE = "00000000-0000-0000-0000-000000000000"


def get(gateway: Any, path: str, key: str | None = TEST_KEY) -> httpx.Response:
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    return httpx.get(f"{gateway.url}{path}", headers=headers, timeout=10)


def test_an_endpoint_always_has_a_context_length(make_gateway: Any) -> None:
    """Configured, else the bundled catalogue's for the model id or the upstream model, else 8192."""
    gateway = make_gateway(models=[
        {"id": "openai/gpt-4o", "endpoints": [{"provider": "up", "model": "renamed-4o", "pricing": PRICE}]},
        {"id": "my/five", "endpoints": [{"provider": "up", "model": "gpt-5", "pricing": PRICE}]},
        {"id": "my/own", "endpoints": [{"provider": "up", "model": "unheard-of", "pricing": PRICE},
                                       {"provider": "backup", "model": "x", "pricing": PRICE, "context_length": 999}]},
    ])

    def lengths(model: str) -> list[int]:
        return [e["context_length"] for e in get(gateway, f"/api/v1/models/{model}/endpoints").json()["data"]["endpoints"]]

    assert lengths("openai/gpt-4o") == [128000]
    assert lengths("my/five") == [400000]
    assert lengths("my/own") == [8192, 999]
    assert get(gateway, "/api/v1/model/my/own").json()["data"]["context_length"] is None  # the model: unknown


def test_model_lists_come_in_pages(gateway: Any) -> None:
    whole = get(gateway, "/api/v1/models?output_modalities=all").json()
    ids = [m["id"] for m in whole["data"]]
    assert whole["links"]["next"] is None and whole["total_count"] == len(ids) > 2
    first = get(gateway, "/v1/models?output_modalities=all&limit=2").json()
    assert [m["id"] for m in first["data"]] == ids[:2] and first["total_count"] == len(ids)
    following = httpx.URL(first["links"]["next"])
    assert following.path == "/v1/models"
    assert dict(following.params) == {"output_modalities": "all", "offset": "2", "limit": "2"}
    rest = get(gateway, first["links"]["next"]).json()
    assert [m["id"] for m in rest["data"]] == ids[2:4]
    assert get(gateway, f"/api/v1/models?offset={len(ids)}").json()["data"] == []
    for query in ("limit=0", "offset=-1", "limit=ten"):
        answer = get(gateway, f"/api/v1/models?{query}")
        assert answer.status_code == 400 and answer.json()["error"]["metadata"]["param"] == query.split("=")[0]


def test_user_models_and_providers_under_both_prefixes(gateway: Any) -> None:
    served = [m["id"] for m in get(gateway, "/api/v1/models").json()["data"]]
    for prefix in ("/api/v1", "/v1"):
        assert [m["id"] for m in get(gateway, f"{prefix}/models/user").json()["data"]] == served
        providers = get(gateway, f"{prefix}/providers", key=None).json()["data"]
        assert sorted((p["name"], p["slug"]) for p in providers) == [("backup", "backup"), ("router", "router"),
                                                                      ("up", "up")]
    refused = get(gateway, "/api/v1/models/user", key=None)
    assert refused.status_code == 401 and refused.json()["error"]["code"] == 401


def test_activity_filters(make_gateway: Any, upstream: Upstream) -> None:
    gateway, _ = sdk_gateway(make_gateway, upstream)
    upstream.queue("/v1/chat/completions", Reply.file("openai/chat_text.response.json"))
    limited = httpx.post(f"{gateway.url}/api/v1/chat/completions", headers={"Authorization": f"Bearer {LIMITED_KEY}"},
                         json={"model": "test/gpt", "messages": [{"role": "user", "content": "hi"}]}, timeout=10)
    assert limited.status_code == 200
    gateway.flush()
    everything = get(gateway, "/api/v1/activity", ADMIN_KEY).json()["data"]
    assert sum(r["requests"] for r in everything) == 2 and all("workspace_id" not in r for r in everything)
    assert sum(r["cached_tokens"] for r in everything) == 0

    one = get(gateway, f"/api/v1/activity?api_key_hash={hash_key(LIMITED_KEY)}", ADMIN_KEY).json()["data"]
    assert [(r["model"], r["endpoint_id"], r["requests"]) for r in one] == [("test/gpt", "up:gpt-4o-mini", 1)]
    split = get(gateway, f"/api/v1/activity?group_by=workspace&workspace_id={WORKSPACE}", ADMIN_KEY).json()["data"]
    assert [r["workspace_id"] for r in split] == [WORKSPACE] * len(everything)
    assert get(gateway, "/api/v1/activity?user_id=someone", ADMIN_KEY).json() == {"data": []}
    assert get(gateway, "/api/v1/activity?workspace_id=another", ADMIN_KEY).status_code == 404
    assert get(gateway, "/api/v1/activity?group_by=model", ADMIN_KEY).json()["error"]["metadata"]["param"] == "group_by"


def test_keys_name_the_one_workspace(gateway: Any) -> None:
    admin = {"Authorization": f"Bearer {ADMIN_KEY}"}
    created = httpx.post(f"{gateway.url}/api/v1/keys", headers=admin, json={"name": "w", "workspace_id": WORKSPACE})
    assert created.status_code == 201 and created.json()["data"]["workspace_id"] == WORKSPACE
    elsewhere = httpx.post(f"{gateway.url}/api/v1/keys", headers=admin, json={"name": "w", "workspace_id": "other"})
    assert elsewhere.status_code == 400 and elsewhere.json()["error"]["metadata"]["param"] == "workspace_id"
    assert get(gateway, "/api/v1/keys?workspace_id=other", ADMIN_KEY).json() == {"data": []}
    assert len(get(gateway, f"/api/v1/keys?workspace_id={WORKSPACE}", ADMIN_KEY).json()["data"]) == 2


@pytest.mark.parametrize("change", [False, True])
def test_a_config_key_is_updated_only_when_its_entry_changes(tmp_path: Path, change: bool) -> None:
    database = f"sqlite:///{tmp_path / 'keys.db'}"

    def rows(limit: float) -> list[dict[str, Any]]:
        path = tmp_path / "switchpoint.yaml"
        path.write_text(f"database: {database}\nkeys: [{{name: ci, key: {TEST_KEY}, limit: {limit}}}]\n")
        return config_key_rows(load_config(path, env={}))

    async def restart_twice() -> dict[str, Any]:
        store = Store(database)
        try:
            await store.create_schema()
            await store.upsert_config_keys(rows(5.0))
            await store.upsert_config_keys(rows(6.0 if change else 5.0))
            (row,) = await store.find_keys(name="ci")
            return row
        finally:
            await store.close()

    row = asyncio.run(restart_twice())
    assert row["limit_nanos"] == (6 if change else 5) * 1_000_000_000
    assert (row["updated_at_ms"] is not None) == change


def test_expired_keys_are_listed_only_when_asked(gateway: Any) -> None:
    admin = {"Authorization": f"Bearer {ADMIN_KEY}"}
    for name, expires in (("old", "2020-01-01T00:00:00Z"), ("current", "2999-01-01T00:00:00Z")):
        assert httpx.post(f"{gateway.url}/api/v1/keys", headers=admin,
                          json={"name": name, "expires_at": expires}).status_code == 201
    names = {k["name"] for k in get(gateway, "/api/v1/keys", ADMIN_KEY).json()["data"]}
    assert names == {"test", "current"}
    names = {k["name"] for k in get(gateway, "/api/v1/keys?include_expired=true", ADMIN_KEY).json()["data"]}
    assert names == {"test", "current", "old"}
