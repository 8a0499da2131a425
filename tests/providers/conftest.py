"""Fixtures for the provider translator tests."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from ..conftest import Gateway
from ..upstream import Upstream
from .e2e_support import native_gateway


@pytest.fixture(params=[None, 1, 7], ids=["whole", "1-byte", "7-byte"])
def step(request: pytest.FixtureRequest) -> int | None:
    """Stream replays run whole, one byte at a time and in 7-byte pieces to prove the framing."""
    return request.param


@pytest.fixture
def gateway(make_gateway: Callable[..., Gateway], upstream: Upstream) -> Gateway:
    """The end-to-end tests' gateway: every native provider type wired to the upstream stand-in."""
    return native_gateway(make_gateway, upstream)
