"""Switchpoint's upstream client against aiohttp, request by request, on the same real servers: nginx
(plain HTTP, and TLS with a certificate from a test CA; files of the matrix sizes with gzip off and
on), the same nginx through tinyproxy (plain HTTP in absolute form, HTTPS through a CONNECT tunnel),
and a raw server that writes every byte of its answer separately. For every request both clients must
see the same status and the same body; Switchpoint's whole reads and chunked reads alike. Runs on
uvloop, the gateway's event loop."""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass

import aiohttp
import pytest
import uvloop

from switchpoint.errors import CONNECT, UpstreamError
from switchpoint.proxy import Proxies
from switchpoint.transport import Transport
from switchpoint.types import UpstreamRequest
from switchpoint.upstream_settings import UpstreamSettings, tls_context

from .conftest import Gateway
from .nginx import CHAT_ANSWER, LocalCA, Nginx
from .server.test_errors import post
from .test_proxy import TinyProxy
from .test_transport import RawServer
from .test_transport_matrix import ENCODINGS, FRAMINGS, SIZES, answer, body

ROUTES = ["http", "https", "http-via-tinyproxy", "https-via-tinyproxy"]
# nginx compresses on every request: the largest file is served compressed only up to 4 MiB (the
# matrix in test_transport_matrix.py covers 32 MiB gzip bodies)
PATHS = [f"/plain/{size}.bin" for size in SIZES] + [f"/gz/{size}.bin" for size in SIZES if size <= 4 << 20] + [
    "POST /v1/chat/completions", "/moved", "/plain/missing", "/gz/missing"]
SPLIT_SIZES = [0, 1, 1500]  # answers written one byte at a time


@dataclass
class Site:
    nginx: Nginx
    ca: LocalCA


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    folder = tmp_path_factory.mktemp("nginx")
    root = folder / "root"
    root.mkdir()
    for size in SIZES:
        (root / f"{size}.bin").write_bytes(body(size))
    ca = LocalCA(folder)
    nginx = Nginx(folder, root, ca)
    yield Site(nginx, ca)
    nginx.stop()


@pytest.fixture(scope="module")
def tinyproxy(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TinyProxy]:
    proxy = TinyProxy(tmp_path_factory.mktemp("tinyproxy"))
    yield proxy
    proxy.stop()


Fetch = Callable[[str, str, bytes | None], Awaitable[tuple[int, bytes]]]


async def compare(urls: list[tuple[str, str, bytes | None]], transport: Transport, session: aiohttp.ClientSession,
                  *, provider: str | None = None, proxy: str | None = None,
                  context: ssl.SSLContext | None = None) -> list[tuple[int, bytes, str | None]]:
    """Each request through Switchpoint (whole read, then chunks) and aiohttp: the same status, body
    and Content-Encoding."""
    seen = []
    for method, url, data in urls:
        results = []
        for mode in ("read", "chunks"):
            response = await transport.send(UpstreamRequest(method, url, {}, data), first_byte_timeout=20,
                                            read_timeout=20, provider=provider)
            got = await response.read() if mode == "read" else b"".join([c async for c in response.chunks()])
            response.release()
            results.append((response.status, got, response.headers.get("content-encoding")))
        async with session.request(method, url, data=data, allow_redirects=False, proxy=proxy,
                                   ssl=context if context is not None else True) as response:
            results.append((response.status, await response.read(), response.headers.get("content-encoding")))
        assert results[0] == results[1] == results[2], (method, url, [(s, len(b), e) for s, b, e in results])
        seen.append(results[0])
    return seen


@pytest.mark.parametrize("path", PATHS, ids=lambda p: p.replace("POST ", "post"))
@pytest.mark.parametrize("route", ROUTES)
def test_nginx(site: Site, tinyproxy: TinyProxy, route: str, path: str) -> None:
    tls = route.startswith("https")
    method, _, path = path.rpartition(" ")
    method = method or "GET"
    data = b'{"model":"m","messages":[]}' if method == "POST" else None
    url = site.nginx.url(path, tls=tls)
    base = site.nginx.url("", tls=tls)

    async def run() -> None:
        proxy = tinyproxy.url() if "tinyproxy" in route else None
        transport = Transport(proxies=Proxies(overrides={base: proxy}) if proxy else None,
                              settings={"nginx": UpstreamSettings(tls=tls_context(str(site.ca.ca)))})
        context = ssl.create_default_context(cafile=str(site.ca.ca)) if tls else None
        async with aiohttp.ClientSession() as session:
            [(status, got, encoding)] = await compare([(method, url, data)], transport, session, provider="nginx",
                                                      proxy=proxy, context=context)
        await transport.close()
        if path.endswith(".bin"):
            size = int(path.rsplit("/", 1)[1].removesuffix(".bin"))
            assert status == 200 and got == body(size)
            assert encoding == ("gzip" if path.startswith("/gz/") else None)
        elif method == "POST":
            assert status == 200 and got == CHAT_ANSWER.encode()
        else:
            assert status == (301 if path == "/moved" else 404) and b"nginx" in got

    uvloop.run(run())


def test_a_certificate_from_an_unknown_ca_fails_on_both(site: Site) -> None:
    url = site.nginx.url("/plain/1.bin", tls=True)

    async def run() -> None:
        transport = Transport()
        with pytest.raises(UpstreamError) as caught:
            await transport.send(UpstreamRequest("GET", url, {}), first_byte_timeout=5)
        assert caught.value.kind == CONNECT and "CERTIFICATE_VERIFY_FAILED" in caught.value.message
        async with aiohttp.ClientSession() as session:
            with pytest.raises(aiohttp.ClientConnectorCertificateError):
                await session.get(url)
        await transport.close()

    uvloop.run(run())


@pytest.mark.parametrize("encoding", [*ENCODINGS, "gzip-members"])
@pytest.mark.parametrize("framing", FRAMINGS)
@pytest.mark.parametrize("size", SPLIT_SIZES, ids=lambda s: f"{s}B")
def test_an_answer_written_one_byte_at_a_time(size: int, framing: str, encoding: str) -> None:
    async def byte_by_byte(_request: bytes, _reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        data, closes = answer(size, framing, encoding)
        for i in range(len(data)):
            writer.write(data[i:i + 1])
            await asyncio.sleep(0)  # a turn of the loop: the client reads this byte alone
        await writer.drain()
        if closes:
            writer.close()

    async def run() -> None:
        async with RawServer(byte_by_byte) as server:
            transport = Transport()
            async with aiohttp.ClientSession() as session:
                [(status, got, sent_as)] = await compare([("POST", server.url(), b"{}")], transport, session)
            await transport.close()
        assert status == 200 and got == body(size)
        assert sent_as == (None if encoding == "identity" else encoding.removesuffix("-members"))

    uvloop.run(run())


def test_a_gateway_provider_trusts_its_own_ca_file(site: Site, make_gateway: Callable[..., Gateway]) -> None:
    """`tls: {ca_file}` in switchpoint.yaml reaches the transport: the provider with it is served over
    TLS by nginx; the same upstream without it fails verification (a 502 that says so)."""
    base = site.nginx.url("/v1", tls=True, host="localhost")
    provider = {"type": "openai", "base_url": base, "api_key": "k", "max_retries": 0, "timeout": 5}
    gateway = make_gateway(
        providers={"trusted": {**provider, "tls": {"ca_file": str(site.ca.ca)}}, "untrusted": provider},
        models=[{"id": "test/nginx", "endpoints": [{"provider": "trusted", "model": "m"}]},
                {"id": "test/untrusted", "endpoints": [{"provider": "untrusted", "model": "m"}]}])
    hi = {"messages": [{"role": "user", "content": "hi"}]}
    status, _, answer_body = post(gateway, {"model": "test/nginx", **hi})
    assert status == 200 and answer_body["choices"][0]["message"]["content"] == "from nginx"
    status, _, answer_body = post(gateway, {"model": "test/untrusted", **hi})
    assert status == 502 and "CERTIFICATE_VERIFY_FAILED" in answer_body["error"]["message"]
