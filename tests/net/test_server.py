"""The HTTP/1.1 server protocol, driven by raw sockets: framing, pipelining, flow control, keep-alive,
errors. A small ASGI app stands in for the gateway, except in the last test."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import uvicorn

from switchpoint.server.run import HTTP_PROTOCOL

from ..conftest import LoopThread, free_port

App = Callable[[dict[str, Any], Any, Any], Awaitable[None]]


async def echo(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """Answers with what it received: method, path, query, headers and the whole body."""
    if scope["type"] != "http":
        return
    chunks = []
    while True:
        message = await receive()
        chunks.append(message.get("body", b""))
        if not message.get("more_body"):
            break
    body = b"".join(chunks)
    summary = json.dumps({"method": scope["method"], "path": scope["path"], "query": scope["query_string"].decode(),
                          "headers": {k.decode(): v.decode() for k, v in scope["headers"]},
                          "length": len(body), "tail": body[-8:].decode("latin-1")}).encode()
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(summary)).encode())]})
    await send({"type": "http.response.body", "body": summary})


@contextlib.asynccontextmanager
async def serving(app: App, **options: Any) -> AsyncIterator[int]:
    port = free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, lifespan="off", log_level="critical",
                            access_log=False, loop="asyncio", http=HTTP_PROTOCOL, **options)
    server = uvicorn.Server(config)
    task = asyncio.ensure_future(server.serve())
    while not server.started:
        await asyncio.sleep(0.01)
    try:
        yield port
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, 10)


async def read_response(reader: asyncio.StreamReader) -> tuple[bytes, dict[str, str], bytes]:
    """Status line, headers and body of one response (Content-Length or chunked)."""
    head = await reader.readuntil(b"\r\n\r\n")
    status, *lines = head[:-4].split(b"\r\n")
    headers = {k.decode().lower(): v.decode().strip() for k, v in (line.split(b":", 1) for line in lines)}
    if "content-length" in headers:
        return status, headers, await reader.readexactly(int(headers["content-length"]))
    if headers.get("transfer-encoding") == "chunked":
        body = b""
        while True:
            size = int((await reader.readuntil(b"\r\n"))[:-2], 16)
            body += (await reader.readexactly(size + 2))[:-2]
            if size == 0:
                return status, headers, body
    return status, headers, await reader.read()


def run(coro: Awaitable[Any]) -> Any:
    return asyncio.run(asyncio.wait_for(coro, 20))  # type: ignore[arg-type]


def test_request_fields_and_keep_alive() -> None:
    async def go() -> list[dict[str, Any]]:
        async with serving(echo) as port:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            answers = []
            for path in (b"/a%20b?x=1&y=2", b"/second"):
                writer.write(b"POST " + path + b" HTTP/1.1\r\nHost: x\r\nX-Thing: One\r\nContent-Length: 5\r\n\r\nhello")
                status, headers, body = await read_response(reader)
                assert status == b"HTTP/1.1 200 OK" and "connection" not in headers and "date" in headers
                answers.append(json.loads(body))
            writer.close()
            return answers

    first, second = run(go())
    assert (first["method"], first["path"], first["query"], first["length"], first["tail"]) == \
        ("POST", "/a b", "x=1&y=2", 5, "hello")
    assert first["headers"]["x-thing"] == "One"  # names lower-cased, values as sent
    assert second["path"] == "/second"


def test_chunked_request_body_and_expect_continue() -> None:
    async def go() -> tuple[bytes, dict[str, Any]]:
        async with serving(echo) as port:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(b"POST /up HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nTransfer-Encoding: chunked\r\n\r\n")
            interim = await reader.readuntil(b"\r\n\r\n")
            writer.write(b"4\r\nabcd\r\n3\r\nefg\r\n0\r\n\r\n")
            _, _, body = await read_response(reader)
            writer.close()
            return interim, json.loads(body)

    interim, answer = run(go())
    assert interim == b"HTTP/1.1 100 Continue\r\n\r\n"
    assert (answer["length"], answer["tail"]) == (7, "abcdefg")


def test_large_body_is_read_whole_under_flow_control() -> None:
    body = bytes(range(256)) * 4096  # 1 MiB: the socket is paused and resumed many times

    async def go() -> dict[str, Any]:
        async with serving(echo) as port:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(b"POST /big HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % len(body))
            for at in range(0, len(body), 65536):
                writer.write(body[at:at + 65536])
                await writer.drain()
            _, _, answer = await read_response(reader)
            writer.close()
            return json.loads(answer)

    answer = run(go())
    assert (answer["length"], answer["tail"]) == (len(body), body[-8:].decode("latin-1"))


def test_large_response_to_a_slow_reader_arrives_whole() -> None:
    payload = b"0123456789abcdef" * (4 * 65536)  # 4 MiB, more than the socket buffers hold

    async def big(scope: dict[str, Any], receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
        for at in range(0, len(payload), 1 << 20):  # chunked: no Content-Length given
            await send({"type": "http.response.body", "body": payload[at:at + (1 << 20)], "more_body": True})
        await send({"type": "http.response.body", "body": b""})

    async def go() -> tuple[dict[str, str], bytes]:
        async with serving(big) as port:
            reader, writer = await asyncio.open_connection("127.0.0.1", port, limit=1 << 16)
            writer.write(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            await asyncio.sleep(0.3)  # let the server fill the buffers and pause
            _, headers, body = await read_response(reader)
            writer.close()
            return headers, body

    headers, body = run(go())
    assert headers["transfer-encoding"] == "chunked" and body == payload


def test_pipelined_requests_are_answered_in_order() -> None:
    async def go() -> list[str]:
        async with serving(echo) as port:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(b"".join(b"GET /%d HTTP/1.1\r\nHost: x\r\n\r\n" % i for i in range(5)))
            paths = [json.loads((await read_response(reader))[2])["path"] for _ in range(5)]
            writer.close()
            return paths

    assert run(go()) == ["/0", "/1", "/2", "/3", "/4"]


def test_head_http10_and_connection_close() -> None:
    async def go() -> tuple[bytes, bytes, bytes]:
        async with serving(echo) as port:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(b"HEAD / HTTP/1.1\r\nHost: x\r\n\r\nGET /after HTTP/1.1\r\nHost: x\r\n\r\n")
            head = await reader.readuntil(b"\r\n\r\n")  # no body follows a HEAD answer...
            after = await reader.readuntil(b"\r\n\r\n")  # ...so the next response comes right after
            writer.close()
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(b"GET /old HTTP/1.0\r\n\r\n")
            old = await reader.read()  # the server closes an HTTP/1.0 connection after answering
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(b"GET /bye HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            bye = await reader.read()
            return head + after, old, bye

    head, old, bye = run(go())
    assert head.count(b"HTTP/1.1 200 OK") == 2 and b"content-length" in head
    assert old.startswith(b"HTTP/1.1 200 OK") and b"connection: close\r\n" in old and b'"/old"' in old
    assert b"connection: close\r\n" in bye and b'"/bye"' in bye


def test_malformed_and_oversized_requests_get_the_error_envelope() -> None:
    async def ask(port: int, data: bytes) -> bytes:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(data)
        answer = await reader.read()  # and the connection is closed
        writer.close()
        return answer

    async def go() -> tuple[bytes, bytes]:
        async with serving(echo) as port:
            bad = await ask(port, b"GET / HTTP/1.1\r\nHost: x\r\nContent-Length: nope\r\n\r\n")
            huge = await ask(port, b"GET / HTTP/1.1\r\nHost: x\r\n" + b"X-Pad: " + b"a" * 70000 + b"\r\n\r\n")
            return bad, huge

    bad, huge = run(go())
    assert bad.startswith(b"HTTP/1.1 400 Bad Request\r\n")
    assert bad.endswith(b'{"error":{"code":400,"message":"Invalid HTTP request received."}}')
    assert huge.startswith(b"HTTP/1.1 431 ") and b'"code":431' in huge


def test_app_failures_become_500s_or_a_closed_connection() -> None:
    async def failing(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["path"] == "/early":
            raise ValueError("before the response")
        if scope["path"] == "/split":
            await send({"type": "http.response.start", "status": 200, "headers": [(b"x-bad", b"a\r\nInjected: 1")]})
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"10")]})
        await send({"type": "http.response.body", "body": b"short", "more_body": True})
        raise ValueError("mid-response")

    async def go() -> tuple[bytes, bytes, bytes]:
        async with serving(failing) as port:
            answers = []
            for path in (b"/early", b"/split", b"/late"):
                reader, writer = await asyncio.open_connection("127.0.0.1", port)
                writer.write(b"GET " + path + b" HTTP/1.1\r\nHost: x\r\n\r\n")
                answers.append(await reader.read())
                writer.close()
            return answers[0], answers[1], answers[2]

    early, split, late = run(go())
    assert early.startswith(b"HTTP/1.1 500 ") and early.endswith(b'{"error":{"code":500,"message":"Internal Server Error"}}')
    assert split.startswith(b"HTTP/1.1 500 ") and b"Injected" not in split
    assert late.startswith(b"HTTP/1.1 200 OK") and late.endswith(b"short")  # cut off: the client sees 5 of 10


def test_client_disconnect_reaches_the_app() -> None:
    seen: list[str] = []

    async def streaming(scope: dict[str, Any], receive: Any, send: Any) -> None:
        await receive()  # the (empty) request body
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/event-stream")]})
        await send({"type": "http.response.body", "body": b"data: 1\n\n", "more_body": True})
        seen.append((await receive())["type"])  # blocks until the client goes away

    async def go() -> bytes:
        async with serving(streaming) as port:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(b"GET /stream HTTP/1.1\r\nHost: x\r\n\r\n")
            first = await reader.readuntil(b"data: 1\n\n\r\n")
            writer.close()
            for _ in range(100):
                if seen:
                    break
                await asyncio.sleep(0.02)
            return first

    first = run(go())
    assert b"transfer-encoding: chunked" in first and seen == ["http.disconnect"]


def test_idle_keep_alive_connections_are_closed() -> None:
    async def go() -> tuple[bytes, bytes]:
        async with serving(echo, timeout_keep_alive=1) as port:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            await read_response(reader)
            after_request = await asyncio.wait_for(reader.read(), 5)  # closed by the server, empty
            silent_reader, _ = await asyncio.open_connection("127.0.0.1", port)
            never_asked = await asyncio.wait_for(silent_reader.read(), 5)
            return after_request, never_asked

    assert run(go()) == (b"", b"")


def test_gateway_answers_pipelined_requests_whole_and_in_order(gateway: Any, loop_thread: LoopThread) -> None:
    async def go() -> bytes:
        reader, writer = await asyncio.open_connection("127.0.0.1", gateway.port)
        ask = b"GET /api/v1/models HTTP/1.1\r\nHost: x\r\n\r\nGET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"
        writer.write(ask)
        answers = []
        for _ in range(2):
            status, _, body = await read_response(reader)
            answers.append(status + b" " + body[:10])
        writer.close()
        return b" | ".join(answers)

    assert loop_thread.run(go()) == b'HTTP/1.1 200 OK {"data":[{ | HTTP/1.1 200 OK {"status":'
