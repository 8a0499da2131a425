"""The workers' shared state: with `serve --workers N` and `state: memory`, one process (state/host.py)
keeps the one in-process state, and each worker reaches it over a Unix socket with this backend. Limits
stay exact and a revoked key is dropped by every worker before the revoking request answers, without
Redis.

One connection per worker carries every call, pipelined: each call is one frame out and one frame back
(one round trip), matched by id, and the frames a worker sends in one turn of its event loop leave in
one write. A frame is `length:u32 id:u32 op:u8 json_length:u32 json blob`: the arguments as orjson,
and a raw blob for cache values so they are never re-encoded.

Measured with bench/state_ops.py (2-core Sapphire Rapids, uvloop; a request to a key with a spend
limit and a rate limit makes three calls: hit, reserve, settle):
  one request at a time:  ~130 µs of wall time a request (~45 µs a call); ~60 µs of the worker's CPU
                          and ~58 µs of the state process's (waking each process per call dominates)
  64 requests in flight:  ~13-17 µs of the worker's CPU and ~14-18 µs of the state process's a
                          request (~5 µs a call each: frames travel together), ~30 µs of wall time
  in-process (memory):    ~6-7 µs a request
So under load the shared state adds ~8-10 µs of worker CPU to such a request (the gateway spends
~150 µs of CPU on one), plus ~15 µs on the state process's core. A key without limits makes no call."""

from __future__ import annotations

import asyncio
import logging
import struct
import time
from collections.abc import Sequence
from typing import Any

import orjson

from . import Handler, Hold, HoldCheck, StateUnavailableError, Window, WindowCheck, notify

log = logging.getLogger("switchpoint.state")
SCHEME = "switchpoint+unix://"

HEADER = struct.Struct(">IIBI")  # length (of what follows it), id, op, json length
HEADER_SIZE = HEADER.size

# calls (worker -> host)
RESERVE, SETTLE, SPENT, SEED, HIT, HASH_GET, HASH_SET, HASH_INCR = 1, 2, 3, 4, 5, 6, 7, 8
CACHE_GET, CACHE_PUT, CACHE_DELETE, PING, SUBSCRIBE, PUBLISH, REPLY = 9, 10, 11, 12, 13, 14, 15
RESERVE_ALL = 17
STICKY_GET, STICKY_SET = 18, 19
SETTLE_ALL = 20
# answers and messages (host -> worker)
OK, MESSAGE, ERROR = 0, 16, 255


def frame(ident: int, op: int, args: Any, blob: bytes = b"") -> bytes:
    body = orjson.dumps(args)
    return HEADER.pack(HEADER_SIZE - 4 + len(body) + len(blob), ident, op, len(body)) + body + blob


def frames(buffer: bytearray) -> tuple[list[tuple[int, int, Any, bytes]], int]:
    """The whole frames at the start of `buffer`, and how many bytes they took."""
    found = []
    pos, size = 0, len(buffer)
    while size - pos >= HEADER_SIZE:
        length, ident, op, json_length = HEADER.unpack_from(buffer, pos)
        end = pos + 4 + length
        if end > size:
            break
        start = pos + HEADER_SIZE
        args = orjson.loads(memoryview(buffer)[start:start + json_length])
        found.append((ident, op, args, bytes(buffer[start + json_length:end])))
        pos = end
    return found, pos


class _Link(asyncio.Protocol):
    """One connection to the host: calls in flight by id, and messages the host pushes."""

    def __init__(self, owner: SocketState) -> None:
        self.owner = owner
        self.loop = asyncio.get_running_loop()
        self.transport: asyncio.Transport | None = None
        self.buffer = bytearray()
        self.waiting: dict[int, tuple[asyncio.Future[tuple[Any, bytes]], float]] = {}
        self.next_id = 0
        self.out: list[bytes] = []
        self.flushing = False
        self.closed = False
        self.watchdog: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self.watchdog = self.loop.call_later(self.owner.timeout / 2, self.check)

    def call(self, op: int, args: Any, blob: bytes = b"") -> asyncio.Future[tuple[Any, bytes]]:
        self.next_id = ident = (self.next_id + 1) & 0xFFFFFFFF
        future = self.loop.create_future()
        self.waiting[ident] = (future, time.monotonic())
        self.send(frame(ident, op, args, blob))
        return future

    def send(self, data: bytes) -> None:
        self.out.append(data)
        if not self.flushing:
            self.flushing = True
            self.loop.call_soon(self.flush)

    def flush(self) -> None:
        self.flushing = False
        if not self.closed and self.transport is not None:
            self.transport.write(b"".join(self.out))
        self.out.clear()

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        found, used = frames(self.buffer)
        del self.buffer[:used]
        for ident, op, args, blob in found:
            if op == MESSAGE:
                reply = self.owner.deliver(args[0], args[1])
                self.send(frame(ident, REPLY, reply))
                continue
            entry = self.waiting.pop(ident, None)
            if entry is None or entry[0].done():
                continue
            if op == OK:
                entry[0].set_result((args, blob))
            else:
                entry[0].set_exception(StateUnavailableError(f"Shared state failed: {args}"))

    def check(self) -> None:
        """Give up on a host that stopped answering (a stopped or wedged process): calls fail with 503."""
        self.watchdog = None
        if self.closed:
            return
        horizon = time.monotonic() - self.owner.timeout
        if any(started < horizon for _, started in self.waiting.values()):
            self.fail(f"no answer within {self.owner.timeout:g} s")
            if self.transport is not None:
                self.transport.abort()
            return
        self.watchdog = self.loop.call_later(self.owner.timeout / 2, self.check)

    def connection_lost(self, exc: Exception | None) -> None:
        self.fail(f"connection lost ({exc or 'closed by the host'})")

    def fail(self, why: str) -> None:
        if self.closed:
            return
        self.closed = True
        if self.watchdog is not None:
            self.watchdog.cancel()
        waiting, self.waiting = self.waiting, {}
        error = StateUnavailableError(f"Shared state is unreachable ({why}); limits cannot be checked, so the "
                                      "request is refused.")
        for future, _ in waiting.values():
            if not future.done():
                future.set_exception(error)
        self.owner.lost(self)


class SocketState:
    def __init__(self, path: str, *, timeout: float = 2.0) -> None:
        self.path = path
        self.timeout = timeout
        self._link: _Link | None = None
        self._connecting: asyncio.Lock | None = None
        self._handlers: dict[str, Handler] = {}
        self._reconnecting: asyncio.Task[None] | None = None
        self._closing = False

    async def _connect(self) -> _Link:
        if self._connecting is None:
            self._connecting = asyncio.Lock()
        async with self._connecting:
            link = self._link
            if link is not None and not link.closed:
                return link
            if self._closing:
                raise StateUnavailableError("Shared state is closed.")
            loop = asyncio.get_running_loop()
            try:
                _, link = await loop.create_unix_connection(lambda: _Link(self), self.path)
            except OSError as exc:
                raise StateUnavailableError(f"Shared state is unreachable ({exc.__class__.__name__}: {exc}); "
                                            "limits cannot be checked, so the request is refused.") from exc
            reconnected = self._link is not None
            self._link = link
            for channel in self._handlers:
                await link.call(SUBSCRIBE, [channel])
            if reconnected:  # messages sent while we were away are lost: every subscriber starts afresh
                self._gap()
            return link

    async def _call(self, op: int, args: Any, blob: bytes = b"") -> tuple[Any, bytes]:
        link = self._link
        if link is None or link.closed:
            link = await self._connect()
        return await link.call(op, args, blob)

    def lost(self, link: _Link) -> None:
        """Reconnect at once, not on the next call: until then this process hears no messages."""
        if link is not self._link or self._closing:
            return
        log.warning("connection to the shared state lost; reconnecting")
        self._gap()
        if self._handlers and (self._reconnecting is None or self._reconnecting.done()):
            self._reconnecting = asyncio.get_running_loop().create_task(self._reconnect(), name="state-reconnect")

    async def _reconnect(self) -> None:
        delay = 0.05
        while not self._closing:
            try:
                await self._connect()
                return
            except StateUnavailableError as exc:
                log.warning("shared state still unreachable: %s", exc)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 1.0)

    def _gap(self) -> None:
        for channel in self._handlers:
            self.deliver(channel, None)

    def deliver(self, channel: str, message: str | None) -> str | None:
        handler = self._handlers.get(channel)
        return None if handler is None else notify(handler, message)

    # -- spend counters --------------------------------------------------------------------------

    async def reserve(self, counter: str, token: str, limit: int, amount: int, *, ttl: float,
                      lease: float) -> tuple[bool, int] | None:
        result, _ = await self._call(RESERVE, [counter, token, limit, amount, ttl, lease])
        return None if result is None else (bool(result[0]), int(result[1]))

    async def reserve_all(self, holds: Sequence[Hold], token: str, amount: int, *, lease: float) -> HoldCheck:
        result, _ = await self._call(RESERVE_ALL, [[[h.counter, h.limit, h.ttl] for h in holds], token, amount, lease])
        return HoldCheck(result[0], tuple(result[1]), tuple(result[2]))

    async def settle(self, counter: str, token: str, actual: int, *, ttl: float) -> None:
        await self._call(SETTLE, [counter, token, actual, ttl])

    async def settle_all(self, counters: Sequence[tuple[str, float]], token: str, actual: int) -> None:
        await self._call(SETTLE_ALL, [[list(c) for c in counters], token, actual])

    async def spent(self, counter: str) -> int | None:
        return (await self._call(SPENT, [counter]))[0]

    async def seed(self, counter: str, initial: int, *, ttl: float) -> int:
        return (await self._call(SEED, [counter, initial, ttl]))[0]

    # -- rate limits -----------------------------------------------------------------------------

    async def hit(self, windows: Sequence[Window], now: float) -> WindowCheck:
        result, _ = await self._call(HIT, [now, [[w.bucket, w.limit, w.seconds, w.cost] for w in windows]])
        return WindowCheck(result[0], tuple(result[1]), tuple(result[2]))

    # -- shared hashes ---------------------------------------------------------------------------

    async def hash_get(self, name: str) -> dict[str, str]:
        return (await self._call(HASH_GET, [name]))[0]

    async def hash_set(self, name: str, values: dict[str, str], *, ttl: float) -> None:
        await self._call(HASH_SET, [name, values, ttl])

    async def hash_incr(self, name: str, field: str, amount: int, *, ttl: float) -> int:
        return (await self._call(HASH_INCR, [name, field, amount, ttl]))[0]

    # -- response cache --------------------------------------------------------------------------

    async def cache_get(self, key: str) -> bytes | None:
        found, value = await self._call(CACHE_GET, [key])
        return value if found else None

    async def cache_put(self, key: str, value: bytes, *, ttl: float) -> None:
        await self._call(CACHE_PUT, [key, ttl], value)

    async def cache_delete(self, key: str) -> None:
        await self._call(CACHE_DELETE, [key])

    # -- stickiness --------------------------------------------------------------------------------

    async def sticky_get(self, key: str) -> str | None:
        return (await self._call(STICKY_GET, [key]))[0]

    async def sticky_set(self, key: str, value: str, *, ttl: float) -> None:
        await self._call(STICKY_SET, [key, value, ttl])

    # -- messages --------------------------------------------------------------------------------

    async def subscribe(self, channel: str, handler: Handler) -> None:
        """Raises StateUnavailableError if the host cannot be reached now; the subscription is made
        again on every (re)connection all the same."""
        self._handlers[channel] = handler
        await self._call(SUBSCRIBE, [channel])

    async def publish(self, channel: str, message: str) -> list[str]:
        return [reply for reply in (await self._call(PUBLISH, [channel, message]))[0] if reply]

    async def ping(self) -> None:
        await self._call(PING, [])

    async def close(self) -> None:
        self._closing = True
        if self._reconnecting is not None:
            self._reconnecting.cancel()
        link, self._link = self._link, None
        if link is not None and link.transport is not None:
            link.flush()
            link.transport.close()
            link.fail("closed")
