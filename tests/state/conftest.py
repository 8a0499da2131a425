from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from switchpoint.state import State
from switchpoint.state.memory import MemoryState
from switchpoint.state.redis import RedisState


@pytest.fixture(params=["memory", "redis"])
async def state(request: pytest.FixtureRequest) -> AsyncIterator[State]:
    """Every contract test runs on each backend."""
    if request.param == "memory":
        backend: Any = MemoryState(cache_bytes=1 << 20)
    else:
        backend = RedisState(request.getfixturevalue("redis_url"))
    yield backend
    await backend.close()
