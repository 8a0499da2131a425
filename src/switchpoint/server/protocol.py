"""uvicorn's httptools protocol, with the writes of one event-loop turn sent together.

uvicorn writes a response's status line and headers, then its body, as two writes, and uvloop sends
each at once: two system calls (and two wake-ups of the client) for every response. On loopback a send
costs more than most of a request's own logic, so writes made in the same turn of the loop are
gathered and leave in one send at the end of that turn. Streams benefit the same way: the chunks
relayed in one turn go out together.

It also trades uvicorn's three per-connection deques (the pipeline queue and two asyncio Events, 760
bytes each before anything is queued) for lists, which start at 56 bytes: held streams are thousands
of connections that never queue more than one item."""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol


class CorkedTransport:
    """A transport whose `write`s are buffered until the loop's current turn ends."""

    __slots__ = ("_transport", "_loop", "_pending")

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        self._transport = transport
        self._loop = loop
        self._pending: list[bytes] | None = None

    def write(self, data: bytes) -> None:
        if not data:
            return
        if self._pending is None:
            self._pending = [data]
            self._loop.call_soon(self.flush)
        else:
            self._pending.append(data)

    def flush(self) -> None:
        pending, self._pending = self._pending, None
        if pending and not self._transport.is_closing():
            self._transport.write(pending[0] if len(pending) == 1 else b"".join(pending))

    def close(self) -> None:
        self.flush()
        self._transport.close()

    def abort(self) -> None:
        self._pending = None
        self._transport.abort()

    def get_write_buffer_size(self) -> int:
        pending = sum(len(data) for data in self._pending) if self._pending else 0
        return pending + self._transport.get_write_buffer_size()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)


class LeanEvent(asyncio.Event):
    """asyncio.Event with its waiters in a list (the stdlib methods only append, remove and iterate)."""

    def __init__(self) -> None:  # noqa: D107 - no super().__init__(): it would allocate the deque
        self._waiters = []  # type: ignore[assignment]
        self._value = False


class Pipeline(list):  # type: ignore[type-arg]
    """uvicorn's queue of pipelined requests: `appendleft` in, `pop` out."""

    __slots__ = ()

    def appendleft(self, item: Any) -> None:
        self.insert(0, item)


class CorkedHttpToolsProtocol(HttpToolsProtocol):
    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(CorkedTransport(transport, self.loop))  # type: ignore[arg-type]
        self.pipeline = Pipeline()  # type: ignore[assignment]
        writable = LeanEvent()
        writable.set()
        self.flow._is_writable_event = writable

    def on_headers_complete(self) -> None:
        before = self.cycle
        super().on_headers_complete()
        cycle = self.cycle
        if cycle is not None and cycle is not before:  # a new request: its task has not run yet, so
            cycle.message_event = LeanEvent()         # nothing waits on the event being replaced
