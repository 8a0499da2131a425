"""Socket writes held until the event loop's current turn ends, then sent together.

On loopback (and any socket whose reader sleeps on another core) the dearest part of a send is
waking the reader: an inter-processor interrupt, and a VM exit under virtualisation. Sent one by one
as requests finish, every response and every upstream request wakes its reader separately; sent back
to back at the end of the turn, most find their reader already awake. Measured on the benchmark's
chat case (CPU per request, alternating runs): responses written at the end of the turn instead of at
once, ~10 µs less; upstream requests too, ~20 µs less again. The writes to one socket in a turn also
leave in one send (a response's head and body, the chunks a stream relays together)."""

from __future__ import annotations

import asyncio
from typing import Any

from .loops import PerLoop


class Outbox:
    __slots__ = ("loop", "pending")

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.pending: dict[Any, list[bytes]] = {}  # transport -> its writes this turn

    def write(self, transport: Any, data: bytes) -> None:
        pending = self.pending
        if not pending:
            self.loop.call_soon(self.flush)
        queued = pending.get(transport)
        if queued is None:
            pending[transport] = [data]
        else:
            queued.append(data)

    def flush(self) -> None:
        pending, self.pending = self.pending, {}
        for transport, queued in pending.items():
            if not transport.is_closing():
                transport.write(queued[0] if len(queued) == 1 else b"".join(queued))

    def flush_one(self, transport: Any) -> None:
        """Send what is held for `transport` now (before it is closed)."""
        queued = self.pending.pop(transport, None)
        if queued and not transport.is_closing():
            transport.write(b"".join(queued))

    def discard(self, transport: Any) -> None:
        self.pending.pop(transport, None)


_outboxes: PerLoop[Outbox] = PerLoop(lambda loop, _: Outbox(loop))


def outbox_for(loop: asyncio.AbstractEventLoop) -> Outbox:
    """The outbox of this event loop."""
    return _outboxes.get(loop)
