"""Egress through an HTTP proxy: tinyproxy, a real forward proxy, between the upstream client and
raw upstream servers (plain HTTP in absolute form, HTTPS through a CONNECT tunnel), on both event
loops the gateway runs on; the settings and NO_PROXY; and a gateway whose providers sit behind it."""

from __future__ import annotations

import asyncio
import socket
import ssl
import subprocess
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import openai
import pytest
import uvloop

from switchpoint.config import load_config
from switchpoint.errors import CONNECT, ConfigError, UpstreamError
from switchpoint.net.proxy import NoProxy, Proxies, parse_proxy
from switchpoint.net.transport import Transport

from ..conftest import TEST_KEY, Gateway, base_config, free_port
from ..upstream import Reply, Upstream
from .test_transport import RawServer, _certificate, ok, request

RUNNERS = {"asyncio": asyncio.run, "uvloop": uvloop.run}


class TinyProxy:
    def __init__(self, folder: Path) -> None:
        self.port = free_port()
        self.log = folder / "tinyproxy.log"
        conf = folder / "tinyproxy.conf"
        conf.write_text(f"Port {self.port}\nListen 127.0.0.1\nTimeout 30\nMaxClients 50\nLogLevel Connect\n"
                        f'LogFile "{self.log}"\nBasicAuth user s3cr3t\n')
        self.process = subprocess.Popen(["tinyproxy", "-d", "-c", str(conf)], stdout=subprocess.DEVNULL,
                                        stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline or self.process.poll() is not None:
                    self.stop()
                    raise RuntimeError("tinyproxy did not start") from None
                time.sleep(0.05)

    def url(self, credentials: str = "user:s3cr%33t") -> str:
        return f"http://{credentials}@127.0.0.1:{self.port}" if credentials else f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(10)


@pytest.fixture(scope="module")
def tinyproxy(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TinyProxy]:
    proxy = TinyProxy(tmp_path_factory.mktemp("tinyproxy"))
    yield proxy
    proxy.stop()


def run_on(runner: str, test: Callable[[], Awaitable[None]]) -> None:
    RUNNERS[runner](test())


def through(proxy: str, base_url: str) -> Proxies:
    """`proxy` for the URLs under `base_url`: a provider's own `proxy` setting. (The `proxy.http` and
    `proxy.https` defaults never apply to loopback hosts, and every test server is on loopback.)"""
    return Proxies(overrides={base_url: proxy})


def test_proxy_urls() -> None:
    proxy = parse_proxy("http://us%40er:p%3Ass@proxy.corp:3128")
    assert (proxy.host, proxy.port, proxy.literal) == ("proxy.corp", 3128, False)
    assert proxy.authorization == "Basic dXNAZXI6cDpzcw=="  # us@er:p:ss
    assert parse_proxy("10.0.0.1:8080").literal and parse_proxy("proxy").port == 80
    with pytest.raises(ValueError, match="socks5:// proxies are not supported"):
        parse_proxy("socks5://proxy:1080")
    with pytest.raises(ValueError, match="names no proxy host"):
        parse_proxy("http://:3128")


def test_no_proxy_matches_names_addresses_ranges_and_ports() -> None:
    rules = NoProxy("localhost, .internal.corp,example.com:8443,10.0.0.0/8,[::1],192.168.1.5:80")
    assert rules.matches("localhost", 80) and rules.matches("LOCALHOST.", 11434)
    assert rules.matches("internal.corp", 443) and rules.matches("a.b.internal.corp", 443)
    assert not rules.matches("notinternal.corp", 443)
    assert rules.matches("example.com", 8443) and not rules.matches("example.com", 443)
    assert rules.matches("10.2.3.4", 443) and not rules.matches("11.0.0.1", 443)
    assert rules.matches("::1", 11434) and rules.matches("192.168.1.5", 80) and not rules.matches("192.168.1.5", 81)
    assert NoProxy("*").matches("api.openai.com", 443) and not NoProxy("").matches("api.openai.com", 443)


def test_proxies_pick_by_provider_then_scheme() -> None:
    proxies = Proxies(https="http://p:1", no_proxy="internal",
                      overrides={"https://api.local/v1/": "none", "https://api.other.com/": "http://q:2"})
    pick = proxies.for_url
    assert pick("https://api.openai.com/v1/chat", "https", "api.openai.com", 443).host == "p"
    assert pick("http://api.openai.com/v1/chat", "http", "api.openai.com", 80) is None  # no http proxy set
    assert pick("https://api.local/v1/chat", "https", "api.local", 443) is None
    assert pick("https://api.local/v10/chat", "https", "api.local", 443).host == "p"  # not under the base URL
    assert pick("https://api.other.com/x", "https", "api.other.com", 443).host == "q"
    assert pick("https://x.internal/x", "https", "x.internal", 443) is None
    for host in ("localhost", "127.0.0.1", "127.8.0.1", "::1"):  # loopback: always directly
        assert pick(f"https://{host}/v1", "https", host, 443) is None
    assert Proxies(https="http://p:1", overrides={"https://localhost/v1": "http://q:2"}).for_url(
        "https://localhost/v1/chat", "https", "localhost", 443).host == "q"  # unless its provider says so
    assert not Proxies() and Proxies(http="http://p:1")


def test_settings_default_to_the_environment_and_are_checked(tmp_path: Path) -> None:
    env = {"HTTPS_PROXY": "http://upper:1", "https_proxy": "http://lower:1", "ALL_PROXY": "http://all:1",
           "NO_PROXY": "localhost"}
    config = load_config(None, env=env)
    assert (config.proxy.https, config.proxy.http, config.proxy.no_proxy) == ("http://lower:1", "http://all:1",
                                                                            "localhost")
    assert load_config(None, env={}).proxy.https is None
    path = tmp_path / "switchpoint.yaml"
    path.write_text("proxy: {https: 'http://file:1'}\nproviders:\n  local: {type: ollama, proxy: NONE}\n")
    config = load_config(path, env=env)
    assert config.proxy.https == "http://file:1" and config.providers["local"].proxy == "none"
    path.write_text("proxy: {https: 'socks5://p:1080'}\nproviders:\n  o: {type: openai, proxy: 'https://p'}\n")
    with pytest.raises(ConfigError) as caught:
        load_config(path, env={})
    text = str(caught.value)
    assert "proxy.https" in text and "socks5:// proxies are not supported" in text
    assert "providers.o.proxy" in text and "https:// proxies are not supported" in text


@pytest.mark.parametrize("runner", RUNNERS)
def test_plain_http_goes_to_the_proxy_in_absolute_form(tinyproxy: TinyProxy, runner: str) -> None:
    async def test() -> None:
        async with RawServer(ok) as server:
            transport = Transport(proxies=through(tinyproxy.url(), server.url("/v1")))
            for _ in range(2):
                response = await transport.send(request(server.url("/v1/x?a=1")), first_byte_timeout=5)
                assert response.status == 200 and await response.read() == b'{"ok":true}'
                response.release()
            assert len(server.requests) == 2
            first = server.requests[0]
            assert first.startswith(b"POST /v1/x?a=1 HTTP/1.1\r\n")  # the proxy turned it back to origin form
            assert b"(tinyproxy/" in first and b"Proxy-Authorization" not in first
            assert first.endswith(b'{"model":"m"}')
        await transport.close()

    run_on(runner, test)
    assert "): POST http://127.0.0.1:" in tinyproxy.log.read_text()


@pytest.mark.parametrize("runner", RUNNERS)
def test_https_is_tunnelled_with_connect_and_verified_end_to_end(tinyproxy: TinyProxy, tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch,
                                                                  runner: str) -> None:
    cert, key = _certificate(tmp_path)
    monkeypatch.setenv("SSL_CERT_FILE", str(cert))

    async def test() -> None:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(cert, key)
        raw = RawServer(ok)
        server = await asyncio.start_server(raw._serve, "127.0.0.1", 0, ssl=context)
        port = server.sockets[0].getsockname()[1]
        transport = Transport(proxies=through(tinyproxy.url(), f"https://localhost:{port}/v1"))
        try:
            for _ in range(3):
                response = await transport.send(request(f"https://localhost:{port}/v1/chat"), first_byte_timeout=5)
                assert response.status == 200 and await response.read() == b'{"ok":true}'
                response.release()
            assert raw.connections == 1 and len(raw.requests) == 3  # one tunnel, kept alive
            assert raw.requests[0].startswith(b"POST /v1/chat HTTP/1.1\r\nHost: localhost:%d\r\n" % port)
            assert b"Via:" not in raw.requests[0]  # inside the tunnel the proxy sees only TLS
        finally:
            await transport.close()
            server.close()

    run_on(runner, test)
    assert "): CONNECT localhost:" in tinyproxy.log.read_text()


@pytest.mark.parametrize("runner", RUNNERS)
def test_refusals_by_the_proxy_are_connect_errors(tinyproxy: TinyProxy, runner: str) -> None:
    async def test() -> None:
        anonymous, wrong = tinyproxy.url(""), tinyproxy.url("user:wrong")
        async with RawServer(ok) as server:
            tls = f"https://localhost:{server.port}/v1"
            for proxies, url, message in [
                (through(anonymous, server.url()), server.url(),
                 f"the proxy at 127.0.0.1:{tinyproxy.port} wants credentials (407)"),
                (through(anonymous, tls), tls,
                 f"refused the tunnel to localhost:{server.port}: HTTP/1.0 407 Proxy Authentication Required"),
                (through(wrong, tls), tls,
                 f"refused the tunnel to localhost:{server.port}: HTTP/1.0 401 Unauthorized"),
                (through(f"http://127.0.0.1:{free_port()}", tls), tls,
                 "could not reach the provider through the proxy at 127.0.0.1:"),
            ]:
                transport = Transport(proxies=proxies)
                with pytest.raises(UpstreamError) as caught:
                    await transport.send(request(url), first_byte_timeout=5)
                assert caught.value.kind == CONNECT and message in caught.value.message
                await transport.close()
            assert server.requests == []

    run_on(runner, test)


def test_loopback_hosts_are_reached_directly(tinyproxy: TinyProxy) -> None:
    async def test() -> None:
        transport = Transport(proxies=Proxies(http=tinyproxy.url(), https=tinyproxy.url()))
        async with RawServer(ok) as server:
            for host in ("127.0.0.1", "localhost"):
                response = await transport.send(request(server.url(host=host)), first_byte_timeout=5)
                await response.read()
                response.release()
            assert len(server.requests) == 2 and not any(b"tinyproxy" in r for r in server.requests)
        await transport.close()

    run_on("uvloop", test)


def test_a_gateway_reaches_its_providers_through_the_proxy(tinyproxy: TinyProxy, make_gateway: Any,
                                                           upstream: Upstream) -> None:
    upstream.always("/v1/chat/completions", Reply.file("openai/chat_text.response.json"))
    upstream.always("/backup/v1/chat/completions", Reply.file("openai/chat_text.response.json"))
    base = base_config(upstream, Path("."))["providers"]
    gateway: Gateway = make_gateway(proxy={"http": tinyproxy.url("")},  # loopback: not used
                                    providers={"up": {**base["up"], "proxy": tinyproxy.url()}})
    client = openai.OpenAI(base_url=f"{gateway.url}/api/v1", api_key=TEST_KEY, max_retries=0, timeout=20)
    for provider in ("up", "backup"):
        completion = client.chat.completions.create(model="test/fallback", messages=[{"role": "user", "content": "hi"}],
                                                    extra_body={"provider": {"order": [provider]}})
        assert completion.choices[0].message.content and completion.model_extra["provider"] == provider
    via = {r.path: r.headers.get("via", "") for r in upstream.received}
    assert "(tinyproxy/" in via["/v1/chat/completions"]  # `up` has its own proxy
    assert via["/backup/v1/chat/completions"] == ""      # `backup` is on loopback: directly
    assert upstream.received[0].headers["authorization"] == "Bearer upstream-key"
