"""Models, endpoints, generation stats, the calling key, health."""

from __future__ import annotations

import json
import time
import urllib.request

import openai
import pytest

from ..conftest import TEST_KEY
from ..upstream import Reply

CHAT = "/v1/chat/completions"


def get(gateway, path: str, key: str | None = TEST_KEY) -> tuple[int, dict]:
    headers = {"authorization": f"Bearer {key}"} if key else {}
    request = urllib.request.Request(gateway.url + path, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def test_models_are_openrouter_shaped(gateway):
    status, body = get(gateway, "/api/v1/models", key=None)
    assert status == 200
    ids = [m["id"] for m in body["data"]]
    # servable text models, then the switchpoint/auto router; embeddings hidden
    assert ids == ["test/gpt", "test/fallback", "test/routed", "switchpoint/auto"]
    model = body["data"][0]
    for field in ("id", "canonical_slug", "name", "created", "context_length", "architecture", "pricing",
                  "top_provider", "per_request_limits", "supported_parameters", "links"):
        assert field in model
    assert model["pricing"]["prompt"] == "0.00000015" and model["pricing"]["completion"] == "0.0000006"
    assert model["architecture"]["output_modalities"] == ["text"]
    _, everything = get(gateway, "/api/v1/models?output_modalities=all", key=None)
    assert "test/embed" in [m["id"] for m in everything["data"]]


def test_the_openai_sdk_retrieves_a_model(gateway, client):
    model = client.models.retrieve("test/gpt")
    assert (model.id, model.object, model.owned_by) == ("test/gpt", "model", "test")
    with pytest.raises(openai.NotFoundError):
        client.models.retrieve("no/such-model")


def test_model_endpoints(gateway):
    status, body = get(gateway, "/api/v1/models/test/fallback/endpoints")
    assert status == 200
    endpoints = body["data"]["endpoints"]
    assert [e["provider_name"] for e in endpoints] == ["up", "backup"]
    assert endpoints[1]["pricing"]["prompt"] == "0.0000003"
    assert get(gateway, "/api/v1/models/no/such/endpoints")[0] == 404


def test_generation_stats_from_the_ledger(gateway, upstream, client):
    upstream.queue(CHAT, Reply.sse("openai/chat_stream_text_usage.sse", pause=0.01))
    stream = client.chat.completions.create(model="test/gpt", stream=True, messages=[{"role": "user", "content": "x"}])
    chunks = list(stream)
    generation_id = chunks[0].id
    status, body = get(gateway, f"/api/v1/generation?id={generation_id}")
    assert status == 200
    data = body["data"]
    usage = chunks[-1].usage
    assert data["id"] == generation_id
    assert data["model"] == "test/gpt" and data["provider_name"] == "up" and data["upstream_model"]
    assert data["tokens_prompt"] == usage.prompt_tokens and data["tokens_completion"] == usage.completion_tokens
    assert data["total_cost"] == usage.cost
    assert data["streamed"] is True and data["finish_reason"] == "stop"
    assert data["latency"] > 0 and data["time_to_first_token"] > 0
    assert data["provider_responses"][0]["status"] == 200
    gateway.flush()  # also answered once written to the database
    assert get(gateway, f"/api/v1/generation?id={generation_id}")[1]["data"]["id"] == generation_id
    assert get(gateway, "/api/v1/generation?id=gen-0-nothing")[0] == 404
    assert get(gateway, "/api/v1/generation")[0] == 400


def test_key_info(gateway, upstream, client):
    upstream.queue(CHAT, Reply.file("openai/chat_text.response.json"))
    response = client.chat.completions.create(model="test/gpt", messages=[{"role": "user", "content": "x"}])
    gateway.flush()
    status, body = get(gateway, "/api/v1/key")
    assert status == 200
    data = body["data"]
    assert data["name"] == "test" and data["label"].startswith("sk-sp-v1-")
    assert data["limit"] is None and data["limit_remaining"] is None
    assert data["usage"] == response.usage.cost == data["usage_daily"]
    assert get(gateway, "/api/v1/auth/key")[0] == 200


def test_health(gateway):
    assert get(gateway, "/healthz", key=None) == (200, {"status": "ok"})
    status, body = get(gateway, "/readyz", key=None)
    assert status == 200 and body["status"] == "ready"


def test_response_headers(gateway, upstream):
    upstream.queue(CHAT, Reply.file("openai/chat_text.response.json"))
    request = urllib.request.Request(
        f"{gateway.url}/api/v1/chat/completions",
        data=json.dumps({"model": "test/gpt", "messages": [{"role": "user", "content": "x"}]}).encode(),
        headers={"authorization": f"Bearer {TEST_KEY}", "content-type": "application/json"})
    with urllib.request.urlopen(request) as response:
        body = json.loads(response.read())
        assert response.headers["x-generation-id"] == body["id"]
        assert response.headers["x-switchpoint-attempts"] == "1"
    assert time.time() - body["created"] < 60
