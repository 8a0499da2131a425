"""Live reload of a real `switchpoint serve` (one process, and `--workers 2`): SIGHUP and `switchpoint
reload` apply a changed switchpoint.yaml (a provider, a model, a key, a limit) while a stream is in
flight, which completes; an invalid file is refused with its errors logged and the running
configuration kept; a start-only setting is reported as needing a restart."""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from ..conftest import ADMIN_KEY, PRICE, TEST_KEY, base_config, free_port
from ..replies import chat, stream

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="SIGHUP and SO_REUSEPORT workers")

NEW_KEY = "sk-sp-v1-reloaded-key-0123456789abcdef"
PIECES = [f"piece{i} " for i in range(25)]


class Served:
    def __init__(self, config: dict[str, Any], directory: Path, workers: int) -> None:
        self.path = directory / "switchpoint.yaml"
        self.write(config)
        self.log = directory / "serve.log"
        self.port = free_port()
        env = {**os.environ, "SWITCHPOINT_LOG_LEVEL": "INFO"}
        env.pop("SWITCHPOINT_ADMIN_KEY", None)
        with self.log.open("wb") as log:
            self.proc = subprocess.Popen([sys.executable, "-m", "switchpoint.cli.main", "serve", "--config",
                                          str(self.path), "--port", str(self.port), "--workers", str(workers)],
                                         stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True)
        wait_for(lambda: self.get("/readyz")[0] == 200, f"gateway not ready:\n{self.output()}")

    def write(self, config: dict[str, Any]) -> None:
        self.path.write_text(yaml.safe_dump(config))

    def output(self) -> str:
        return self.log.read_text()

    def request(self, method: str, path: str, body: Any = None, key: str = TEST_KEY) -> tuple[int, Any]:
        return call(self.port, method, path, body, key)

    def get(self, path: str, key: str = TEST_KEY) -> tuple[int, Any]:
        return self.request("GET", path, key=key)

    def models(self) -> set[str]:
        status, body = self.get("/api/v1/models")
        assert status == 200, body
        return {model["id"] for model in body["data"]}

    def everywhere(self, check: Callable[[], bool]) -> bool:
        """`check` holds on 12 fresh connections in a row (with workers, each lands on any of them)."""
        return all(check() for _ in range(12))

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(40)
        with contextlib.suppress(ProcessLookupError):  # what is left of its session (workers of a dead supervisor)
            os.killpg(self.proc.pid, signal.SIGKILL)
        if self.proc.poll() is None:
            self.proc.wait(10)


def call(port: int, method: str, path: str, body: Any = None, key: str = TEST_KEY) -> tuple[int, Any]:
    """One request on a new connection (with workers: any of them); (0, None) when it cannot connect."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=20)
    try:
        connection.request(method, path, body=None if body is None else json.dumps(body),
                           headers={"authorization": f"Bearer {key}", "content-type": "application/json"})
        response = connection.getresponse()
        return response.status, json.loads(response.read() or b"null")
    except OSError:
        return 0, None
    finally:
        connection.close()


def wait_for(condition: Callable[[], bool], message: str = "timed out", timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, message
        time.sleep(0.05)


class Stream(threading.Thread):
    """A streamed chat completion read line by line in the background."""

    def __init__(self, port: int) -> None:
        super().__init__(daemon=True)
        self.port = port
        self.started = threading.Event()
        self.content = ""
        self.done = False
        self.error: str | None = None

    def run(self) -> None:
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        try:
            connection.request("POST", "/api/v1/chat/completions", headers={
                "authorization": f"Bearer {TEST_KEY}", "content-type": "application/json"},
                body=json.dumps({"model": "test/gpt", "stream": True,
                                 "messages": [{"role": "user", "content": "count"}]}))
            response = connection.getresponse()
            for raw in response:
                line = raw.decode().strip()
                if not line.startswith("data: "):
                    continue
                if line == "data: [DONE]":
                    self.done = True
                    return
                chunk = json.loads(line[6:])
                if "error" in chunk:
                    self.error = str(chunk["error"])
                for choice in chunk.get("choices", []):
                    self.content += choice.get("delta", {}).get("content") or ""
                    if self.content:
                        self.started.set()
        except OSError as exc:
            self.error = repr(exc)
        finally:
            self.started.set()
            connection.close()


def changed(config: dict[str, Any], upstream: Any) -> dict[str, Any]:
    """A provider, a model on it, a key, a limit changed, and a start-only setting changed."""
    new = json.loads(json.dumps(config))
    new["providers"]["fresh"] = {"type": "openai", "base_url": f"{upstream.url}/fresh/v1", "api_key": "fresh-key",
                                 "max_retries": 0, "timeout": 5}
    new["models"].append({"id": "test/new", "name": "New", "context_length": 8000,
                          "endpoints": [{"provider": "fresh", "model": "fresh-model", "pricing": PRICE}]})
    new["keys"][0]["limit"] = 7.5
    new["keys"].append({"name": "reloaded", "key": NEW_KEY, "limit": 2.0})
    new["server"]["idle_timeout"] = 45
    return new


def invalid(config: dict[str, Any]) -> dict[str, Any]:
    bad = json.loads(json.dumps(config))
    bad["providers"]["fresh"]["type"] = "no-such-type"
    bad["keys"][1]["limit"] = -3
    bad["models"] = [m for m in bad["models"] if m["id"] != "test/new"]
    return bad


@pytest.fixture
def serve(upstream: Any, tmp_path: Path) -> Iterator[Callable[[int], tuple[Served, dict[str, Any]]]]:
    started: list[Served] = []

    def start(workers: int) -> tuple[Served, dict[str, Any]]:
        upstream.always("/v1/chat/completions", stream(PIECES, pause=0.2))
        upstream.always("/fresh/v1/chat/completions", chat(content="from the new provider"))
        config = base_config(upstream, tmp_path)
        config["keys"][0]["limit"] = 5.0
        config["server"]["ledger_flush_interval"] = 0.05
        served = Served(config, tmp_path, workers)
        started.append(served)
        return served, config

    yield start
    for served in started:
        served.stop()


def applied(served: Served) -> bool:
    return "test/new" in served.models() and served.get("/api/v1/key")[1]["data"]["limit"] == 7.5


@pytest.mark.parametrize("workers", [1, 2])
def test_sighup_applies_a_new_config_while_a_stream_is_in_flight(serve: Any, upstream: Any, workers: int) -> None:
    served, config = serve(workers)
    assert "test/new" not in served.models()
    assert served.request("POST", "/api/v1/chat/completions", {"model": "test/gpt", "messages": []},
                          key=NEW_KEY)[0] == 401

    in_flight = Stream(served.port)
    in_flight.start()
    assert in_flight.started.wait(20) and in_flight.error is None
    new = changed(config, upstream)
    served.write(new)
    served.proc.send_signal(signal.SIGHUP)
    wait_for(lambda: served.everywhere(lambda: applied(served)), f"not reloaded:\n{served.output()}")
    assert not in_flight.done  # the reload happened while the stream was being served
    in_flight.join(30)
    assert in_flight.done and in_flight.error is None
    assert in_flight.content == "".join(PIECES)  # the stream finished, whole, on the old configuration

    status, body = served.request("POST", "/api/v1/chat/completions",
                                  {"model": "test/new", "messages": [{"role": "user", "content": "hi"}]}, key=NEW_KEY)
    assert status == 200, body
    assert body["provider"] == "fresh" and body["choices"][0]["message"]["content"] == "from the new provider"
    assert served.get("/api/v1/key", key=NEW_KEY)[1]["data"]["limit"] == 2.0
    assert "server.idle_timeout changed but needs a restart" in served.output()
    assert served.output().count("needs a restart") == workers * 2  # a warning and the summary; nothing else

    # an invalid file: refused, with its errors logged, and the running configuration kept
    served.write(invalid(new))
    served.proc.send_signal(signal.SIGHUP)
    wait_for(lambda: served.output().count("reload refused") >= 2 * workers, f"not refused:\n{served.output()}")
    log = served.output()
    assert "reload refused, the running configuration is kept: providers.fresh.type:" in log
    assert "keys[1].limit:" in log
    time.sleep(0.5)  # let every worker finish its (refused) reload before checking it still serves the old config
    assert served.everywhere(lambda: applied(served))
    status, _ = served.request("POST", "/api/v1/chat/completions",
                               {"model": "test/new", "messages": [{"role": "user", "content": "hi"}]}, key=NEW_KEY)
    assert status == 200
    assert served.proc.poll() is None


def reload_cli(served: Served) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "SWITCHPOINT_URL": f"http://127.0.0.1:{served.port}", "SWITCHPOINT_ADMIN_KEY": ADMIN_KEY}
    return subprocess.run([sys.executable, "-m", "switchpoint.cli.main", "reload", "--config", str(served.path)],
                          capture_output=True, text=True, env=env, timeout=60, check=False)


@pytest.mark.parametrize("workers", [1, 2])
def test_switchpoint_reload_reports_what_happened(serve: Any, upstream: Any, workers: int) -> None:
    served, config = serve(workers)
    new = changed(config, upstream)
    served.write(new)
    done = reload_cli(served)
    assert done.returncode == 0, done.stderr
    assert f"reloaded {served.path.resolve()}" in done.stdout
    assert "server.idle_timeout changed: needs a restart" in done.stderr
    wait_for(lambda: served.everywhere(lambda: applied(served)), f"not reloaded:\n{served.output()}")

    served.write(invalid(new))
    done = reload_cli(served)
    assert done.returncode == 1
    assert "error providers.fresh.type:" in done.stderr and "error keys[1].limit:" in done.stderr
    assert "reload refused (400)" in done.stderr and "the running configuration is kept" in done.stderr
    assert served.everywhere(lambda: applied(served))

    env = {**os.environ, "SWITCHPOINT_URL": f"http://127.0.0.1:{served.port}", "SWITCHPOINT_ADMIN_KEY": "wrong"}
    done = subprocess.run([sys.executable, "-m", "switchpoint.cli.main", "reload"], capture_output=True, text=True,
                          env=env, timeout=60, check=False)
    assert done.returncode == 1 and "403" in done.stderr


def test_requests_under_way_finish_on_the_old_configuration_and_its_pools_close_after(
        make_gateway: Callable[..., Any], upstream: Any, tmp_path: Path) -> None:
    """In process: a stream planned before the reload is served by the provider the old configuration
    routes to; a request after it goes where the new one routes; the old pools close only after."""
    upstream.always("/v1/chat/completions", stream(PIECES[:10], pause=0.2))
    upstream.always("/backup/v1/chat/completions", chat(content="from backup"))
    gateway = make_gateway()
    path = tmp_path / "gw0" / "switchpoint.yaml"
    gateway.app.reloader.config_path = str(path)
    config = yaml.safe_load(path.read_text())
    config["models"][0]["endpoints"] = [{"provider": "backup", "model": "gpt-4o-mini", "pricing": PRICE}]
    old = gateway.services

    in_flight = Stream(gateway.port)
    in_flight.start()
    assert in_flight.started.wait(20) and in_flight.error is None
    path.write_text(yaml.safe_dump(config))
    result = gateway.loop.run(gateway.app.reloader.reload())
    assert result.ok, result
    assert gateway.services is not old and old.in_flight == 1
    assert len(gateway.app.reloader.retiring) == 1  # the old pools wait for the stream

    status, body = call(gateway.port, "POST", "/api/v1/chat/completions",
                        {"model": "test/gpt", "messages": [{"role": "user", "content": "hi"}]})
    assert status == 200 and body["provider"] == "backup"
    in_flight.join(30)
    assert in_flight.done and in_flight.content == "".join(PIECES[:10])
    wait_for(lambda: not gateway.app.reloader.retiring)
    assert old.in_flight == 0 and not any(old.transport._idle.values())
    rows = {row["provider"] for row in gateway.ledger()}
    assert rows == {"up", "backup"}  # the stream on the old route, the next request on the new one


def test_every_start_only_setting_names_a_setting() -> None:
    from switchpoint.config import Config
    from switchpoint.server.reload import RESTART_ONLY, keep_restart_only

    running = Config()
    for path in RESTART_ONLY:
        node: Any = running
        for part in path.split("."):
            assert part in type(node).model_fields, f"{path}: no such setting"
            node = getattr(node, part)
    changed = Config(listen="127.0.0.1:9999", database="sqlite:///other.db", admin_key="k" * 32)
    kept, paths = keep_restart_only(running, changed)
    assert paths == ["listen", "database"]
    assert (kept.listen, kept.database, kept.admin_key) == (running.listen, running.database, "k" * 32)
