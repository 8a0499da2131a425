"""SIGTERM under load: in-flight requests and streams finish, and every response is in the ledger."""

from __future__ import annotations

import json
import signal
import sqlite3
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import yaml

from ..conftest import TEST_KEY, base_config, free_port
from ..upstream import Reply

CHUNK = (b'data: {"id":"c","object":"chat.completion.chunk","created":1,"model":"m",'
         b'"choices":[{"index":0,"delta":{"content":"tick "},"finish_reason":null}]}\n\n')
END = (b'data: {"id":"c","object":"chat.completion.chunk","created":1,"model":"m",'
       b'"choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}\n\n'
       b'data: {"id":"c","object":"chat.completion.chunk","created":1,"model":"m","choices":[],'
       b'"usage":{"prompt_tokens":5,"completion_tokens":20,"total_tokens":25}}\n\ndata: [DONE]\n\n')


def start_server(config_path: Path, port: int) -> subprocess.Popen[bytes]:
    process = subprocess.Popen([sys.executable, "-m", "switchpoint.cli.main", "serve", "--config", str(config_path),
                                "--port", str(port)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    deadline = time.time() + 20
    while time.time() < deadline:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1)
            return process
        except OSError:
            time.sleep(0.1)
    process.kill()
    raise AssertionError(process.stdout.read().decode() if process.stdout else "server did not start")


def test_sigterm_drains_streams_and_ledger(upstream, tmp_path):
    config = base_config(upstream, tmp_path)
    config["server"] = {"shutdown_grace": 20, "ledger_flush_interval": 5.0}  # rows stay queued until drained
    path = tmp_path / "switchpoint.yaml"
    path.write_text(yaml.safe_dump(config))
    port = free_port()
    process = start_server(path, port)
    upstream.always("/v1/chat/completions", Reply(chunks=[CHUNK, 0.1] * 15 + [END], content_type="text/event-stream"))

    results: list[tuple[str, str]] = []
    errors: list[BaseException] = []

    def stream_one() -> None:
        try:
            body = json.dumps({"model": "test/gpt", "stream": True, "messages": [{"role": "user", "content": "x"}]})
            request = urllib.request.Request(f"http://127.0.0.1:{port}/api/v1/chat/completions", data=body.encode(),
                                             headers={"authorization": f"Bearer {TEST_KEY}",
                                                      "content-type": "application/json"})
            with urllib.request.urlopen(request, timeout=30) as response:
                text = response.read().decode()
            first = json.loads(text.split("\n\n")[0][6:])
            results.append((first["id"], text))
        except BaseException as exc:  # noqa: BLE001 - collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=stream_one) for _ in range(12)]
    for thread in threads:
        thread.start()
    time.sleep(0.6)  # all streams are mid-flight
    process.send_signal(signal.SIGTERM)
    for thread in threads:
        thread.join(30)
    process.wait(30)

    assert errors == []
    assert len(results) == 12
    for _, text in results:
        assert text.rstrip().endswith("data: [DONE]")
        assert text.count("tick") == 15  # every stream finished in full
    with sqlite3.connect(tmp_path / "ledger.db") as db:
        rows = dict(db.execute("select id, status from generations").fetchall())
    assert {gid: rows.get(gid) for gid, _ in results} == {gid: "success" for gid, _ in results}
    assert process.returncode in (0, -signal.SIGTERM)  # uvicorn re-raises SIGTERM after a clean shutdown
