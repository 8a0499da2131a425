"""The upstream HTTP client against a raw TCP server that writes exact bytes: keep-alive, framing,
compression, flow control, timeouts, broken connections and TLS."""

from __future__ import annotations

import asyncio
import gzip
import os
import subprocess
import zlib
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest

from switchpoint.errors import CONNECT, MALFORMED, TIMEOUT, UpstreamError
from switchpoint.transport import INFLATE_STEP, Transport
from switchpoint.types import UpstreamRequest
from switchpoint.upstream_settings import UpstreamSettings, tls_context

Script = Callable[[bytes, asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


class RawServer:
    """Reads each request (head and Content-Length body) and hands it to `script`, which writes
    whatever bytes it likes. Counts connections, and keeps every request it read."""

    def __init__(self, script: Script) -> None:
        self.script = script
        self.connections = 0
        self.requests: list[bytes] = []
        self.disconnected = asyncio.Event()
        self.server: asyncio.Server | None = None

    async def __aenter__(self) -> RawServer:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self.server is not None
        self.server.close()

    @property
    def port(self) -> int:
        assert self.server is not None
        return self.server.sockets[0].getsockname()[1]

    def url(self, path: str = "/v1/chat/completions", scheme: str = "http", host: str = "127.0.0.1") -> str:
        return f"{scheme}://{host}:{self.port}{path}"

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n"):
                    if line.lower().startswith(b"content-length:"):
                        length = int(line.split(b":", 1)[1])
                request = head + await reader.readexactly(length)
                self.requests.append(request)
                await self.script(request, reader, writer)
                if writer.is_closing():
                    return
        except (asyncio.IncompleteReadError, ConnectionError):
            self.disconnected.set()
        finally:
            writer.close()


def request(url: str, body: bytes = b'{"model":"m"}', headers: dict[str, str] | None = None) -> UpstreamRequest:
    return UpstreamRequest("POST", url, {"content-type": "application/json", **(headers or {})}, body)


def reply(body: bytes, *headers: str, status: str = "200 OK") -> bytes:
    head = [f"HTTP/1.1 {status}", *headers]
    if not any(h.lower().startswith(("content-length", "transfer-encoding", "connection: close")) for h in headers):
        head.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(head) + "\r\n\r\n").encode() + body


def chunked(*parts: bytes) -> bytes:
    return b"".join(b"%x\r\n%s\r\n" % (len(p), p) for p in parts) + b"0\r\n\r\n"


async def ok(_request: bytes, _reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    writer.write(reply(b'{"ok":true}', "Content-Type: application/json", "Retry-After: 3"))


async def served_on_a_new_connection(transport: Transport, server: RawServer) -> None:
    """The next request is answered, on a second connection: the first was not pooled."""
    server.script = ok
    response = await transport.send(request(server.url()), first_byte_timeout=5)
    assert await response.read() == b'{"ok":true}'
    assert server.connections == 2


async def test_keep_alive_reuses_one_connection_and_sends_a_well_formed_request() -> None:
    transport = Transport()
    async with RawServer(ok) as server:
        for _ in range(3):
            response = await transport.send(request(server.url("/v1/x?a=1"), headers={"X-Title": "café"}),
                                            first_byte_timeout=5)
            assert response.status == 200
            assert response.headers.get("retry-after") == "3" and response.headers["Content-Type"] == "application/json"
            assert await response.read() == b'{"ok":true}'
            response.release()
        assert server.connections == 1 and len(server.requests) == 3
        first = server.requests[0]
        assert first.startswith(b"POST /v1/x?a=1 HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n" % server.port)
        assert b"X-Title: caf\xc3\xa9\r\n" in first and b"Content-Length: 13\r\n" in first
        assert b"Accept-Encoding: gzip, deflate\r\n" in first and first.endswith(b'\r\n\r\n{"model":"m"}')
    await transport.close()


async def test_a_response_abandoned_before_its_end_is_not_reused() -> None:
    async def two_parts(_request: bytes, _reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + b"3\r\nabc\r\n")
        await writer.drain()

    transport = Transport()
    async with RawServer(two_parts) as server:
        response = await transport.send(request(server.url()), first_byte_timeout=5)
        chunks = response.chunks()
        assert await chunks.__anext__() == b"abc"
        await chunks.aclose()
        response.release()  # the body never ended: the connection is dropped, not pooled
        await asyncio.wait_for(server.disconnected.wait(), 5)
        await served_on_a_new_connection(transport, server)
    await transport.close()


async def test_chunked_stream_arrives_in_order_and_the_connection_is_reused() -> None:
    async def stream(_request: bytes, _reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n")
        for i in range(5):
            writer.write(chunked(f"data: {i}\n\n".encode())[:-5])  # one chunk, without the final 0 chunk
            await writer.drain()
            await asyncio.sleep(0.01)
        writer.write(b"0\r\n\r\n")

    transport = Transport()
    async with RawServer(stream) as server:
        for _ in range(2):
            response = await transport.send(request(server.url()), first_byte_timeout=5, read_timeout=5)
            received = b"".join([chunk async for chunk in response.chunks()])
            assert received == b"".join(f"data: {i}\n\n".encode() for i in range(5))
            response.release()
        assert server.connections == 1
    await transport.close()


async def test_a_body_without_length_ends_with_the_connection() -> None:
    async def until_close(_request: bytes, _reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\npart one, ")
        await writer.drain()
        writer.write(b"part two")
        await writer.drain()
        writer.close()

    transport = Transport()
    async with RawServer(until_close) as server:
        response = await transport.send(request(server.url()), first_byte_timeout=5)
        assert await response.read() == b"part one, part two"
        response.release()
        await served_on_a_new_connection(transport, server)
    await transport.close()


async def test_gzip_and_deflate_bodies_are_decoded_whole_and_streamed() -> None:
    text = b'{"choices":[{"message":{"content":"' + b"fox " * 500 + b'"}}]}'

    async def compressed(request_bytes: bytes, _reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if b"/gzip" in request_bytes:
            writer.write(reply(gzip.compress(text), "Content-Encoding: gzip"))
        elif b"/deflate" in request_bytes:
            writer.write(reply(zlib.compress(text), "Content-Encoding: deflate"))
        else:
            packed = gzip.compress(text)
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n")
            for start in range(0, len(packed), 7):
                writer.write(chunked(packed[start:start + 7])[:-5])
                await writer.drain()
            writer.write(b"0\r\n\r\n")

    transport = Transport()
    async with RawServer(compressed) as server:
        for path in ("/gzip", "/deflate"):
            response = await transport.send(request(server.url(path)), first_byte_timeout=5)
            assert await response.read() == text
            response.release()
        response = await transport.send(request(server.url("/stream")), first_byte_timeout=5)
        assert b"".join([chunk async for chunk in response.chunks()]) == text
        response.release()
    await transport.close()


async def test_a_large_body_is_read_whole_through_flow_control() -> None:
    big = os.urandom(3 << 20)

    async def large(_request: bytes, _reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
        for start in range(0, len(big), 1 << 16):
            writer.write(chunked(big[start:start + (1 << 16)])[:-5])
            await writer.drain()
        writer.write(b"0\r\n\r\n")

    transport = Transport()
    async with RawServer(large) as server:
        response = await transport.send(request(server.url()), first_byte_timeout=5, read_timeout=5)
        received = bytearray()
        async for chunk in response.chunks():
            received += chunk
            await asyncio.sleep(0.001)  # a slow reader: the socket is paused and resumed under it
        assert bytes(received) == big
        response.release()
    await transport.close()


async def test_interim_responses_are_skipped() -> None:
    async def early_hints(_request: bytes, _reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </x>\r\n\r\n")
        writer.write(reply(b"done", "X-Final: yes"))

    transport = Transport()
    async with RawServer(early_hints) as server:
        response = await transport.send(request(server.url()), first_byte_timeout=5)
        assert response.status == 200 and response.headers.get("x-final") == "yes"
        assert "link" not in response.headers
        assert await response.read() == b"done"
        response.release()
    await transport.close()


async def test_timeouts_before_the_head_and_between_reads() -> None:
    async def silent(_request: bytes, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read()  # until the client hangs up

    async def stalls(_request: bytes, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nfirst\r\n")
        await writer.drain()
        await reader.read()

    transport = Transport()
    async with RawServer(silent) as server:
        with pytest.raises(UpstreamError) as caught:
            await transport.send(request(server.url()), first_byte_timeout=0.2)
        assert caught.value.kind == TIMEOUT and caught.value.message == "no response within 0.2s"
        await asyncio.wait_for(server.disconnected.wait(), 5)  # the attempt's connection was dropped
    async with RawServer(stalls) as server:
        response = await transport.send(request(server.url()), first_byte_timeout=5, read_timeout=0.2)
        chunks = response.chunks()
        assert await chunks.__anext__() == b"first"
        with pytest.raises(UpstreamError) as caught:
            await chunks.__anext__()
        assert caught.value.kind == TIMEOUT and "went silent" in caught.value.message
        response.close()
    await transport.close()


async def test_broken_connections_are_connect_errors() -> None:
    async def hang_up(_request: bytes, _reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.close()

    async def cut_mid_body(_request: bytes, _reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly this")
        await writer.drain()
        writer.close()

    async def garbage(_request: bytes, _reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"this is not HTTP\r\n\r\n")

    transport = Transport()
    async with RawServer(hang_up) as server:
        with pytest.raises(UpstreamError) as caught:
            await transport.send(request(server.url()), first_byte_timeout=5)
        assert caught.value.kind == CONNECT and caught.value.message.startswith("could not reach the provider")
    async with RawServer(cut_mid_body) as server:
        response = await transport.send(request(server.url()), first_byte_timeout=5)
        with pytest.raises(UpstreamError) as caught:
            await response.read()
        assert caught.value.kind == CONNECT and "connection lost" in caught.value.message
        response.close()
    async with RawServer(garbage) as server:
        with pytest.raises(UpstreamError) as caught:
            await transport.send(request(server.url()), first_byte_timeout=5)
        assert caught.value.kind == CONNECT and "invalid HTTP response" in caught.value.message
    async with RawServer(ok) as server:
        port = server.port
    with pytest.raises(UpstreamError) as caught:  # nothing listens there any more
        await transport.send(request(f"http://127.0.0.1:{port}/v1"), first_byte_timeout=5)
    assert caught.value.kind == CONNECT and "could not reach the provider" in caught.value.message
    await transport.close()


async def test_a_pooled_connection_closed_as_its_keep_alive_ends_sends_the_request_again() -> None:
    answered: dict[asyncio.StreamWriter, int] = {}

    async def hang_up(_request: bytes, _reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.close()

    async def one_per_connection(_request: bytes, _reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if answered.get(writer):  # keep-alive over: the server closes as the next request arrives
            writer.close()
            return
        answered[writer] = 1
        await ok(_request, _reader, writer)

    async def half_a_head(_request: bytes, _reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if answered.get(writer):
            writer.write(b"HTTP/1.1 200 OK\r\nContent-")
            await writer.drain()
            writer.close()
            return
        answered[writer] = 1
        await ok(_request, _reader, writer)

    transport = Transport()
    async with RawServer(one_per_connection) as server:
        for _ in range(3):
            response = await transport.send(request(server.url()), first_byte_timeout=5)
            assert await response.read() == b'{"ok":true}'
            response.release()
        # each later request went out on the pooled connection, was dropped unanswered, and went again
        assert server.connections == 3 and len(server.requests) == 5
        # once only, and on a new connection: with two pooled connections, an upstream that drops
        # everything costs one resend, not one per pooled connection
        first = await transport.send(request(server.url()), first_byte_timeout=5)   # resent: 2 requests
        second = await transport.send(request(server.url()), first_byte_timeout=5)  # a new connection
        for response in (first, second):
            await response.read()
            response.release()
        assert server.connections == 5 and len(server.requests) == 8
        server.script = hang_up
        with pytest.raises(UpstreamError) as caught:
            await transport.send(request(server.url()), first_byte_timeout=5)
        assert caught.value.kind == CONNECT and server.connections == 6 and len(server.requests) == 10
    async with RawServer(half_a_head) as server:
        response = await transport.send(request(server.url()), first_byte_timeout=5)
        await response.read()
        response.release()
        with pytest.raises(UpstreamError) as caught:  # something was answered: it is not sent again
            await transport.send(request(server.url()), first_byte_timeout=5)
        assert caught.value.kind == CONNECT and "closed the connection" in caught.value.message
        assert server.connections == 1 and len(server.requests) == 2
    await transport.close()


async def test_a_header_with_a_line_break_is_never_sent() -> None:
    transport = Transport()
    async with RawServer(ok) as server:
        with pytest.raises(UpstreamError) as caught:
            await transport.send(request(server.url(), headers={"x-title": "a\r\nX-Injected: 1"}), first_byte_timeout=5)
        assert "line break" in caught.value.message
        assert server.requests == []
    await transport.close()


async def test_a_cancelled_request_drops_its_connection() -> None:
    async def slow(_request: bytes, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read()  # until the client hangs up
        raise ConnectionResetError

    transport = Transport()
    async with RawServer(slow) as server:
        task = asyncio.ensure_future(transport.send(request(server.url()), first_byte_timeout=10))
        await asyncio.sleep(0.1)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        await asyncio.wait_for(server.disconnected.wait(), 5)
    await transport.close()


def _certificate(folder: Path, names: str = "DNS:localhost,IP:127.0.0.1") -> tuple[Path, Path]:
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=localhost",
                    "-addext", f"subjectAltName={names}", "-keyout", str(key), "-out", str(cert)],
                   check=True, capture_output=True)
    return cert, key


async def test_https_verifies_the_certificate(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import ssl

    cert, key = _certificate(tmp_path)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    server = await asyncio.start_server(lambda r, w: RawServer(ok)._serve(r, w), "127.0.0.1", 0, ssl=context)
    port = server.sockets[0].getsockname()[1]
    try:
        untrusted = Transport()
        with pytest.raises(UpstreamError) as caught:
            await untrusted.send(request(f"https://localhost:{port}/v1"), first_byte_timeout=5)
        assert caught.value.kind == CONNECT and "CERTIFICATE_VERIFY_FAILED" in caught.value.message
        await untrusted.close()

        monkeypatch.setenv("SSL_CERT_FILE", str(cert))  # the system trust store, as the operator sets it
        trusted = Transport()
        for _ in range(2):
            response = await trusted.send(request(f"https://localhost:{port}/v1"), first_byte_timeout=5)
            assert response.status == 200 and await response.read() == b'{"ok":true}'
            response.release()
        await trusted.close()
    finally:
        server.close()


async def test_a_large_request_body_arrives_whole() -> None:
    body = b'{"pad":"' + b"x" * (200 << 10) + b'"}'
    transport = Transport()
    async with RawServer(ok) as server:
        response = await transport.send(request(server.url(), body=body), first_byte_timeout=5)
        assert await response.read() == b'{"ok":true}'
        response.release()
        assert server.requests[0].endswith(b"\r\n\r\n" + body)
        assert b"Content-Length: %d\r\n" % len(body) in server.requests[0]
    await transport.close()


def capped(limit: int) -> Transport:
    """A transport whose provider "p" reads bodies of at most `limit` bytes."""
    return Transport(settings={"p": UpstreamSettings(max_body=limit)})


async def test_a_body_past_the_providers_limit_fails_without_being_held() -> None:
    limit = 1 << 20
    written = {"bytes": 0}

    async def declared(_request: bytes, _reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % (limit + 1) + b"x" * 1000)
        await writer.drain()

    async def endless(_request: bytes, _reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
        piece = chunked(b"y" * 65536)[:-5]
        while True:  # until the client hangs up
            writer.write(piece)
            await writer.drain()
            written["bytes"] += 65536

    async def bomb(_request: bytes, _reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(reply(gzip.compress(b"\0" * (64 << 20)), "Content-Encoding: gzip"))  # 64 KiB on the wire

    async def at_limit(_request: bytes, _reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n" + b"z" * limit)
        await writer.drain()
        writer.close()

    for script in (declared, endless, bomb):
        async with RawServer(script) as server:
            transport = capped(limit)
            response = await transport.send(request(server.url()), first_byte_timeout=5, read_timeout=5, provider="p")
            with pytest.raises(UpstreamError) as caught:
                await response.read()
            assert caught.value.kind == MALFORMED
            assert caught.value.message.startswith("the provider's response body is larger")
            assert f"max_body_bytes ({limit} bytes)" in caught.value.message
            response.release()
            await asyncio.wait_for(server.disconnected.wait(), 5)  # the connection was dropped
            await transport.close()
    # the endless body stopped at the limit plus what the sockets' buffers hold, not later
    assert limit < written["bytes"] < limit + (32 << 20)
    async with RawServer(at_limit) as server:
        transport = capped(limit)
        response = await transport.send(request(server.url()), first_byte_timeout=5, provider="p")
        assert len(await response.read()) == limit  # the limit itself is allowed
        for other in ("q", None):  # other providers, and requests of none, keep the default limit
            transport.settings["q"] = UpstreamSettings()
            response = await transport.send(request(server.url()), first_byte_timeout=5, provider=other)
            assert len(await response.read()) == limit
        await transport.close()


async def test_a_streamed_compressed_body_inflates_in_bounded_pieces_and_raw_deflate_is_read() -> None:
    text = b"a" * (8 << 20)
    raw = zlib.compressobj(6, zlib.DEFLATED, -zlib.MAX_WBITS)
    raw_deflate = raw.compress(b"raw deflate body " * 100) + raw.flush()

    async def serve(request_bytes: bytes, _reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if b"/raw" in request_bytes:
            writer.write(reply(raw_deflate, "Content-Encoding: deflate"))
        else:
            writer.write(reply(gzip.compress(text), "Content-Encoding: gzip"))

    transport = Transport()
    async with RawServer(serve) as server:
        response = await transport.send(request(server.url()), first_byte_timeout=5)
        pieces = [piece async for piece in response.chunks()]  # ~8 KiB on the wire, 8 MiB inflated
        assert b"".join(pieces) == text and max(map(len, pieces)) <= INFLATE_STEP
        response.release()
        for mode in ("read", "chunks"):
            response = await transport.send(request(server.url("/raw")), first_byte_timeout=5)
            got = await response.read() if mode == "read" else b"".join([p async for p in response.chunks()])
            assert got == b"raw deflate body " * 100
            response.release()
    await transport.close()


async def test_a_providers_tls_settings_trust_its_ca_file_or_skip_verification(tmp_path: Path) -> None:
    import ssl

    cert, key = _certificate(tmp_path, "DNS:localhost")  # not 127.0.0.1
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    server = await asyncio.start_server(lambda r, w: RawServer(ok)._serve(r, w), "127.0.0.1", 0, ssl=context)
    port = server.sockets[0].getsockname()[1]
    by_name, by_address = f"https://localhost:{port}/v1/chat", f"https://127.0.0.1:{port}/v1/chat"
    transport = Transport(settings={"own-ca": UpstreamSettings(tls=tls_context(str(cert))),
                                    "unverified": UpstreamSettings(tls=tls_context(verify=False))})

    async def fetch(url: str, provider: str | None) -> bytes:
        response = await transport.send(request(url), first_byte_timeout=5, provider=provider)
        body = await response.read()
        response.release()
        return body

    try:
        for _ in range(2):
            assert await fetch(by_name, "own-ca") == b'{"ok":true}'
        with pytest.raises(UpstreamError) as caught:  # other providers keep the system trust store
            await fetch(by_name, None)
        assert "CERTIFICATE_VERIFY_FAILED" in caught.value.message
        with pytest.raises(UpstreamError) as caught:  # the CA is trusted; the host name is still checked
            await fetch(by_address, "own-ca")
        assert "IP address mismatch" in caught.value.message
        assert await fetch(by_address, "unverified") == b'{"ok":true}'  # neither issuer nor name checked
        with pytest.raises(UpstreamError) as caught:  # the unverified provider's connection is its own
            await fetch(by_address, None)
        assert "CERTIFICATE_VERIFY_FAILED" in caught.value.message
    finally:
        await transport.close()
        server.close()
