"""The upstream client's body handling over every combination that matters: body sizes around the
flow-control mark (http1.HIGH_WATER, 256 KiB) and far past it, the three ways HTTP/1.1 frames a
body, the two compressions, and both ways of reading (whole, and in chunks as they arrive), against
a raw server on loopback that writes exact bytes. After each body a second request shows whether
the connection was kept (framed bodies) or dropped (a body that ends with its connection)."""

from __future__ import annotations

import asyncio
import gzip
import os
import zlib
from functools import cache

import pytest

from switchpoint.http1 import HIGH_WATER
from switchpoint.transport import Transport

from .test_transport import RawServer, request

KiB, MiB = 1 << 10, 1 << 20
SIZES = [0, 1, 64 * KiB, HIGH_WATER - 1, HIGH_WATER, HIGH_WATER + 1, 4 * MiB, 32 * MiB]  # HIGH_WATER: 256 KiB
FRAMINGS = ["content-length", "chunked", "close"]
ENCODINGS = ["identity", "gzip", "deflate"]
MODES = ["read", "chunks"]


@cache
def body(size: int) -> bytes:
    """Hex text: compresses about 2:1, so compressed bodies also cross the flow-control mark."""
    return os.urandom((size + 1) // 2).hex().encode()[:size]


@cache
def encoded(size: int, encoding: str) -> bytes:
    if encoding == "gzip-members":  # two gzip members one after the other, as `cat a.gz b.gz` makes
        half = size // 2
        return gzip.compress(body(size)[:half], compresslevel=1) + gzip.compress(body(size)[half:], compresslevel=1)
    if encoding == "gzip":
        return gzip.compress(body(size), compresslevel=1)
    if encoding == "deflate":
        return zlib.compress(body(size), 1)
    return body(size)


def chunk_frames(data: bytes) -> bytes:
    """Chunks of uneven sizes (1 byte to 96 KiB), so chunk boundaries fall everywhere."""
    frames, start, sizes, turn = [], 0, (1, 7, 4096, 65536, 98304, 333), 0
    while start < len(data):
        size = sizes[turn % len(sizes)]
        frames.append(b"%x\r\n%s\r\n" % (len(data[start:start + size]), data[start:start + size]))
        start += size
        turn += 1
    return b"".join(frames) + b"0\r\n\r\n"


def answer(size: int, framing: str, encoding: str) -> tuple[bytes, bool]:
    """The response bytes, and whether the server closes the connection after them."""
    data = encoded(size, encoding)
    head = ["HTTP/1.1 200 OK", "Content-Type: application/json"]
    if encoding != "identity":
        head.append(f"Content-Encoding: {encoding.removesuffix('-members')}")
    if framing == "content-length":
        head.append(f"Content-Length: {len(data)}")
        payload = data
    elif framing == "chunked":
        head.append("Transfer-Encoding: chunked")
        payload = chunk_frames(data)
    else:
        head.append("Connection: close")
        payload = data
    return ("\r\n".join(head) + "\r\n\r\n").encode() + payload, framing == "close"


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("encoding", ENCODINGS)
@pytest.mark.parametrize("framing", FRAMINGS)
@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s}B")
async def test_body(size: int, framing: str, encoding: str, mode: str) -> None:
    async def serve(request_bytes: bytes, _reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if b"/next" in request_bytes:
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nnext")
            return
        data, closes = answer(size, framing, encoding)
        writer.write(data)
        await writer.drain()
        if closes:
            writer.close()

    transport = Transport()
    async with RawServer(serve) as server:
        response = await transport.send(request(server.url()), first_byte_timeout=10, read_timeout=10)
        assert response.status == 200
        if mode == "read":
            received = await response.read()
        else:
            pieces = [piece async for piece in response.chunks()]
            assert all(pieces) and max(map(len, pieces), default=0) <= 4 * MiB
            received = b"".join(pieces)
        assert len(received) == size and received == body(size)
        response.release()
        follow = await transport.send(request(server.url("/next")), first_byte_timeout=10)
        assert await follow.read() == b"next"
        follow.release()
        assert server.connections == (2 if framing == "close" else 1)
    await transport.close()
