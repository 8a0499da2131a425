"""Rate limits per key and for free models: 429 with Retry-After and X-RateLimit-* headers."""

from __future__ import annotations

import time
from typing import Any

from switchpoint.accounting.keys import hash_key

from .. import replies
from ..conftest import PRICE
from .conftest import admin, chat, key_config


def test_request_limit_from_the_config(make_gateway: Any, upstream: Any) -> None:
    gateway = make_gateway(keys=key_config(rate_limit={"requests": 3, "interval": "1m"}))
    upstream.always("/v1/chat/completions", replies.chat())
    assert [chat(gateway).status_code for _ in range(3)] == [200, 200, 200]
    started = time.time()
    refused = chat(gateway)
    assert refused.status_code == 429
    assert refused.json()["error"]["message"] == "Rate limit exceeded: requests."
    headers = refused.headers
    assert headers["x-ratelimit-limit"] == "3" and headers["x-ratelimit-remaining"] == "0"
    assert 59 <= int(headers["retry-after"]) <= 60
    assert started * 1000 + 58_000 < int(headers["x-ratelimit-reset"]) <= time.time() * 1000 + 60_000
    assert len(upstream.hits("/v1/chat/completions")) == 3


def test_token_limit_refuses_once_the_window_is_full(make_gateway: Any, upstream: Any) -> None:
    gateway = make_gateway(keys=key_config(token_limit={"tokens": 100, "interval": 60}))
    upstream.always("/v1/chat/completions", replies.chat(30, 50))
    assert chat(gateway).status_code == 200  # 80 tokens
    assert chat(gateway).status_code == 200  # 160: the window is over its limit now
    refused = chat(gateway)
    assert refused.status_code == 429 and refused.json()["error"]["message"] == "Rate limit exceeded: tokens."


def test_limits_set_through_the_provisioning_api(gateway: Any, upstream: Any) -> None:
    upstream.always("/v1/chat/completions", replies.chat())
    created = admin(gateway, "POST", "/keys", json={"name": "limited", "rate_limit": {"requests": 2, "interval": "10s"}})
    assert created.status_code == 201
    data, key = created.json()["data"], created.json()["key"]
    assert (data["rate_limit"]["requests"], data["rate_limit"]["interval"]) == (2, "10s")
    assert [chat(gateway, key=key).status_code for _ in range(3)] == [200, 200, 429]
    patched = admin(gateway, "PATCH", f"/keys/{hash_key(key)}", json={"rate_limit": {"requests": 5, "interval": 10}})
    assert patched.json()["data"]["rate_limit"]["requests"] == 5
    assert chat(gateway, key=key).status_code == 200


def test_free_models_have_their_own_limits(make_gateway: Any, upstream: Any) -> None:
    models = [{"id": "test/gpt", "endpoints": [{"provider": "up", "model": "gpt", "pricing": PRICE}]},
              {"id": "test/free", "endpoints": [{"provider": "up", "model": "free", "pricing": {"prompt": "0"}}]}]
    gateway = make_gateway(models=models, free_models={"requests_per_minute": 3, "requests_per_day": 4})
    upstream.always("/v1/chat/completions", replies.chat())
    statuses = [chat(gateway, model=model).status_code for model in ("test/free", "test/free:free", "test/free")]
    assert statuses == [200, 200, 200]
    refused = chat(gateway, model="test/free")
    assert refused.json()["error"]["message"] == "Rate limit exceeded: free-models-per-min."
    assert refused.headers["x-ratelimit-limit"] == "3"
    assert chat(gateway).status_code == 200  # paid models are not limited
