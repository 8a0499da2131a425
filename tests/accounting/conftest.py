from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx2 as httpx
import openai
import pytest

from switchpoint.accounting.keys import hash_key
from switchpoint.state import State
from switchpoint.state.memory import MemoryState
from switchpoint.state.redis import RedisState
from switchpoint.storage import Store

from ..conftest import ADMIN_KEY, TEST_KEY, Gateway


def key_config(**fields: Any) -> list[dict[str, Any]]:
    return [{"name": "test", "key": TEST_KEY, **fields}]


def sdk(gateway: Gateway, key: str = TEST_KEY) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{gateway.url}/api/v1", api_key=key, max_retries=0, timeout=20)


def get(gateway: Gateway, path: str, key: str = TEST_KEY, **params: str) -> httpx.Response:
    return httpx.get(f"{gateway.url}/api/v1{path}", headers={"authorization": f"Bearer {key}"}, params=params,
                     timeout=10)


def admin(gateway: Gateway, method: str, path: str, **kw: Any) -> httpx.Response:
    return httpx.request(method, f"{gateway.url}/api/v1{path}", headers={"authorization": f"Bearer {ADMIN_KEY}"},
                         timeout=10, **kw)


def chat(gateway: Gateway, key: str = TEST_KEY, headers: dict[str, str] | None = None,
         **body: Any) -> httpx.Response:
    payload = {"model": "test/gpt", "messages": [{"role": "user", "content": "hi"}], **body}
    return httpx.post(f"{gateway.url}/api/v1/chat/completions", json=payload, timeout=20,
                      headers={"authorization": f"Bearer {key}", **(headers or {})})


def spent_counter(gateway: Gateway, key: str = TEST_KEY) -> int:
    """The key's settled spend as the budget counts it (state), in its limit's current period."""
    services = gateway.services
    record = gateway.loop.run(services.keys.lookup(hash_key(key)))
    return gateway.loop.run(services.budget.spent(record, record.limit_reset))


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    store = Store(f"sqlite:///{tmp_path / 'ledger.db'}")
    await store.create_schema()
    yield store
    await store.close()


# budgets held in each state backend a deployment can use
@pytest.fixture(params=["memory", "redis"])
async def state(request: pytest.FixtureRequest) -> AsyncIterator[State]:
    backend: State = MemoryState() if request.param == "memory" else RedisState(request.getfixturevalue("redis_url"))
    yield backend
    await backend.close()
