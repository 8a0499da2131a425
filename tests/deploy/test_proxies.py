"""The nginx and Caddy configurations of docs/deployment.md, taken from the page itself, in a real
nginx and a real Caddy that terminate TLS in front of a real gateway: the openai SDK (trusting the
test's certificate) gets a chat and a stream through each, and the stream's events arrive as the
upstream sends them, not all together at its end (which is what a buffering proxy does).
scripts/system-deps.sh installs both."""

from __future__ import annotations

import re
import shutil
import ssl
import subprocess
import time
from pathlib import Path

import httpx2
import openai
import pytest

from ..conftest import TEST_KEY, free_port
from ..net.nginx import die_with_parent, nginx_conf
from ..replies import chat, stream
from ..servers import stop, wait_port
from .tls import self_signed

DOC = Path(__file__).resolve().parents[2] / "docs" / "deployment.md"
PAUSE = 0.6  # seconds between the upstream's stream events


def doc_block(heading: str, language: str) -> str:
    """The first ```language block after `heading` in docs/deployment.md."""
    text = DOC.read_text()
    section = text[text.index(heading):]
    match = re.search(rf"```{language}\n(.*?)```", section, re.S)
    assert match, f"no {language} block under {heading!r} in {DOC}"
    return match.group(1)


def replace_once(text: str, old: str, new: str) -> str:
    assert text.count(old) == 1, f"{old!r} should appear once in the documented configuration"
    return text.replace(old, new)


@pytest.fixture
def nginx_in_front(make_gateway, tmp_path: Path):
    binary = shutil.which("nginx") or "/usr/sbin/nginx"
    if not Path(binary).exists():
        pytest.fail("nginx is not installed: scripts/system-deps.sh installs it (make test runs it)")
    gateway = make_gateway()
    cert, key = self_signed(tmp_path)
    port = free_port()
    site = doc_block("## Behind nginx", "nginx")
    site = replace_once(site, "server 127.0.0.1:8080;", f"server 127.0.0.1:{gateway.port};")
    site = replace_once(site, "listen 443 ssl;", f"listen 127.0.0.1:{port} ssl;")
    site = replace_once(site, "/etc/ssl/llm.example.com/fullchain.pem", str(cert))
    site = replace_once(site, "/etc/ssl/llm.example.com/privkey.pem", str(key))
    (tmp_path / "site.conf").write_text(site)
    conf = nginx_conf(tmp_path, f"    include {tmp_path / 'site.conf'};")
    process = subprocess.Popen([binary, "-c", str(conf), "-p", str(tmp_path), "-e", str(tmp_path / "error.log")],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, preexec_fn=die_with_parent)
    try:
        wait_port(port, process, "nginx")
        yield f"https://localhost:{port}", ssl.create_default_context(cafile=str(cert))
    finally:
        stop(process)


@pytest.fixture
def caddy_in_front(make_gateway, tmp_path: Path):
    binary = shutil.which("caddy")
    if binary is None:
        pytest.fail("caddy is not installed: scripts/system-deps.sh installs it (make test runs it)")
    gateway = make_gateway()
    cert, key = self_signed(tmp_path)
    port = free_port()
    site = doc_block("## Behind Caddy", "caddy")
    site = replace_once(site, "reverse_proxy 127.0.0.1:8080 {", f"reverse_proxy 127.0.0.1:{gateway.port} {{")
    # the test's certificate instead of one from an ACME CA (no network here)
    site = replace_once(site, "llm.example.com {\n", f"https://localhost:{port} {{\n    tls {cert} {key}\n")
    # no admin endpoint (a fixed port); what Caddy saves goes to the test folder
    caddyfile = tmp_path / "Caddyfile"
    caddyfile.write_text("{\n    admin off\n    auto_https disable_redirects\n}\n\n" + site)
    home = tmp_path / "home"
    home.mkdir()
    env = {"HOME": str(home), "XDG_DATA_HOME": str(home / "data"), "XDG_CONFIG_HOME": str(home / "config"),
           "PATH": "/usr/bin:/bin"}
    log = (tmp_path / "caddy.log").open("wb")
    process = subprocess.Popen([binary, "run", "--config", str(caddyfile), "--adapter", "caddyfile"], env=env,
                               stdout=log, stderr=subprocess.STDOUT, preexec_fn=die_with_parent)
    try:
        wait_port(port, process, "caddy")
        yield f"https://localhost:{port}", ssl.create_default_context(cafile=str(cert))
    finally:
        stop(process)
        log.close()


@pytest.mark.parametrize("proxy", ["nginx_in_front", "caddy_in_front"])
def test_the_documented_proxy_streams_through_to_the_openai_sdk(proxy, request, upstream):
    url, trust = request.getfixturevalue(proxy)
    upstream.queue("/v1/chat/completions", chat(content="via the proxy"), stream(["one", "two", "three"], pause=PAUSE))
    with openai.OpenAI(base_url=f"{url}/api/v1", api_key=TEST_KEY, max_retries=0, timeout=30,
                       http_client=httpx2.Client(verify=trust)) as client:
        reply = client.chat.completions.create(model="test/gpt", messages=[{"role": "user", "content": "hi"}])
        assert reply.choices[0].message.content == "via the proxy"
        arrivals: list[tuple[float, str]] = []
        for chunk in client.chat.completions.create(model="test/gpt", stream=True,
                                                    messages=[{"role": "user", "content": "hi"}]):
            if chunk.choices and chunk.choices[0].delta.content:
                arrivals.append((time.monotonic(), chunk.choices[0].delta.content))
    assert [text for _, text in arrivals] == ["one", "two", "three"]
    # the upstream paused PAUSE seconds before each of "two" and "three": delivered as they came, they
    # arrive that far apart; held back by a buffering proxy, they would arrive together at the end
    assert arrivals[-1][0] - arrivals[0][0] > PAUSE
