"""The process that keeps the one in-process state of `serve --workers N` (with `state: memory`) and
serves it to the workers over a Unix socket (the wire format is in state/socket.py).

Every call runs a `MemoryState` method to completion before the next frame is read (none of them
awaits), so each is atomic across all workers, as a Lua script is in Redis. A published message goes
to every other subscribed worker; the publisher is answered once each has replied (or after
`reply_timeout`, for a worker that is wedged), so when `DELETE /keys/{hash}` answers, no worker still
holds the key. A state process started again after a crash holds messages for up to `START_GRACE`
until every worker has subscribed again (they reconnect at once; their subscriptions wait in the
socket), so a recount of spend from the ledger hears the rows every worker has not written yet."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import socket
from collections.abc import Callable, Coroutine
from typing import Any

from . import Hold, Window
from . import socket as wire
from .memory import MemoryState
from .socket import OK, frame, frames

log = logging.getLogger("switchpoint.state")
REPLY_TIMEOUT = 1.0
START_GRACE = 0.5  # with the reply timeout, under the workers' 2 s call timeout


def now(coroutine: Coroutine[Any, Any, Any]) -> Any:
    """Run a MemoryState method that never awaits, without a task."""
    try:
        coroutine.send(None)
    except StopIteration as done:
        return done.value
    coroutine.close()
    raise RuntimeError("the in-process state awaited")


def _hit(state: MemoryState, args: list[Any]) -> Any:
    check = now(state.hit([Window(*w) for w in args[1]], args[0]))
    return [check.refused, check.remaining, check.reset]


def _reserve(state: MemoryState, a: list[Any]) -> Any:
    return now(state.reserve(a[0], a[1], a[2], a[3], ttl=a[4], lease=a[5]))


def _reserve_all(state: MemoryState, a: list[Any]) -> Any:
    check = now(state.reserve_all([Hold(*h) for h in a[0]], a[1], a[2], lease=a[3]))
    return [check.refused, check.remaining, check.unseeded]


CALLS: dict[int, Callable[[MemoryState, list[Any]], Any]] = {
    wire.RESERVE: _reserve,
    wire.SETTLE: lambda s, a: now(s.settle(a[0], a[1], a[2], ttl=a[3])),
    wire.RESERVE_ALL: _reserve_all,
    wire.SETTLE_ALL: lambda s, a: now(s.settle_all([(c, t) for c, t in a[0]], a[1], a[2])),
    wire.SPENT: lambda s, a: now(s.spent(a[0])),
    wire.SEED: lambda s, a: now(s.seed(a[0], a[1], ttl=a[2])),
    wire.HIT: _hit,
    wire.HASH_GET: lambda s, a: now(s.hash_get(a[0])),
    wire.HASH_SET: lambda s, a: now(s.hash_set(a[0], a[1], ttl=a[2])),
    wire.HASH_INCR: lambda s, a: now(s.hash_incr(a[0], a[1], a[2], ttl=a[3])),
    wire.CACHE_DELETE: lambda s, a: now(s.cache_delete(a[0])),
    wire.STICKY_GET: lambda s, a: now(s.sticky_get(a[0])),
    wire.STICKY_SET: lambda s, a: now(s.sticky_set(a[0], a[1], ttl=a[2])),
    wire.PING: lambda s, a: None,
}


class _Broadcast:
    """One published message waiting for the other subscribers' replies."""

    def __init__(self, publisher: _Peer, ident: int, expected: set[_Peer], timer: asyncio.TimerHandle) -> None:
        self.publisher = publisher
        self.ident = ident
        self.expected = expected
        self.replies: list[str | None] = []
        self.timer = timer


class StateHost:
    def __init__(self, state: MemoryState, *, reply_timeout: float = REPLY_TIMEOUT, workers: int = 0) -> None:
        self.state = state
        self.reply_timeout = reply_timeout
        self.workers = workers  # how many processes subscribe, once all are connected
        self.held: list[tuple[_Peer, int, str, str]] = []  # messages published before they all were
        self.holding_until = 0.0
        self.subscribers: dict[str, set[_Peer]] = {}
        self.broadcasts: dict[int, _Broadcast] = {}
        self.next_broadcast = 0

    async def serve(self, sock: socket.socket) -> asyncio.AbstractServer:
        loop = asyncio.get_running_loop()
        self.holding_until = loop.time() + START_GRACE
        loop.call_later(START_GRACE, self.release)
        return await loop.create_unix_server(lambda: _Peer(self), sock=sock)

    def subscribed(self, peer: _Peer, channel: str) -> None:
        self.subscribers.setdefault(channel, set()).add(peer)
        if self.held:
            self.release(channel)

    def release(self, channel: str | None = None) -> None:
        """Send the held messages (of `channel`, once all its subscribers are here; all, at the end of
        the grace)."""
        held, self.held = self.held, []
        for publisher, ident, on, message in held:
            if channel is None or on == channel:
                answer = self.publish(publisher, ident, on, message, hold=channel is not None)
                if answer is not None:
                    publisher.send(answer)
            else:
                self.held.append((publisher, ident, on, message))

    def publish(self, publisher: _Peer, ident: int, channel: str, message: str, *, hold: bool = True) -> bytes | None:
        """Send `message` to the other subscribers; the answer to the publisher comes when they replied."""
        others = {peer for peer in self.subscribers.get(channel, ()) if peer is not publisher}
        if hold and len(others) < self.workers - 1 and asyncio.get_running_loop().time() < self.holding_until:
            self.held.append((publisher, ident, channel, message))
            return None
        if not others:
            return frame(ident, OK, [])
        self.next_broadcast = number = (self.next_broadcast + 1) & 0xFFFFFFFF
        timer = asyncio.get_running_loop().call_later(self.reply_timeout, self.finish, number)
        self.broadcasts[number] = _Broadcast(publisher, ident, others, timer)
        out = frame(number, wire.MESSAGE, [channel, message])
        for peer in others:
            peer.send(out)
        return None

    def reply(self, peer: _Peer, number: int, reply: str | None) -> None:
        broadcast = self.broadcasts.get(number)
        if broadcast is None or peer not in broadcast.expected:
            return  # too late: the publisher was answered without it
        broadcast.expected.discard(peer)
        broadcast.replies.append(reply)
        if not broadcast.expected:
            self.finish(number)

    def finish(self, number: int) -> None:
        broadcast = self.broadcasts.pop(number, None)
        if broadcast is None:
            return
        broadcast.timer.cancel()
        if broadcast.expected:
            log.warning("%d worker(s) did not answer a message within %g s", len(broadcast.expected),
                        self.reply_timeout)
        broadcast.publisher.send(frame(broadcast.ident, OK, broadcast.replies))

    def gone(self, peer: _Peer) -> None:
        self.held = [entry for entry in self.held if entry[0] is not peer]
        for subscribers in self.subscribers.values():
            subscribers.discard(peer)
        for number, broadcast in list(self.broadcasts.items()):
            if broadcast.publisher is peer:
                broadcast.timer.cancel()
                del self.broadcasts[number]
            elif peer in broadcast.expected:
                broadcast.expected.discard(peer)
                if not broadcast.expected:
                    self.finish(number)


class _Peer(asyncio.Protocol):
    """One worker's connection. Answers to the frames of one read leave in one write."""

    def __init__(self, host: StateHost) -> None:
        self.host = host
        self.buffer = bytearray()
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def send(self, data: bytes) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(data)

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        found, used = frames(self.buffer)
        del self.buffer[:used]
        out = []
        state = self.host.state
        for ident, op, args, blob in found:
            try:
                answer = self.answer(state, ident, op, args, blob)
            except Exception as exc:  # a bad frame is answered with an error (the worker answers 503), not a crash
                log.exception("state call %d failed", op)
                answer = frame(ident, wire.ERROR, f"{exc.__class__.__name__}: {exc}")
            if answer is not None:
                out.append(answer)
        if out:
            self.send(b"".join(out))

    def answer(self, state: MemoryState, ident: int, op: int, args: Any, blob: bytes) -> bytes | None:
        call = CALLS.get(op)
        if call is not None:
            return frame(ident, OK, call(state, args))
        if op == wire.CACHE_GET:
            value = now(state.cache_get(args[0]))
            return frame(ident, OK, value is not None, value or b"")
        if op == wire.CACHE_PUT:
            now(state.cache_put(args[0], blob, ttl=args[1]))
            return frame(ident, OK, None)
        if op == wire.SUBSCRIBE:
            self.host.subscribed(self, args[0])
            return frame(ident, OK, None)
        if op == wire.PUBLISH:
            return self.host.publish(self, ident, args[0], args[1])
        if op == wire.REPLY:
            self.host.reply(self, ident, args)
            return None
        raise ValueError(f"unknown call {op}")

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None
        self.host.gone(self)


def run(sock: socket.socket, cache_bytes: int, workers: int) -> None:
    """The state process: serve on `sock` (bound and listening, inherited from the supervisor) until
    SIGTERM, or until the supervisor is gone. SIGINT (Ctrl-C reaches the whole process group) is
    ignored: the workers still settle their requests in flight while they drain, and need the state."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)  # the supervisor's handler came along with fork
    import uvloop

    async def main() -> None:
        loop = asyncio.get_running_loop()
        stop = loop.create_future()
        loop.add_signal_handler(signal.SIGTERM, lambda: None if stop.done() else stop.set_result(None))
        parent = os.getppid()

        def watch() -> None:  # the supervisor was killed: nobody will stop us
            if os.getppid() != parent:
                if not stop.done():
                    stop.set_result(None)
                return
            loop.call_later(1.0, watch)

        watch()
        server = await StateHost(MemoryState(cache_bytes=cache_bytes), workers=workers).serve(sock)
        await stop
        server.close()

    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        runner.run(main())
