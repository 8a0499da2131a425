"""Fixtures for the provider translator tests."""

from __future__ import annotations

import pytest


@pytest.fixture(params=[None, 1, 7], ids=["whole", "1-byte", "7-byte"])
def step(request: pytest.FixtureRequest) -> int | None:
    """Stream replays run whole, one byte at a time and in 7-byte pieces to prove the framing."""
    return request.param
