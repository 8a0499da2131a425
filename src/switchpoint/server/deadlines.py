"""How long a client connection may keep the gateway waiting, and the one timer per event loop that
enforces it.

A connection that sends one byte and stops, dribbles its headers or body, never reads its response,
or idles between requests would otherwise hold a socket (and a file descriptor) for ever: 9,000 such
connections once stayed open until the process reached its descriptor limit and refused everyone.
Each connection knows its own deadline (server/protocol.py, `HttpProtocol.deadline`); this registry
only remembers, per connection, a time at or before which that deadline may fall, and a sweep every
`tick` seconds asks the connections whose time has come. A connection's state changes many times a
request, but only a change to an earlier deadline touches the registry (a dict store), so the usual
request (head and body in one read) costs one store, as the keep-alive sweep did before. The sweep
walks every registered connection instead of keeping them sorted: 0.43 ms a sweep with 10,000
connections waiting, 1.1 ms when all 10,000 are due (CPython 3.11, stand-in connections), against a
timer armed and cancelled per connection and state change."""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import logging
import resource
import struct
import termios
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..loops import PerLoop

if TYPE_CHECKING:
    from .protocol import HttpProtocol

log = logging.getLogger("switchpoint.server")
LINGER = 2.0  # seconds a refused or timed-out connection is given to read its error before it is cut
MAX_TICK = 1.0  # seconds between sweeps, at most


@dataclass(frozen=True, slots=True)
class ConnectionLimits:
    """The `server:` settings a connection enforces (see config/schema.py ServerConfig)."""

    idle: float = 30.0         # keep-alive: seconds between requests (and before the first)
    head: float = 20.0         # seconds from a request's first byte to the end of its head
    body: float = 30.0         # seconds for a request body, plus one for every `body_rate` bytes received
    body_rate: float = 1024.0  # bytes a second
    send: float = 60.0         # seconds a client may read nothing of a response (writes blocked)
    max_connections: int | None = None  # open client connections in this process; None: no cap

    @classmethod
    def from_config(cls, server: Any) -> ConnectionLimits:
        """From a ServerConfig; without a `max_connections` there, half the process's open-file limit
        (each client connection may need an upstream socket too)."""
        cap = server.max_connections
        if cap is None:
            soft = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
            cap = None if soft == resource.RLIM_INFINITY else max(1, soft // 2)
        return cls(idle=server.idle_timeout, head=server.head_timeout, body=server.body_timeout,
                   body_rate=float(server.body_min_rate), send=server.send_timeout, max_connections=cap)

    @property
    def tick(self) -> float:
        """Seconds between sweeps: a deadline is enforced at most this late."""
        return min(MAX_TICK, self.idle / 2, self.head / 2, self.body / 2, self.send / 2, LINGER / 2)


class Deadlines:
    """The connections of one event loop that are waiting on their client, each with the earliest
    time its deadline may fall; a loop timer every `tick` seconds checks those whose time has come."""

    __slots__ = ("loop", "tick", "waiting", "handle", "refused")

    def __init__(self, loop: asyncio.AbstractEventLoop, tick: float) -> None:
        self.loop = loop
        self.tick = tick
        self.waiting: dict[HttpProtocol, float] = {}
        self.handle: asyncio.TimerHandle | None = None
        self.refused = 0  # connections refused since the last sweep (they are in `waiting` until cut)

    def watch(self, conn: HttpProtocol, when: float) -> None:
        """Check `conn` again at `when` (its deadline, or earlier), or sooner if already due sooner."""
        waiting = self.waiting
        due = waiting.get(conn)
        if due is None or when < due:
            waiting[conn] = when
        if self.handle is None:
            self.handle = self.loop.call_later(self.tick, self.sweep)

    def discard(self, conn: HttpProtocol) -> None:
        self.waiting.pop(conn, None)

    def sweep(self) -> None:
        if self.refused:
            log.warning("refused %d new connection(s): server.max_connections are open", self.refused)
            self.refused = 0
        now = self.loop.time()
        waiting = self.waiting
        for conn in [conn for conn, when in waiting.items() if when <= now]:
            later = conn.check(now)  # may time the connection out; its next deadline, if any
            if later is None:
                waiting.pop(conn, None)
            else:
                waiting[conn] = later
        self.handle = self.loop.call_later(self.tick, self.sweep) if waiting else None


def unsent(transport: Any) -> int:
    """Bytes written to `transport` that its client has not taken yet: in the transport's buffer, and
    (on Linux) in the kernel's send queue. The kernel lets the transport refill only once half its
    buffer (up to 4 MB) has drained, so the transport's buffer alone stands still for seconds while
    a slow client reads steadily."""
    waiting = transport.get_write_buffer_size()
    sock = transport.get_extra_info("socket")
    if sock is not None and _OUTQ is not None:
        with contextlib.suppress(OSError):  # a socket without a send queue: the transport's count will do
            waiting += struct.unpack("i", fcntl.ioctl(sock.fileno(), _OUTQ, b"\0\0\0\0"))[0]
    return waiting


_OUTQ = getattr(termios, "TIOCOUTQ", None)  # SIOCOUTQ on Linux: bytes sent but not yet acknowledged
_deadlines: PerLoop[Deadlines] = PerLoop(Deadlines)  # type: ignore[arg-type]


def deadlines_for(loop: asyncio.AbstractEventLoop, limits: ConnectionLimits) -> Deadlines:
    """This loop's registry for connections that sweep every `limits.tick` seconds."""
    return _deadlines.get(loop, limits.tick)
