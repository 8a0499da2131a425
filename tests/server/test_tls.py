"""`server.tls`: the gateway serves HTTPS itself, with one process or `--workers N`. The openai SDK,
trusting only a self-signed certificate made here, gets a chat and a stream over it; a plain-HTTP
client gets no answer, and a key that does not match its certificate stops `serve` with a clear
message."""

from __future__ import annotations

import os
import signal
import sqlite3
import ssl
import subprocess
import sys
import time
from pathlib import Path

import httpx2
import openai
import pytest
import yaml

from switchpoint.cli.healthcheck import probe_url
from switchpoint.config import load_config
from switchpoint.errors import ConfigError
from switchpoint.net.tls import TLSFilesError, server_context

from ..conftest import TEST_KEY, base_config, free_port
from ..deploy.tls import self_signed
from ..replies import chat, stream


def serve(config_path: Path, port: int, workers: int) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-m", "switchpoint.cli.main", "serve", "--config", str(config_path),
                             "--port", str(port), "--workers", str(workers)],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)


def healthcheck(config_path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "switchpoint.cli.main", "healthcheck", "--config", str(config_path)],
                          capture_output=True, text=True, timeout=30)


def stop(process: subprocess.Popen[bytes]) -> str:
    process.send_signal(signal.SIGTERM)
    try:
        return process.communicate(timeout=40)[0].decode()
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        return process.communicate(timeout=10)[0].decode()


def wait_healthy(process: subprocess.Popen[bytes], url: str, verify: ssl.SSLContext) -> None:
    deadline = time.time() + 30
    while time.time() < deadline:
        if process.poll() is not None:
            raise AssertionError(process.communicate()[0].decode())
        try:
            if httpx2.get(f"{url}/healthz", verify=verify, timeout=2).status_code == 200:
                return
        except httpx2.TransportError:
            time.sleep(0.1)
    raise AssertionError(f"the gateway did not answer over HTTPS: {stop(process)}")


@pytest.mark.parametrize("workers", [1, 2])
def test_the_openai_sdk_chats_and_streams_over_https(upstream, tmp_path: Path, workers: int):
    cert, key = self_signed(tmp_path)
    config = base_config(upstream, tmp_path)
    config["server"] = {**config["server"], "tls": {"cert": str(cert), "key": str(key)}}
    port = free_port()
    config["listen"] = f"127.0.0.1:{port}"
    path = tmp_path / "switchpoint.yaml"
    path.write_text(yaml.safe_dump(config))
    upstream.queue("/v1/chat/completions", chat(content="over TLS"), stream(["sec", "ure"]))
    url = f"https://localhost:{port}"
    process = serve(path, port, workers)
    try:
        trust = ssl.create_default_context(cafile=str(cert))  # this certificate only
        wait_healthy(process, url, trust)
        with openai.OpenAI(base_url=f"{url}/api/v1", api_key=TEST_KEY, max_retries=0, timeout=20,
                           http_client=httpx2.Client(verify=trust)) as client:
            reply = client.chat.completions.create(model="test/gpt", messages=[{"role": "user", "content": "hi"}])
            assert reply.choices[0].message.content == "over TLS"
            pieces = [chunk.choices[0].delta.content or "" for chunk in client.chat.completions.create(
                model="test/gpt", messages=[{"role": "user", "content": "hi"}], stream=True) if chunk.choices]
            assert "".join(pieces) == "secure"
        # the container's HEALTHCHECK command: https, on loopback, from the config alone
        probe = healthcheck(path)
        assert probe.returncode == 0 and f"ok https://127.0.0.1:{port}/healthz" in probe.stdout, probe.stderr
        # the same port speaks only TLS: a plain request gets no HTTP answer
        with pytest.raises(httpx2.TransportError):
            httpx2.get(f"http://127.0.0.1:{port}/healthz", timeout=5)
        # a client that does not trust the certificate is refused in the handshake
        with pytest.raises(httpx2.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
            httpx2.get(f"{url}/healthz", timeout=5)
    finally:
        output = stop(process)
    assert process.returncode in (0, -signal.SIGTERM), output  # uvicorn re-raises SIGTERM after a clean stop
    assert f"listening on https://127.0.0.1:{port}" in output
    stopped = healthcheck(path)
    assert stopped.returncode == 1 and f"https://127.0.0.1:{port}/healthz" in stopped.stderr
    with sqlite3.connect(tmp_path / "ledger.db") as db:
        assert db.execute("select count(*) from generations").fetchone()[0] == 2


def test_the_healthcheck_asks_loopback_when_the_gateway_listens_everywhere():
    assert probe_url("0.0.0.0", 8080, tls=False) == "http://127.0.0.1:8080/healthz"
    assert probe_url("::", 8443, tls=True) == "https://[::1]:8443/healthz"
    assert probe_url("10.1.2.3", 8080, tls=True) == "https://10.1.2.3:8080/healthz"


def test_a_key_that_does_not_match_stops_serve_with_a_clear_message(upstream, tmp_path: Path):
    cert, _ = self_signed(tmp_path, "one")
    _, other_key = self_signed(tmp_path, "two")
    with pytest.raises(TLSFilesError, match="the key does not match the certificate"):
        server_context(str(cert), str(other_key))
    config = base_config(upstream, tmp_path)
    config["server"] = {"tls": {"cert": str(cert), "key": str(other_key)}}
    path = tmp_path / "switchpoint.yaml"
    path.write_text(yaml.safe_dump(config))
    process = serve(path, free_port(), 1)
    output = process.communicate(timeout=30)[0].decode()
    assert process.returncode == 1
    assert f"server.tls: cannot use {cert} with {other_key}: the key does not match the certificate" in output
    assert "Traceback" not in output


def test_config_check_names_a_missing_or_wrong_file(tmp_path: Path):
    cert, key = self_signed(tmp_path)
    path = tmp_path / "switchpoint.yaml"
    path.write_text(yaml.safe_dump({"server": {"tls": {"cert": str(tmp_path / "nowhere.pem"), "key": str(cert)}}}))
    with pytest.raises(ConfigError) as raised:
        load_config(path, env={})
    problems = dict(raised.value.problems)
    assert "cannot be read" in problems["server.tls.cert"]
    assert problems["server.tls.key"] == f"{str(cert)!r} holds no PEM private key"
    path.write_text(yaml.safe_dump({"server": {"tls": {"cert": str(cert), "key": str(key)}}}))
    assert load_config(path, env={}).server.tls is not None
