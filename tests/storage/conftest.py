from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from switchpoint.storage import Store


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Every contract test runs on each SQL dialect, on an empty database."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'store.db'}"
    return request.getfixturevalue("postgres_url")


@pytest.fixture
async def store(database_url: str) -> AsyncIterator[Store]:
    store = Store(database_url)
    await store.create_schema()
    yield store
    await store.close()
