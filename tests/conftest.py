"""Shared test harness: one background event loop runs the upstream stand-in and the gateways,
so tests can drive them with the real (sync or async) openai SDK."""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from pathlib import Path
from typing import Any

import pytest
import uvicorn
import yaml

from switchpoint.config import load_config
from switchpoint.server.app import App
from switchpoint.server.run import protocol_factory

from .upstream import Upstream

ADMIN_KEY = "sk-sp-admin-test-0123456789"
TEST_KEY = "sk-sp-v1-test-key-0123456789abcdef"
PRICE = {"prompt": "0.00000015", "completion": "0.0000006"}


class LoopThread:
    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()

    def run(self, coro: Any, timeout: float = 30) -> Any:
        future: Future[Any] = asyncio.run_coroutine_threadsafe(coro, self.loop)
        return future.result(timeout)

    def stop(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Gateway:
    """A real gateway (uvicorn + the Switchpoint app) on a loopback port."""

    def __init__(self, loop: LoopThread, config_dict: dict[str, Any], tmp: Path, port: int | None = None) -> None:
        self.loop = loop
        path = tmp / "switchpoint.yaml"
        path.write_text(yaml.safe_dump(config_dict))
        self.config = load_config(path, env={})
        self.app = App(self.config)
        self.port = port or free_port()
        self.server = uvicorn.Server(uvicorn.Config(self.app, host="127.0.0.1", port=self.port, lifespan="on",
                                                    log_level="warning", access_log=False, loop="asyncio",
                                                    http=protocol_factory(self.config)))
        self.task: asyncio.Task[None] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def services(self) -> Any:
        return self.app.services

    async def _start(self) -> None:
        self.task = asyncio.ensure_future(self.server.serve())
        while not self.server.started:
            if self.task.done():
                self.task.result()
            await asyncio.sleep(0.01)

    async def _stop(self) -> None:
        self.server.should_exit = True
        if self.task is not None:
            await self.task

    def start(self) -> Gateway:
        self.loop.run(self._start())
        return self

    def stop(self) -> None:
        self.loop.run(self._stop())

    def flush(self) -> None:
        """Write queued ledger rows now."""
        self.loop.run(self.services.ledger.flush())

    def ledger(self) -> list[dict[str, Any]]:
        self.flush()

        async def rows() -> list[dict[str, Any]]:
            from sqlalchemy import select

            from switchpoint.storage.tables import generations

            async with self.services.store.engine.connect() as conn:
                result = await conn.execute(select(generations).order_by(generations.c.created_at_ms))
                return [dict(r) for r in result.mappings()]

        return self.loop.run(rows())

    def call(self, coro_fn: Callable[..., Any], *args: Any) -> Any:
        return self.loop.run(coro_fn(*args))


@pytest.fixture(scope="session")
def loop_thread() -> Iterator[LoopThread]:
    loop = LoopThread()
    yield loop
    loop.stop()


@pytest.fixture(scope="session")
def _upstream_server(loop_thread: LoopThread) -> Iterator[Upstream]:
    upstream = Upstream()
    loop_thread.run(upstream.start())
    yield upstream
    loop_thread.run(upstream.stop())


@pytest.fixture
def upstream(_upstream_server: Upstream) -> Iterator[Upstream]:
    _upstream_server.reset()
    yield _upstream_server
    _upstream_server.reset()


def base_config(upstream: Upstream, tmp: Path, **overrides: Any) -> dict[str, Any]:
    config: dict[str, Any] = {
        "database": f"sqlite:///{tmp / 'ledger.db'}",
        "admin_key": ADMIN_KEY,
        "providers": {
            "up": {"type": "openai", "base_url": f"{upstream.url}/v1", "api_key": "upstream-key", "max_retries": 0,
                   "timeout": 5},
            "backup": {"type": "openai", "base_url": f"{upstream.url}/backup/v1", "api_key": "backup-key",
                       "max_retries": 0, "timeout": 5},
            "router": {"type": "openrouter", "base_url": f"{upstream.url}/or/api/v1", "api_key": "or-key",
                       "max_retries": 0, "timeout": 5},
        },
        "models": [
            {"id": "test/gpt", "name": "Test GPT", "context_length": 128000, "max_completion_tokens": 4096,
             "endpoints": [{"provider": "up", "model": "gpt-4o-mini", "pricing": PRICE}]},
            {"id": "test/fallback", "name": "Test with fallback", "context_length": 128000,
             "max_completion_tokens": 4096,
             "endpoints": [{"provider": "up", "model": "primary-model", "pricing": PRICE},
                           {"provider": "backup", "model": "backup-model",
                            "pricing": {"prompt": "0.0000003", "completion": "0.0000012"}}]},
            {"id": "test/routed", "name": "Via OpenRouter", "context_length": 128000,
             "endpoints": [{"provider": "router", "model": "anthropic/claude-sonnet-4.5", "pricing": PRICE}]},
            {"id": "test/embed", "name": "Test embeddings", "context_length": 8192,
             "output_modalities": ["embeddings"],
             "endpoints": [{"provider": "up", "model": "text-embedding-3-small", "pricing": {"prompt": "0.00000002"}}]},
        ],
        "keys": [{"name": "test", "key": TEST_KEY}],
        "server": {"keepalive_interval": 0.3, "ledger_flush_interval": 0.05},
        # In-process gateways share the test's stdout; tests that read the log point it at a file.
        "telemetry": {"generation_log": "off"},
    }
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(config.get(key), dict):
            config[key] = {**config[key], **value}
        else:
            config[key] = value
    return config


@pytest.fixture
def make_gateway(loop_thread: LoopThread, upstream: Upstream, tmp_path: Path) -> Iterator[Callable[..., Gateway]]:
    started: list[Gateway] = []

    def make(*, port: int | None = None, **overrides: Any) -> Gateway:
        """`port`: listen there (a test that must know the URL before the gateway starts)."""
        directory = tmp_path / f"gw{len(started)}"
        directory.mkdir()
        gateway = Gateway(loop_thread, base_config(upstream, directory, **overrides), directory, port).start()
        started.append(gateway)
        return gateway

    yield make
    for gateway in started:
        gateway.stop()


@pytest.fixture
def gateway(make_gateway: Callable[..., Gateway]) -> Gateway:
    return make_gateway()


@pytest.fixture
def client(gateway: Gateway) -> Any:
    import openai

    return openai.OpenAI(base_url=f"{gateway.url}/api/v1", api_key=TEST_KEY, max_retries=0, timeout=20)


# -- real backends (tests/servers.py): started on first use, once per session ----------------------


@pytest.fixture(scope="session")
def redis_server() -> Iterator[Any]:
    from .servers import RedisServer

    server = RedisServer()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[Any]:
    from .servers import PostgresServer

    server = PostgresServer()
    yield server
    server.stop()


@pytest.fixture
def redis_url(redis_server: Any) -> str:
    """An empty Redis."""
    redis_server.flush()
    return redis_server.url()


@pytest.fixture
def postgres_url(postgres_server: Any) -> str:
    """A fresh, empty PostgreSQL database."""
    return postgres_server.new_database()
