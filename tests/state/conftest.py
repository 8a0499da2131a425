from __future__ import annotations

import asyncio
import shutil
import socket
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from switchpoint.state import State
from switchpoint.state.host import StateHost
from switchpoint.state.memory import MemoryState
from switchpoint.state.redis import RedisState
from switchpoint.state.socket import SocketState


class HostedState:
    """A state host (what `serve --workers N` runs in a process of its own) on the test's loop, on a
    real Unix socket, and the clients connected to it."""

    def __init__(self, cache_bytes: int = 1 << 20, workers: int = 0) -> None:
        self.directory = Path(tempfile.mkdtemp(prefix="sp-state-"))  # short: a socket path has 108 bytes
        self.path = str(self.directory / "state.sock")
        self.listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.listener.bind(self.path)
        self.listener.listen(64)
        self.host = StateHost(MemoryState(cache_bytes=cache_bytes), workers=workers)
        self.server: asyncio.AbstractServer | None = None
        self.clients: list[SocketState] = []

    async def start(self) -> HostedState:
        self.server = await self.host.serve(self.listener)
        return self

    def client(self, **options: Any) -> SocketState:
        client = SocketState(self.path, **options)
        self.clients.append(client)
        return client

    async def stop(self) -> None:
        for client in self.clients:
            await client.close()
        if self.server is not None:
            self.server.close()
        self.listener.close()
        shutil.rmtree(self.directory, ignore_errors=True)


@pytest.fixture(params=["memory", "socket", "redis"])
async def backend(request: pytest.FixtureRequest) -> AsyncIterator[tuple[State, State | None]]:
    """Each backend, and a second process's handle on the same shared state (None for memory)."""
    if request.param == "memory":
        memory = MemoryState(cache_bytes=1 << 20)
        yield memory, None
        await memory.close()
    elif request.param == "socket":
        hosted = await HostedState().start()
        yield hosted.client(), hosted.client()
        await hosted.stop()
    else:
        url = request.getfixturevalue("redis_url")
        first, second = RedisState(url), RedisState(url)
        yield first, second
        await first.close()
        await second.close()


@pytest.fixture
def state(backend: tuple[State, State | None]) -> State:
    """Every contract test runs on each backend."""
    return backend[0]


@pytest.fixture
def peer(backend: tuple[State, State | None]) -> State | None:
    return backend[1]
