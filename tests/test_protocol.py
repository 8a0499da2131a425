"""The corked transport: the writes of one event-loop turn leave in one send, in order."""

from __future__ import annotations

import asyncio
from typing import Any

from switchpoint.server.protocol import CorkedTransport

from .conftest import LoopThread


class Recording:
    def __init__(self) -> None:
        self.sent: list[bytes] = []
        self.closed = False

    def write(self, data: bytes) -> None:
        self.sent.append(data)

    def is_closing(self) -> bool:
        return self.closed

    def close(self) -> None:
        self.closed = True

    def get_write_buffer_size(self) -> int:
        return 0

    def get_extra_info(self, name: str) -> str:
        return f"info:{name}"


def test_writes_of_one_turn_leave_together_in_order() -> None:
    async def go() -> list[list[bytes]]:
        raw = Recording()
        corked = CorkedTransport(raw, asyncio.get_running_loop())  # type: ignore[arg-type]
        corked.write(b"HTTP/1.1 200 OK\r\n\r\n")
        corked.write(b"")
        corked.write(b"body")
        assert raw.sent == [] and corked.get_write_buffer_size() == 23
        await asyncio.sleep(0)
        first = list(raw.sent)
        corked.write(b"next turn")
        await asyncio.sleep(0)
        assert corked.get_extra_info("peername") == "info:peername"  # everything else is the transport's
        return [first, raw.sent[1:]]

    assert asyncio.run(go()) == [[b"HTTP/1.1 200 OK\r\n\r\nbody"], [b"next turn"]]


def test_close_sends_what_is_pending_and_a_closed_transport_gets_nothing() -> None:
    async def go() -> tuple[list[bytes], list[bytes]]:
        loop = asyncio.get_running_loop()
        raw = Recording()
        corked = CorkedTransport(raw, loop)  # type: ignore[arg-type]
        corked.write(b"last words")
        corked.close()
        gone = Recording()
        late = CorkedTransport(gone, loop)  # type: ignore[arg-type]
        late.write(b"too late")
        gone.closed = True  # the client went away before the turn ended
        await asyncio.sleep(0)
        return raw.sent, gone.sent

    assert asyncio.run(go()) == ([b"last words"], [])


def test_gateway_answers_pipelined_requests_whole_and_in_order(gateway: Any, loop_thread: LoopThread) -> None:
    async def go() -> bytes:
        reader, writer = await asyncio.open_connection("127.0.0.1", gateway.port)
        ask = b"GET /api/v1/models HTTP/1.1\r\nHost: x\r\n\r\nGET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"
        writer.write(ask)
        answers = []
        for _ in range(2):
            head = await reader.readuntil(b"\r\n\r\n")
            length = int(next(line.split(b":")[1] for line in head.split(b"\r\n")
                              if line.lower().startswith(b"content-length")))
            answers.append(head.split(b"\r\n")[0] + b" " + (await reader.readexactly(length))[:10])
        writer.close()
        return b" | ".join(answers)

    assert loop_thread.run(go()) == b'HTTP/1.1 200 OK {"data":[{ | HTTP/1.1 200 OK {"status":'
