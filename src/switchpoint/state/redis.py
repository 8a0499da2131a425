"""Redis state for a cluster: every check is one round trip running one atomic Lua script.

Layout (all keys of one counter share a hash tag, so they live in one Redis Cluster slot):
  sp:{C}      hash  spent, reserved          settled spend and the sum of live holds
  sp:{C}:h    hash  token -> amount          live holds
  sp:{C}:l    zset  token -> lease end (ms)  so holds of a replica that died are released
  rl:{B}      zset  "<token>:<cost>" -> t    sliding-window log of one rate-limit bucket
  rl:{B}:t    string                         the units currently in that window
  hs:{N}      hash                           small shared hashes (circuit-breaker state)
  rc:{K}      string                         response-cache entries
  ch:{C}      pub/sub channel                messages between replicas ("<sender> <reply list> <message>")
  rp:{R}      list                           the other replicas' replies to one message

A message (a revoked key) reaches every replica's listener within milliseconds; each pushes its reply,
and the publisher waits for as many as PUBLISH said received it (at most `reply_timeout`), so when a
revocation answers, every replica has dropped the key. A replica that loses its subscription tells its
handlers that messages may be lost, and resubscribes.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

import redis.asyncio as aioredis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from ..ids import random_hex
from . import Handler, Hold, HoldCheck, StateUnavailableError, Window, WindowCheck, notify

log = logging.getLogger("switchpoint.state")
T = TypeVar("T")
RESUBSCRIBE_AFTER = 0.5  # seconds between attempts to resubscribe after the connection was lost
REPLY_TIMEOUT = 1.0

RESERVE = """
if redis.call('EXISTS', KEYS[1]) == 0 then return false end
local now = tonumber(ARGV[6])
local expired = redis.call('ZRANGEBYSCORE', KEYS[3], '-inf', now, 'LIMIT', 0, 200)
if #expired > 0 then
  local freed = 0
  for _, token in ipairs(expired) do
    local held = redis.call('HGET', KEYS[2], token)
    if held then freed = freed + tonumber(held) end
  end
  redis.call('HDEL', KEYS[2], unpack(expired))
  redis.call('ZREM', KEYS[3], unpack(expired))
  redis.call('HINCRBY', KEYS[1], 'reserved', -freed)
end
local remaining = tonumber(ARGV[2]) - tonumber(redis.call('HGET', KEYS[1], 'spent') or '0')
  - tonumber(redis.call('HGET', KEYS[1], 'reserved') or '0')
local amount = tonumber(ARGV[3])
local ok = 0
if amount <= remaining then
  redis.call('HINCRBY', KEYS[1], 'reserved', amount)
  redis.call('HSET', KEYS[2], ARGV[1], amount)
  redis.call('ZADD', KEYS[3], now + tonumber(ARGV[5]), ARGV[1])
  ok = 1
end
for i = 1, 3 do redis.call('PEXPIRE', KEYS[i], ARGV[4]) end
return {ok, remaining}
"""

# KEYS: per counter its three keys (as RESERVE). ARGV: token, amount, lease ms, now ms, then per counter
# its limit and ttl ms. Returns {-2, unseeded indices...} (nothing held), or {refused index or -1,
# remaining per counter...}: the amount is held under every counter, or none.
RESERVE_ALL = """
local n = #KEYS / 3
local missing = {-2}
for i = 1, n do
  if redis.call('EXISTS', KEYS[3 * i - 2]) == 0 then missing[#missing + 1] = i - 1 end
end
if #missing > 1 then return missing end
local token, amount, lease, now = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local out, refused = {-1}, -1
for i = 1, n do
  local c, h, l = KEYS[3 * i - 2], KEYS[3 * i - 1], KEYS[3 * i]
  local expired = redis.call('ZRANGEBYSCORE', l, '-inf', now, 'LIMIT', 0, 200)
  if #expired > 0 then
    local freed = 0
    for _, t in ipairs(expired) do
      local held = redis.call('HGET', h, t)
      if held then freed = freed + tonumber(held) end
    end
    redis.call('HDEL', h, unpack(expired))
    redis.call('ZREM', l, unpack(expired))
    redis.call('HINCRBY', c, 'reserved', -freed)
  end
  local remaining = tonumber(ARGV[3 + 2 * i]) - tonumber(redis.call('HGET', c, 'spent') or '0')
    - tonumber(redis.call('HGET', c, 'reserved') or '0')
  out[i + 1] = remaining
  if refused < 0 and amount > remaining then refused = i - 1 end
end
out[1] = refused
for i = 1, n do
  local c, h, l = KEYS[3 * i - 2], KEYS[3 * i - 1], KEYS[3 * i]
  if refused < 0 then
    redis.call('HINCRBY', c, 'reserved', amount)
    redis.call('HSET', h, token, amount)
    redis.call('ZADD', l, now + lease, token)
  end
  local ttl = ARGV[4 + 2 * i]
  redis.call('PEXPIRE', c, ttl)
  redis.call('PEXPIRE', h, ttl)
  redis.call('PEXPIRE', l, ttl)
end
return out
"""

# KEYS: per counter its three keys. ARGV: token, actual, then per counter its ttl ms.
SETTLE_ALL = """
for i = 1, #KEYS / 3 do
  local c, h, l = KEYS[3 * i - 2], KEYS[3 * i - 1], KEYS[3 * i]
  local held = redis.call('HGET', h, ARGV[1])
  if held then
    redis.call('HDEL', h, ARGV[1])
    redis.call('ZREM', l, ARGV[1])
  end
  if redis.call('EXISTS', c) == 1 then
    if held then redis.call('HINCRBY', c, 'reserved', -tonumber(held)) end
    redis.call('HINCRBY', c, 'spent', ARGV[2])
    local ttl = ARGV[2 + i]
    redis.call('PEXPIRE', c, ttl)
    redis.call('PEXPIRE', h, ttl)
    redis.call('PEXPIRE', l, ttl)
  end
end
return 1
"""

SETTLE = """
local held = redis.call('HGET', KEYS[2], ARGV[1])
if held then
  redis.call('HDEL', KEYS[2], ARGV[1])
  redis.call('ZREM', KEYS[3], ARGV[1])
end
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
if held then redis.call('HINCRBY', KEYS[1], 'reserved', -tonumber(held)) end
redis.call('HINCRBY', KEYS[1], 'spent', ARGV[2])
for i = 1, 3 do redis.call('PEXPIRE', KEYS[i], ARGV[3]) end
return 1
"""

SEED = """
if redis.call('EXISTS', KEYS[1]) == 0 then
  redis.call('HSET', KEYS[1], 'spent', ARGV[1], 'reserved', 0)
end
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return redis.call('HGET', KEYS[1], 'spent')
"""

# KEYS: per window, the log and its total. ARGV: now, then per window: limit, seconds, cost.
# The log holds one member per millisecond, "<stamp>:<cost>", scored at the millisecond's end (as the
# in-process log does): a key busy every millisecond keeps 60,000 members for a one-minute window, not
# one per request, and every hit still leaves no earlier than it should.
HIT = """
local now = tonumber(ARGV[1])
local n = #KEYS / 2
local totals, refused = {}, -1
for i = 1, n do
  local log, total = KEYS[2 * i - 1], KEYS[2 * i]
  local base = 3 * (i - 1) + 1
  local limit, seconds, cost = tonumber(ARGV[base + 1]), tonumber(ARGV[base + 2]), tonumber(ARGV[base + 3])
  local horizon = now - seconds
  local old = redis.call('ZRANGEBYSCORE', log, '-inf', horizon)
  local held = tonumber(redis.call('GET', total) or '0')
  if #old > 0 then
    for _, member in ipairs(old) do held = held - tonumber(string.match(member, ':(%d+)$')) end
    redis.call('ZREMRANGEBYSCORE', log, '-inf', horizon)
    if held < 0 then held = 0 end
    redis.call('SET', total, held)
  end
  totals[i] = held
  if refused < 0 and held + math.max(cost, 1) > limit then refused = i - 1 end
end
local out = {refused}
for i = 1, n do
  local log, total = KEYS[2 * i - 1], KEYS[2 * i]
  local base = 3 * (i - 1) + 1
  local limit, seconds, cost = tonumber(ARGV[base + 1]), tonumber(ARGV[base + 2]), tonumber(ARGV[base + 3])
  if refused < 0 and cost > 0 then
    local stamp = math.ceil(now * 1000)
    local merged = cost
    local same = redis.call('ZRANGEBYSCORE', log, stamp / 1000, stamp / 1000)
    if #same > 0 then
      merged = merged + tonumber(string.match(same[1], ':(%d+)$'))
      redis.call('ZREM', log, same[1])
    end
    redis.call('ZADD', log, stamp / 1000, stamp .. ':' .. merged)
    totals[i] = totals[i] + cost
    redis.call('SET', total, totals[i])
  end
  local ttl = math.ceil(seconds * 1000) + 1000
  redis.call('PEXPIRE', log, ttl)
  redis.call('PEXPIRE', total, ttl)
  local reset = seconds
  local first = redis.call('ZRANGE', log, 0, 0, 'WITHSCORES')
  if #first > 0 then reset = math.min(math.max(tonumber(first[2]) + seconds - now, 0.001), seconds) end
  out[#out + 1] = math.max(limit - totals[i], 0)
  out[#out + 1] = math.ceil(reset * 1000)
end
return out
"""

HASH_SET = """
for i = 2, #ARGV, 2 do redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1]) end
redis.call('PEXPIRE', KEYS[1], ARGV[1])
return 1
"""

HASH_INCR = """
local value = redis.call('HINCRBY', KEYS[1], ARGV[1], ARGV[2])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return value
"""


def _ms(seconds: float) -> int:
    return max(1, int(seconds * 1000))


def _counter_keys(counter: str) -> list[str]:
    """A counter whose name starts with a hash tag (`{...}`) keeps it, so counters reserved together
    (a key's and its end users', budget.py) share one Redis Cluster slot."""
    base = f"sp:{counter}" if counter.startswith("{") else f"sp:{{{counter}}}"
    return [base, f"{base}:h", f"{base}:l"]


class RedisState:
    def __init__(self, url: str, *, timeout: float = 2.0, max_connections: int = 64) -> None:
        self.url = url
        # A blocking pool: a burst of requests waits for a free connection instead of failing.
        pool = aioredis.BlockingConnectionPool.from_url(url, max_connections=max_connections, timeout=timeout,
                                                        socket_timeout=timeout, socket_connect_timeout=timeout,
                                                        health_check_interval=30)
        self.client = aioredis.Redis(connection_pool=pool)
        self._reserve = self.client.register_script(RESERVE)
        self._settle = self.client.register_script(SETTLE)
        self._reserve_all = self.client.register_script(RESERVE_ALL)
        self._settle_all = self.client.register_script(SETTLE_ALL)
        self._seed = self.client.register_script(SEED)
        self._hit = self.client.register_script(HIT)
        self._hash_set = self.client.register_script(HASH_SET)
        self._hash_incr = self.client.register_script(HASH_INCR)
        self._sender = random_hex(8)  # this replica's messages come back to it; it skips them
        self._handlers: dict[str, Handler] = {}
        self._listener: asyncio.Task[None] | None = None

    async def _call(self, fn: Callable[[], Awaitable[T]]) -> T:
        try:
            return await fn()
        except (RedisConnectionError, RedisTimeoutError, OSError) as exc:
            raise StateUnavailableError(f"Shared state is unreachable ({exc.__class__.__name__}); limits cannot "
                                        "be checked, so the request is refused.") from exc

    async def _script(self, script: Any, keys: list[str], args: list[Any]) -> Any:
        return await self._call(lambda: script(keys=keys, args=args))

    # -- spend counters --------------------------------------------------------------------------

    async def reserve(self, counter: str, token: str, limit: int, amount: int, *, ttl: float,
                      lease: float) -> tuple[bool, int] | None:
        result = await self._script(self._reserve, _counter_keys(counter),
                                    [token, limit, amount, _ms(ttl), _ms(lease), int(time.time() * 1000)])
        if result is None:
            return None
        return bool(result[0]), int(result[1])

    async def settle(self, counter: str, token: str, actual: int, *, ttl: float) -> None:
        await self._script(self._settle, _counter_keys(counter), [token, actual, _ms(ttl)])

    async def reserve_all(self, holds: Sequence[Hold], token: str, amount: int, *, lease: float) -> HoldCheck:
        keys = [k for hold in holds for k in _counter_keys(hold.counter)]
        args: list[Any] = [token, amount, _ms(lease), int(time.time() * 1000)]
        for hold in holds:
            args += [hold.limit, _ms(hold.ttl)]
        out = [int(v) for v in await self._script(self._reserve_all, keys, args)]
        if out[0] == -2:
            return HoldCheck(-1, (), tuple(out[1:]))
        return HoldCheck(out[0], tuple(out[1:]))

    async def settle_all(self, counters: Sequence[tuple[str, float]], token: str, actual: int) -> None:
        keys = [k for counter, _ in counters for k in _counter_keys(counter)]
        await self._script(self._settle_all, keys, [token, actual, *[_ms(ttl) for _, ttl in counters]])

    async def spent(self, counter: str) -> int | None:
        value = await self._call(lambda: self.client.hget(_counter_keys(counter)[0], "spent"))
        return None if value is None else int(value)

    async def seed(self, counter: str, initial: int, *, ttl: float) -> int:
        return int(await self._script(self._seed, _counter_keys(counter)[:1], [initial, _ms(ttl)]))

    # -- rate limits -----------------------------------------------------------------------------

    async def hit(self, windows: Sequence[Window], now: float) -> WindowCheck:
        keys: list[str] = []
        args: list[Any] = [repr(now)]
        for w in windows:
            keys += [f"rl:{{{w.bucket}}}", f"rl:{{{w.bucket}}}:t"]
            args += [w.limit, repr(w.seconds), w.cost]
        out = await self._script(self._hit, keys, args)
        values = [int(v) for v in out[1:]]
        return WindowCheck(int(out[0]), tuple(values[0::2]), tuple(v / 1000 for v in values[1::2]))

    # -- shared hashes ---------------------------------------------------------------------------

    async def hash_get(self, name: str) -> dict[str, str]:
        raw = await self._call(lambda: self.client.hgetall(f"hs:{name}"))
        return {k.decode(): v.decode() for k, v in raw.items()}

    async def hash_set(self, name: str, values: dict[str, str], *, ttl: float) -> None:
        flat = [item for pair in values.items() for item in pair]
        await self._script(self._hash_set, [f"hs:{name}"], [_ms(ttl), *flat])

    async def hash_incr(self, name: str, field: str, amount: int, *, ttl: float) -> int:
        return int(await self._script(self._hash_incr, [f"hs:{name}"], [field, amount, _ms(ttl)]))

    # -- response cache --------------------------------------------------------------------------

    async def cache_get(self, key: str) -> bytes | None:
        return await self._call(lambda: self.client.get(f"rc:{key}"))

    async def cache_put(self, key: str, value: bytes, *, ttl: float) -> None:
        await self._call(lambda: self.client.set(f"rc:{key}", value, px=_ms(ttl)))

    async def cache_delete(self, key: str) -> None:
        await self._call(lambda: self.client.delete(f"rc:{key}"))

    # -- stickiness --------------------------------------------------------------------------------

    async def sticky_get(self, key: str) -> str | None:
        value = await self._call(lambda: self.client.get(f"st:{key}"))
        return value.decode() if value is not None else None

    async def sticky_set(self, key: str, value: str, *, ttl: float) -> None:
        await self._call(lambda: self.client.set(f"st:{key}", value, px=_ms(ttl)))

    # -- messages --------------------------------------------------------------------------------

    async def subscribe(self, channel: str, handler: Handler) -> None:
        """(Re)start the listener on every channel subscribed so far; returns once it listens."""
        self._handlers[channel] = handler
        await self._stop_listening()
        listening: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._listener = asyncio.get_running_loop().create_task(self._listen(listening), name="state-messages")
        await listening

    async def publish(self, channel: str, message: str, *, reply_timeout: float = REPLY_TIMEOUT) -> list[str]:
        replies_key = f"rp:{random_hex(8)}"
        received = await self._call(lambda: self.client.publish(f"ch:{channel}",
                                                                f"{self._sender} {replies_key} {message}"))
        expected = int(received) - (channel in self._handlers)  # our own listener received it too
        replies: list[str] = []
        if expected <= 0:
            return replies
        deadline = time.monotonic() + reply_timeout
        try:
            for _ in range(expected):
                wait = max(deadline - time.monotonic(), 0.001)
                popped = await self._call(lambda wait=wait: self.client.blpop([replies_key], timeout=wait))
                if popped is None:
                    log.warning("%d replica(s) did not answer a message within %g s", expected - len(replies),
                                reply_timeout)
                    break
                if popped[1]:
                    replies.append(popped[1].decode())
        finally:
            await self._call(lambda: self.client.delete(replies_key))
        return replies

    def _current(self) -> bool:
        """Whether the running listener is still wanted (a cancellation can be lost in a read timeout
        that expires at the same moment, so the loops check this too)."""
        return asyncio.current_task() is self._listener

    async def _listen(self, listening: asyncio.Future[None]) -> None:
        while self._current():
            pubsub = self.client.pubsub()
            try:
                await pubsub.subscribe(*(f"ch:{channel}" for channel in self._handlers))
                if not listening.done():
                    listening.set_result(None)
                else:  # resubscribed after a loss: what was published meanwhile is gone
                    self._deliver_all(None)
                while self._current():
                    message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=1.0)
                    if message is not None:
                        await self._deliver(message["channel"].decode()[3:], message["data"].decode())
            except (RedisConnectionError, RedisTimeoutError, OSError) as exc:
                log.warning("state messages: subscription lost (%s); resubscribing", exc.__class__.__name__)
                self._deliver_all(None)
                if not listening.done():
                    listening.set_result(None)  # the caller goes on; we keep trying in the background
                await asyncio.sleep(RESUBSCRIBE_AFTER)
            finally:
                with contextlib.suppress(RedisConnectionError, OSError):
                    await pubsub.aclose()

    async def _deliver(self, channel: str, data: str) -> None:
        sender, replies_key, message = data.split(" ", 2)
        handler = self._handlers.get(channel)
        if sender == self._sender or handler is None:
            return
        reply = notify(handler, message) or ""
        async with self.client.pipeline(transaction=False) as pipe:
            await pipe.rpush(replies_key, reply).pexpire(replies_key, _ms(REPLY_TIMEOUT * 5)).execute()

    def _deliver_all(self, message: str | None) -> None:
        for handler in self._handlers.values():
            notify(handler, message)

    async def _stop_listening(self) -> None:
        listener, self._listener = self._listener, None
        if listener is not None:
            listener.cancel()
            await asyncio.wait({listener}, timeout=2 * REPLY_TIMEOUT)

    async def ping(self) -> None:
        await self._call(self.client.ping)

    async def close(self) -> None:
        await self._stop_listening()
        await self.client.aclose()
