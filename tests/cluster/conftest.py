"""Replicas for the cluster tests: real `switchpoint serve` processes sharing one PostgreSQL and one
Redis, in front of the upstream stand-in."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import yaml

from ..conftest import ADMIN_KEY, PRICE, LoopThread, free_port
from ..upstream import Upstream

SWITCHPOINT = str(Path(sys.executable).parent / "switchpoint")


class Replica:
    def __init__(self, config: dict[str, Any], directory: Path, name: str) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self.config_path = directory / f"{name}.yaml"
        self.config_path.write_text(yaml.safe_dump(config))
        self.log = directory / f"{name}.log"
        self.port = free_port()
        env = {**os.environ, "SWITCHPOINT_LOG_LEVEL": "WARNING"}
        with self.log.open("wb") as log:
            self.proc = subprocess.Popen([SWITCHPOINT, "serve", "--config", str(self.config_path),
                                          "--port", str(self.port)], stdout=log, stderr=subprocess.STDOUT, env=env,
                                         cwd=directory)  # the ledger's spool (./switchpoint-spool/) goes there
        try:
            self.wait_ready()
        except BaseException:  # a replica that never became ready must not outlive the test
            self.proc.kill()
            self.proc.wait(5)
            raise

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def wait_ready(self, timeout: float = 30.0) -> None:
        import urllib.request

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"replica exited with {self.proc.returncode}:\n{self.log.read_text()}")
            try:
                with urllib.request.urlopen(f"{self.url}/readyz", timeout=1) as response:
                    if response.status == 200:
                        return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError(f"replica not ready within {timeout}s:\n{self.log.read_text()}")

    def terminate(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)

    def stop(self, timeout: float = 40.0) -> int:
        self.terminate()
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return self.proc.wait(5)


def cluster_config(upstream: Upstream, database: str, state: str, keys: list[dict[str, Any]],
                   **extra: Any) -> dict[str, Any]:
    return {
        "database": database, "state": state, "admin_key": ADMIN_KEY,
        "providers": {"up": {"type": "openai", "base_url": f"{upstream.url}/v1", "api_key": "k", "max_retries": 0,
                             "timeout": 10}},
        "models": [{"id": "test/gpt", "name": "Test GPT", "context_length": 128000, "max_completion_tokens": 4096,
                    "endpoints": [{"provider": "up", "model": "gpt-4o-mini", "pricing": PRICE}]}],
        "keys": keys,
        "server": {"ledger_flush_interval": 0.05, "keepalive_interval": 0.5, "shutdown_grace": 20},
        **extra,
    }


@pytest.fixture
def start_replicas(tmp_path: Path) -> Iterator[Callable[..., list[Replica]]]:
    started: list[Replica] = []

    def start(config: dict[str, Any], count: int = 2) -> list[Replica]:
        # one after the other: the first migrates the database and writes the static keys
        replicas = [Replica(config, tmp_path, f"replica{len(started) + i}") for i in range(count)]
        started.extend(replicas)
        return replicas

    yield start
    for replica in started:
        replica.stop()


@pytest.fixture
def load(loop_thread: LoopThread) -> Callable[..., Any]:
    """Run an async load function (given an aiohttp session) on the test loop."""

    def run(fn: Callable[[aiohttp.ClientSession], Any], timeout: float = 90) -> Any:
        async def go() -> Any:
            connector = aiohttp.TCPConnector(limit=0)
            async with aiohttp.ClientSession(connector=connector,
                                             timeout=aiohttp.ClientTimeout(total=60)) as session:
                return await fn(session)

        return loop_thread.run(go(), timeout=timeout)

    return run


async def gather(*coros: Any) -> list[Any]:
    return list(await asyncio.gather(*coros))
