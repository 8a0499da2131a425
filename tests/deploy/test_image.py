"""The container image (Containerfile), built for real with buildah and run from the built image.

No image registry is reachable from the test machines, so the image is built on a local Debian
base that scripts/image.sh makes with debootstrap (kept in buildah's storage between runs: ~1 min the
first time); pip inside the build installs the dependencies from PyPI. The gateway is then started
from the image with `buildah run --isolation chroot` and the data folder bind-mounted at /data, as
`podman run -v folder:/data` would. chroot isolation shares the host's network, so the gateway
listens on a free loopback port (SWITCHPOINT_LISTEN, set on the container as `-e` would) and reaches
the upstream stand-in on loopback. Checked: /healthz, the HEALTHCHECK command inside the container,
a chat and a stream through the openai SDK, the ledger and its spool written to the volume by the
unprivileged user, and a graceful stop on SIGTERM.

buildah and debootstrap come from Debian (scripts/system-deps.sh); the tests run as root, as CI does."""

from __future__ import annotations

import json
import os
import shutil
import signal
import sqlite3
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx2
import openai
import pytest
import yaml

from ..conftest import TEST_KEY, base_config, free_port
from ..replies import chat, stream

ROOT = Path(__file__).resolve().parents[2]
IMAGE = "localhost/switchpoint:test"
UID = 10001  # the image's user (Containerfile)

pytestmark = pytest.mark.timeout(900)


def buildah(*args: str, timeout: float = 60, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["buildah", *args], capture_output=True, text=True, timeout=timeout, check=check)


@pytest.fixture(scope="module")
def image() -> str:
    """Build the image from the working tree, on the local Debian base."""
    if shutil.which("buildah") is None:
        pytest.fail("buildah is not installed: scripts/system-deps.sh installs it (make test runs it)")
    if os.geteuid() != 0:
        pytest.skip("building with buildah --isolation chroot needs root")
    started = time.monotonic()
    built = subprocess.run(["bash", "scripts/image.sh", "build"], cwd=ROOT, capture_output=True, text=True,
                           timeout=840, env={**os.environ, "BASE_IMAGE": "local", "IMAGE": IMAGE})
    assert built.returncode == 0, built.stdout[-4000:] + built.stderr[-4000:]
    print(f"image built in {time.monotonic() - started:.0f} s")
    return IMAGE


def test_the_image_runs_serve_unprivileged_with_data_in_a_volume(image: str):
    config = json.loads(buildah("inspect", "--type", "image", image).stdout)["Docker"]["config"]
    assert config["User"] == f"{UID}:{UID}"
    assert config["WorkingDir"] == "/data" and "/data" in config["Volumes"]
    assert config["Entrypoint"] == ["switchpoint"] and config["Cmd"] == ["serve"]
    assert "SWITCHPOINT_LISTEN=0.0.0.0:8080" in config["Env"]
    assert config["ExposedPorts"] == {"8080/tcp": {}}
    assert config["Healthcheck"]["Test"] == ["CMD", "switchpoint", "healthcheck"]


@pytest.fixture
def container(image: str) -> Iterator[str]:
    name = f"switchpoint-test-{os.getpid()}-{time.monotonic_ns()}"
    buildah("from", "--name", name, image)
    try:
        yield name
    finally:
        buildah("rm", name, check=False)


def descendants(pid: int) -> list[int]:
    """Every process below `pid` (the children of each of its threads: buildah is a Go program)."""
    found: list[int] = []
    children: list[str] = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            children += (task / "children").read_text().split()
        except FileNotFoundError:
            continue
    for child in children:
        found += [int(child), *descendants(int(child))]
    return found


def python_of(pid: int) -> bool:
    """Whether `pid` is the image's Python running as the image's user (buildah-chroot-exec, its parent,
    runs as that user too; it does not pass signals on)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
        command = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except FileNotFoundError:
        return False
    uid = int(next(line.split()[1] for line in status.splitlines() if line.startswith("Uid:")))
    return uid == UID and command[0] == b"/opt/switchpoint/bin/python3"


def container_process(runner: subprocess.Popen[str]) -> int:
    """The gateway inside the container, as a container runtime's first process would be (the ledger's
    writer process is its child)."""
    deadline = time.time() + 30
    while time.time() < deadline:
        assert runner.poll() is None, runner.communicate()[0]
        for pid in descendants(runner.pid):  # parents before their children
            if python_of(pid):
                return pid
        time.sleep(0.1)
    raise AssertionError("the gateway did not start as the image's user")


def test_the_gateway_serves_from_the_image(container: str, upstream, tmp_path: Path):
    data = tmp_path / "data"
    data.mkdir()
    os.chown(data, UID, UID)  # a bind-mounted folder must be writable by the image's user
    config = base_config(upstream, tmp_path)
    del config["database"]  # the default: ./switchpoint.db in /data, the volume
    (data / "switchpoint.yaml").write_text(yaml.safe_dump(config))
    upstream.queue("/v1/chat/completions", chat(content="from the image"), stream(["con", "tainer"]))
    port = free_port()
    # what `podman run -e SWITCHPOINT_LISTEN=... -v data:/data` does; the bind mount replaces the
    # image's anonymous /data volume (buildah run mounts that one over a bind mount otherwise)
    buildah("config", "--env", f"SWITCHPOINT_LISTEN=127.0.0.1:{port}", "--volume", "/data-", container)
    run = ["run", "--isolation", "chroot", "--volume", f"{data}:/data", container, "--"]
    runner = subprocess.Popen(["buildah", *run, "switchpoint", "serve"], stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        gateway = container_process(runner)
        deadline = time.time() + 60
        while True:
            assert runner.poll() is None, runner.communicate()[0]
            try:
                if httpx2.get(f"{url}/healthz", timeout=2).status_code == 200:
                    break
            except httpx2.TransportError:
                assert time.time() < deadline, "the gateway in the container did not answer /healthz"
                time.sleep(0.2)
        probe = buildah(*run, "switchpoint", "healthcheck", timeout=60, check=False)
        assert probe.returncode == 0 and f"ok {url}/healthz" in probe.stdout, probe.stdout + probe.stderr
        with openai.OpenAI(base_url=f"{url}/api/v1", api_key=TEST_KEY, max_retries=0, timeout=20) as client:
            reply = client.chat.completions.create(model="test/gpt", messages=[{"role": "user", "content": "hi"}])
            assert reply.choices[0].message.content == "from the image"
            pieces = [chunk.choices[0].delta.content or "" for chunk in client.chat.completions.create(
                model="test/gpt", messages=[{"role": "user", "content": "hi"}], stream=True) if chunk.choices]
            assert "".join(pieces) == "container"
        os.kill(gateway, signal.SIGTERM)  # as a container runtime stops the container's first process
        output = runner.communicate(timeout=60)[0]
    finally:
        if runner.poll() is None:
            os.killpg(runner.pid, signal.SIGKILL)
            runner.communicate()
    assert f"listening on http://127.0.0.1:{port}" in output, output
    assert "Traceback" not in output, output
    ledger = data / "switchpoint.db"
    assert ledger.stat().st_uid == UID
    assert (data / "switchpoint.db-spool").is_dir()
    with sqlite3.connect(ledger) as db:
        rows = db.execute("select id, status from generations order by created_at_ms").fetchall()
    assert len(rows) == 2 and rows[0] == (reply.id, "success") and rows[1][1] == "success"
