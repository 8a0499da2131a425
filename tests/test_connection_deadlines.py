"""Slow, idle and too many clients, on raw loopback sockets: each deadline of server/deadlines.py
(with short settings so the tests run fast) and the cap on open connections."""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import time
from collections.abc import AsyncIterator
from functools import partial
from typing import Any

import uvicorn

from switchpoint.server.deadlines import ConnectionLimits
from switchpoint.server.protocol import HttpProtocol

from .conftest import TEST_KEY, free_port
from .test_protocol import App, echo, read_response, run

FAST = ConnectionLimits(idle=30.0, head=0.5, body=0.5, body_rate=1000.0, send=0.5, max_connections=None)


@contextlib.asynccontextmanager
async def serving(app: App, limits: ConnectionLimits) -> AsyncIterator[int]:
    port = free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, lifespan="off", log_level="critical",
                            access_log=False, loop="asyncio", http=partial(HttpProtocol, limits=limits))
    server = uvicorn.Server(config)
    task = asyncio.ensure_future(server.serve())
    while not server.started:
        await asyncio.sleep(0.01)
    try:
        yield port
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, 10)


async def answer_and_close(reader: asyncio.StreamReader) -> tuple[int, dict[str, str], dict[str, Any], bytes]:
    """The gateway's one answer on a connection (status, headers, JSON body), then what follows it
    before the connection closes (nothing, when it closes)."""
    status, headers, body = await asyncio.wait_for(read_response(reader), 5)
    rest = await asyncio.wait_for(reader.read(), 5)
    return int(status.split()[1]), headers, json.loads(body), rest


def test_one_byte_then_silence_gets_408_and_is_closed() -> None:
    async def go() -> tuple[Any, float]:
        async with serving(echo, FAST) as port:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            started = time.monotonic()
            writer.write(b"G")
            answer = await answer_and_close(reader)
            return answer, time.monotonic() - started

    (status, headers, body, rest), waited = run(go())
    assert status == 408 and headers["connection"] == "close" and rest == b""
    assert body == {"error": {"code": 408, "message": "The request's headers did not arrive within 0.5 seconds."}}
    assert waited >= 0.5  # not before the deadline


def test_a_head_sent_slowly_times_out_from_its_first_byte() -> None:
    """Each byte arrives well within the deadline, the whole head does not: the clock is not reset."""
    async def go() -> tuple[Any, int]:
        async with serving(echo, FAST) as port:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            head = b"GET / HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"a" * 100 + b"\r\n\r\n"
            sent = 0
            for byte in head:
                if reader.at_eof() or reader._buffer:  # the answer came  # noqa: SLF001
                    break
                writer.write(bytes([byte]))
                sent += 1
                await asyncio.sleep(0.05)
            return await answer_and_close(reader), sent

    (status, _, body, rest), sent = run(go())
    assert status == 408 and body["error"]["code"] == 408 and rest == b""
    assert sent < 30  # cut off after ~0.5 s of the ~6 s this head would take


def test_a_head_begun_during_a_long_answer_is_timed_out_once_the_answer_is_out() -> None:
    async def slow(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        await asyncio.sleep(1.0)  # longer than the head deadline: not the client's fault
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"2")]})
        await send({"type": "http.response.body", "body": b"ok"})

    async def go() -> tuple[bytes, Any]:
        async with serving(slow, FAST) as port:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(b"GET /1 HTTP/1.1\r\nHost: x\r\n\r\nGET /2 HTTP/1.1\r\nHo")
            first, _, body = await asyncio.wait_for(read_response(reader), 5)
            return first + b" " + body, await answer_and_close(reader)

    first, (status, _, _, rest) = run(go())
    assert first == b"HTTP/1.1 200 OK ok"
    assert status == 408 and rest == b""


def test_a_partial_body_gets_408_and_the_app_sees_the_client_leave() -> None:
    seen: list[str] = []

    async def reader_app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        try:
            while True:
                message = await receive()
                if message["type"] == "http.disconnect" or not message.get("more_body"):
                    seen.append(message["type"])
                    break
        except asyncio.CancelledError:
            seen.append("cancelled")
            raise
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"2")]})
        await send({"type": "http.response.body", "body": b"ok"})

    async def go() -> Any:
        async with serving(reader_app, FAST) as port:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n" + b"x" * 10)
            return await answer_and_close(reader)

    status, headers, body, rest = run(go())
    assert status == 408 and headers["connection"] == "close" and rest == b""
    assert body == {"error": {"code": 408, "message": "The request body arrived too slowly."}}
    assert seen in (["http.disconnect"], ["cancelled"])


def test_a_body_dripping_below_the_minimum_rate_times_out_and_one_above_it_does_not() -> None:
    async def upload(port: int, piece: int, pieces: int) -> tuple[int, bytes]:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % (piece * pieces))
        for _ in range(pieces):
            if reader.at_eof() or reader._buffer:  # noqa: SLF001 - answered early
                break
            writer.write(b"y" * piece)
            await asyncio.sleep(0.1)
        status, _, body = await asyncio.wait_for(read_response(reader), 5)
        writer.close()
        return int(status.split()[1]), body

    async def go() -> tuple[tuple[int, bytes], tuple[int, bytes]]:
        async with serving(echo, FAST) as port:
            # 10 bytes a second: past 0.5 s + 10/1000 s; 2,000 bytes a second for 1.5 s: within 0.5 + 3 s
            return await upload(port, 1, 30), await upload(port, 200, 15)

    slow, steady = run(go())
    assert slow[0] == 408
    assert steady[0] == 200 and json.loads(steady[1])["length"] == 3000


def test_idle_keep_alive_connection_closes_after_the_configured_time() -> None:
    async def go() -> tuple[int, bytes, float]:
        async with serving(echo, ConnectionLimits(idle=0.5)) as port:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            status, _, _ = await read_response(reader)
            answered = time.monotonic()
            after = await asyncio.wait_for(reader.read(), 5)
            return int(status.split()[1]), after, time.monotonic() - answered

    status, after, waited = run(go())
    assert status == 200 and after == b"" and waited >= 0.5


def test_a_client_that_does_not_read_its_response_is_cut_off() -> None:
    chunk = b"z" * 65536

    async def flood(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        await send({"type": "http.response.start", "status": 200, "headers": []})
        for _ in range(2000):  # 128 MiB, far more than the socket buffers hold
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
            await asyncio.sleep(0)  # as a relay does, waiting on its upstream between chunks
        await send({"type": "http.response.body", "body": b""})

    async def go() -> int:
        async with serving(flood, FAST) as port:
            sock = socket.socket()
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 16384)  # the kernel holds little for it
            sock.connect(("127.0.0.1", port))
            reader, writer = await asyncio.open_connection(sock=sock, limit=1 << 16)
            writer.transport.pause_reading()  # the client stops reading
            writer.write(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            await asyncio.sleep(2)
            writer.transport.resume_reading()
            received = 0
            with contextlib.suppress(ConnectionError):
                while data := await asyncio.wait_for(reader.read(1 << 20), 5):
                    received += len(data)
            return received

    received = run(go())
    assert 0 < received < 2000 * len(chunk)  # the connection ended before the response did


def test_a_client_reading_slowly_is_not_cut_off() -> None:
    body = b"s" * (6 << 20)

    async def big(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})  # all at once: the writes stay paused

    async def go() -> tuple[int, float]:
        async with serving(big, FAST) as port:
            sock = socket.socket()
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 16384)
            sock.connect(("127.0.0.1", port))
            reader, writer = await asyncio.open_connection(sock=sock, limit=1 << 16)
            writer.transport.set_write_buffer_limits(0)
            writer.write(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            started = time.monotonic()
            await reader.readuntil(b"\r\n\r\n")
            received = 0
            with contextlib.suppress(ConnectionError):
                while received < len(body) and (data := await reader.read(32768)):  # 1.6 MB/s at most
                    received += len(data)
                    await asyncio.sleep(0.02)
            writer.close()
            return received, time.monotonic() - started

    received, took = run(go())
    assert took > 2 * FAST.send  # the response took longer than send_timeout to read...
    assert received == len(body)  # ...and arrived whole, since it kept being read


def test_past_max_connections_a_new_client_gets_503_and_is_closed() -> None:
    async def go() -> tuple[Any, int]:
        async with serving(echo, ConnectionLimits(max_connections=3)) as port:
            held = [await asyncio.open_connection("127.0.0.1", port) for _ in range(3)]
            await asyncio.sleep(0.1)
            reader, _ = await asyncio.open_connection("127.0.0.1", port)
            refused = await answer_and_close(reader)
            held[0][1].close()  # one leaves: the next client is served
            await asyncio.sleep(0.2)
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            status, _, _ = await asyncio.wait_for(read_response(reader), 5)
            for _, held_writer in held[1:]:
                held_writer.close()
            return refused, int(status.split()[1])

    (status, headers, body, rest), served = run(go())
    assert status == 503 and headers["connection"] == "close" and rest == b""
    assert body == {"error": {"code": 503, "message": "The gateway has too many open connections; retry shortly."}}
    assert served == 200


def test_the_gateway_takes_its_limits_from_the_server_section(make_gateway: Any, loop_thread: Any) -> None:
    gateway = make_gateway(server={"head_timeout": 0.5, "max_connections": 2})

    async def go() -> tuple[int, int, int]:
        held = await asyncio.open_connection("127.0.0.1", gateway.port)
        slow_reader, slow_writer = await asyncio.open_connection("127.0.0.1", gateway.port)
        slow_writer.write(b"POST /api/v1/chat/completions HTTP/1.1\r\nAuthorization: Bearer " + TEST_KEY.encode())
        await asyncio.sleep(0.1)
        third, _ = await asyncio.open_connection("127.0.0.1", gateway.port)
        refused = (await answer_and_close(third))[0]
        timed_out = (await answer_and_close(slow_reader))[0]
        await asyncio.sleep(0.1)
        reader, writer = await asyncio.open_connection("127.0.0.1", gateway.port)
        writer.write(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        status, _, _ = await asyncio.wait_for(read_response(reader), 5)
        writer.close()
        held[1].close()
        return refused, timed_out, int(status.split()[1])

    assert loop_thread.run(go()) == (503, 408, 200)
