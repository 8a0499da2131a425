"""The outbox: the writes of one event-loop turn leave at its end, one send per socket, in order."""

from __future__ import annotations

import asyncio

from switchpoint.net.outbox import outbox_for


class Recording:
    def __init__(self) -> None:
        self.sent: list[bytes] = []
        self.closed = False

    def write(self, data: bytes) -> None:
        self.sent.append(data)

    def is_closing(self) -> bool:
        return self.closed


def test_writes_of_one_turn_leave_together_per_socket_in_order() -> None:
    async def go() -> tuple[list[bytes], list[bytes], list[bytes]]:
        outbox = outbox_for(asyncio.get_running_loop())
        a, b = Recording(), Recording()
        outbox.write(a, b"HTTP/1.1 200 OK\r\n\r\n")
        outbox.write(b, b"POST / HTTP/1.1\r\n\r\n")
        outbox.write(a, b"body")
        assert a.sent == [] and b.sent == []  # nothing leaves during the turn
        await asyncio.sleep(0)
        first = list(a.sent)
        outbox.write(a, b"next turn")
        await asyncio.sleep(0)
        return first, a.sent[1:], b.sent

    assert asyncio.run(go()) == ([b"HTTP/1.1 200 OK\r\n\r\nbody"], [b"next turn"], [b"POST / HTTP/1.1\r\n\r\n"])


def test_flush_one_sends_now_and_a_closed_socket_gets_nothing() -> None:
    async def go() -> tuple[list[bytes], list[bytes], list[bytes]]:
        outbox = outbox_for(asyncio.get_running_loop())
        closing, gone, dropped = Recording(), Recording(), Recording()
        outbox.write(closing, b"last ")
        outbox.write(closing, b"words")
        outbox.flush_one(closing)  # what a connection does before it closes
        sent_at_once = list(closing.sent)
        outbox.write(gone, b"too late")
        gone.closed = True  # the peer went away before the turn ended
        outbox.write(dropped, b"never")
        outbox.discard(dropped)  # the connection was lost
        await asyncio.sleep(0)
        return sent_at_once, gone.sent, dropped.sent

    assert asyncio.run(go()) == ([b"last words"], [], [])
