"""Gateways for routing tests: the shared base config plus providers and models of their own
(added, never replacing the shared ones), and helpers to read what the client and the ledger saw."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import openai
import pytest

from ..conftest import TEST_KEY, Gateway, base_config, free_port
from ..upstream import Upstream

CHAT = "/chat/completions"
PATHS = {"up": "/v1", "backup": "/backup/v1", "third": "/third/v1", "slow": "/slow/v1", "retrying": "/retry/v1"}
USER = [{"role": "user", "content": "Say hi"}]


def per_m(prompt: float, completion: float | None = None) -> dict[str, str]:
    """Pricing in USD per token from USD per million."""
    return {"prompt": f"{prompt / 1e6:.12f}", "completion": f"{(completion or prompt) / 1e6:.12f}"}


def routing_providers(upstream: Upstream) -> dict[str, Any]:
    common = {"type": "openai", "api_key": "k", "max_retries": 0, "timeout": 5}
    return {
        "third": {**common, "base_url": f"{upstream.url}/third/v1"},
        "slow": {**common, "base_url": f"{upstream.url}/slow/v1", "timeout": 0.5},
        "retrying": {**common, "base_url": f"{upstream.url}/retry/v1", "max_retries": 2},
        "down": {**common, "base_url": f"http://127.0.0.1:{free_port()}/v1"},  # nothing listens there
    }


def ep(provider: str, prompt: float, completion: float | None = None, model: str | None = None,
       **extra: Any) -> dict[str, Any]:
    return {"provider": provider, "model": model or f"{provider}-model", "pricing": per_m(prompt, completion), **extra}


ROUTING_MODELS: list[dict[str, Any]] = [
    {"id": "rt/trio", "name": "Trio", "context_length": 128000, "max_completion_tokens": 4096,
     "endpoints": [ep("up", 1), ep("backup", 2), ep("third", 3)]},
    {"id": "rt/down-first", "name": "Down first",
     "endpoints": [ep("down", 1), ep("backup", 2)]},
    {"id": "rt/slow-first", "name": "Slow first",
     "endpoints": [ep("slow", 1), ep("backup", 2)]},
    {"id": "rt/retry", "name": "Retry first",
     "endpoints": [ep("retrying", 1), ep("backup", 2)]},
    {"id": "rt/other", "name": "Other model", "endpoints": [ep("third", 5)]},
    {"id": "rt/tools", "name": "Tools on one", "max_completion_tokens": 8192,
     "endpoints": [ep("up", 1, supported_parameters=["max_tokens", "temperature"], max_completion_tokens=1024),
                   ep("backup", 2)]},
    {"id": "rt/private", "name": "Private on one",
     "endpoints": [ep("up", 1), ep("third", 3, data_collection="deny")]},
    {"id": "rt/mixed", "name": "Free and paid",
     "endpoints": [ep("up", 1), ep("third", 0)]},
]


@pytest.fixture
def make_routed(make_gateway: Callable[..., Gateway], upstream: Upstream, tmp_path: Path) -> Callable[..., Gateway]:
    """make_gateway with this package's providers and models added to the shared ones."""
    shared_models = base_config(upstream, tmp_path)["models"]

    def make(**overrides: Any) -> Gateway:
        return make_gateway(providers=routing_providers(upstream), models=[*shared_models, *ROUTING_MODELS],
                            **overrides)

    return make


@pytest.fixture
def routed(make_routed: Callable[..., Gateway]) -> Gateway:
    return make_routed()


def sdk(gateway: Gateway) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{gateway.url}/api/v1", api_key=TEST_KEY, max_retries=0, timeout=20)


def tried(upstream: Upstream) -> list[str]:
    """Which stand-in endpoints received chat requests, in arrival order."""
    by_path = {path + CHAT: name for name, path in PATHS.items()}
    return [by_path[r.path] for r in upstream.received if r.path in by_path]


@dataclass
class Raw:
    status_code: int
    headers: dict[str, str]
    text: str

    def json(self) -> Any:
        return json.loads(self.text)


def call(gateway: Gateway, method: str, path: str, body: dict[str, Any] | None = None) -> Raw:
    """A plain HTTP call (for what the SDK hides: status, headers, raw SSE)."""
    request = urllib.request.Request(f"{gateway.url}{path}", method=method,
                                     data=json.dumps(body).encode() if body is not None else None,
                                     headers={"Authorization": f"Bearer {TEST_KEY}",
                                              "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=20) as response:
            return Raw(response.status, {k.lower(): v for k, v in response.headers.items()},
                       response.read().decode())
    except urllib.error.HTTPError as exc:
        return Raw(exc.code, {k.lower(): v for k, v in exc.headers.items()}, exc.read().decode())


def generation(gateway: Gateway, generation_id: str) -> dict[str, Any]:
    gateway.flush()
    response = call(gateway, "GET", f"/api/v1/generation?id={generation_id}")
    assert response.status_code == 200, response.text
    return response.json()["data"]


def post(gateway: Gateway, body: dict[str, Any]) -> Raw:
    return call(gateway, "POST", "/api/v1/chat/completions", body)


def attempts_summary(attempts: list[dict[str, Any]]) -> list[tuple[str, int | None, str | None]]:
    return [(a["provider"], a["status"], a["kind"]) for a in attempts]
