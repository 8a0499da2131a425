"""Per-key spend limits, and per end user of a key (`user_limit`, the request's `user`): reserve the
worst case before calling upstream, settle the actual cost after. Counters live in `state` (shared
across replicas) and are seeded from the ledger. A request of an end user of a key with both limits
is held in both counters in one atomic step (`State.reserve_all`), so neither can be overspent by
concurrent requests."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import orjson

from ..errors import ForbiddenError
from ..ids import random_hex
from ..state import Hold, State
from ..state.singleflight import SingleFlight
from ..storage import Store
from .keys import KeyRecord
from .ledger import LedgerWriter

PERIOD_NAMES = {"daily": "daily", "weekly": "weekly", "monthly": "monthly", None: "total"}
PENDING = "ledger-pending"  # the state channel that asks every process for its ledger rows not written yet


# A hold outlives any request (the engine settles every one); the lease only frees the holds of a
# replica that died mid-request.
DEFAULT_LEASE = 3600.0


@dataclass(slots=True)
class Reservation:
    counters: tuple[str, ...]  # the key's counter and/or its end user's, each holding `amount`
    token: str
    amount: int
    ttl: float
    settled: bool = False


class InsufficientBudgetError(Exception):
    """The reservation does not fit: `remaining` nano-USD are free now (limit - spent - holds of
    requests in flight), `unspent` once those settle (limit - spent). `user` names the end user whose
    own limit (the key's `user_limit`) refused it; None when the key's limit did."""

    def __init__(self, remaining: int, unspent: int | None = None, user: str | None = None) -> None:
        super().__init__(f"{remaining} nano-USD remaining")
        self.remaining = remaining
        self.unspent = remaining if unspent is None else unspent
        self.user = user


def limit_exceeded(key: KeyRecord) -> ForbiddenError:
    period = PERIOD_NAMES.get(key.limit_reset, "total")
    advice = "Raise the key's limit." if key.limit_reset is None else "Raise the key's limit or wait for it to reset."
    return ForbiddenError(f"Key limit exceeded ({period} limit). {advice}", metadata={"limit_reset": key.limit_reset})


LIFETIME_TTL = 400 * 86400.0  # seconds a lifetime limit's counter lives unused (re-seeded from the ledger)


def period_start(reset: str | None, now: dt.datetime) -> dt.datetime | None:
    """Start of the current limit period, in UTC (weeks run Monday to Sunday)."""
    day = now.astimezone(dt.UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    if reset == "daily":
        return day
    if reset == "weekly":
        return day - dt.timedelta(days=day.weekday())
    if reset == "monthly":
        return day.replace(day=1)
    return None


def period_end(reset: str | None, start: dt.datetime | None) -> dt.datetime | None:
    if start is None:
        return None
    if reset == "daily":
        return start + dt.timedelta(days=1)
    if reset == "weekly":
        return start + dt.timedelta(days=7)
    month = start.month % 12 + 1
    return start.replace(year=start.year + (start.month == 12), month=month)


class Budget:
    def __init__(self, state: State, store: Store, *, lease: float = DEFAULT_LEASE,
                 ledger: LedgerWriter | None = None) -> None:
        self.state = state
        self.store = store
        self.lease = lease
        self.ledger = ledger
        self._seeding: SingleFlight[None] = SingleFlight()

    async def _seed(self, counter: str, key_hash: str, since_ms: int, ttl: float, user: str | None = None) -> None:
        await self.state.seed(counter, await self.ledger_spend(key_hash, since_ms, user), ttl=ttl)

    async def ledger_spend(self, key_hash: str | None, since_ms: int, user: str | None = None) -> int:
        """Spend in the ledger (of one end user of the key, with `user`), counting the rows not written
        yet (this process's, and every other worker's or replica's, asked through the state) exactly
        once: they are taken first, and left out of the stored sum even if they are written meanwhile."""
        pending = self.ledger.pending_costs(key_hash, since_ms, user) if self.ledger is not None else {}
        ask = [key_hash, since_ms] if user is None else [key_hash, since_ms, user]
        for reply in await self.state.publish(PENDING, orjson.dumps(ask).decode()):
            pending.update(orjson.loads(reply))
        return sum(pending.values()) + await self.store.spend_nanos(key_hash, since_ms, exclude=pending.keys(),
                                                                    user=user)

    async def listen(self) -> None:
        """Answer other processes asking for this process's rows not written yet."""
        await self.state.subscribe(PENDING, self._pending_here)

    def _pending_here(self, message: str | None) -> str | None:
        if message is None or self.ledger is None:
            return None
        key_hash, since_ms, *user = orjson.loads(message)
        return orjson.dumps(self.ledger.pending_costs(key_hash, since_ms, user[0] if user else None)).decode()

    def _counter(self, key: KeyRecord, now: dt.datetime | None) -> tuple[str, int, float]:
        if key.limit_reset is None:  # a lifetime limit: one counter for ever
            return f"spend:{key.hash}:0", 0, LIFETIME_TTL
        now = now or dt.datetime.now(dt.UTC)
        start = period_start(key.limit_reset, now)
        since_ms = int(start.timestamp() * 1000) if start else 0
        end = period_end(key.limit_reset, start)
        ttl = (end - now).total_seconds() + 3600 if end else LIFETIME_TTL
        return f"spend:{key.hash}:{since_ms}", since_ms, ttl

    @staticmethod
    def user_counter(key_counter: str, user: str) -> str:
        """The end user's counter: tagged with the key's, so Redis Cluster keeps both in one slot."""
        return f"{{{key_counter}}}:user:{user}"

    async def reserve(self, key: KeyRecord, amount: int, now: dt.datetime | None = None,
                      user: str | None = None) -> Reservation | None:
        """None when neither the key nor (for a request naming an end user) its `user_limit` limits it.
        Raises ForbiddenError when the key's limit is spent and InsufficientBudgetError when what is
        left of the key's or the end user's limit cannot cover `amount`."""
        per_user = user is not None and key.user_limit_nanos is not None
        if key.limit_nanos is None and not per_user:
            return None
        counter, since_ms, ttl = self._counter(key, now)
        token = random_hex(8)
        if not per_user:
            return await self._reserve_key(key, counter, since_ms, ttl, token, amount)
        assert user is not None and key.user_limit_nanos is not None
        holds = [Hold(self.user_counter(counter, user), key.user_limit_nanos, ttl)]
        if key.limit_nanos is not None:
            holds.insert(0, Hold(counter, key.limit_nanos, ttl))
        check = await self.state.reserve_all(holds, token, amount, lease=self.lease)
        if check.unseeded:  # first use of this period's counters (or state restarted): seed from the ledger
            for i in check.unseeded:
                await self._seed_one(holds[i].counter, key.hash, since_ms, ttl,
                                     None if holds[i].counter == counter else user)
            check = await self.state.reserve_all(holds, token, amount, lease=self.lease)
            assert not check.unseeded, "seeded counters answer"
        if check.admitted:
            return Reservation(tuple(h.counter for h in holds), token, amount, ttl)
        hold = holds[check.refused]
        spent = await self.state.spent(hold.counter)
        unspent = hold.limit - (spent or 0)
        if hold.counter == counter:
            if unspent <= 0:
                raise limit_exceeded(key)
            raise InsufficientBudgetError(check.remaining[check.refused], unspent)
        raise InsufficientBudgetError(check.remaining[check.refused], unspent, user=user)

    async def _seed_one(self, counter: str, key_hash: str, since_ms: int, ttl: float, user: str | None) -> None:
        """Seed one counter from the ledger, once however many requests find it new at the same time."""
        await self._seeding.run(counter, lambda: self._seed(counter, key_hash, since_ms, ttl, user))

    async def _reserve_key(self, key: KeyRecord, counter: str, since_ms: int, ttl: float, token: str,
                           amount: int) -> Reservation:
        assert key.limit_nanos is not None
        result = await self.state.reserve(counter, token, key.limit_nanos, amount, ttl=ttl, lease=self.lease)
        if result is None:  # first use of this period's counter (or state restarted): seed from the ledger
            await self._seeding.run(counter, lambda: self._seed(counter, key.hash, since_ms, ttl))
            result = await self.state.reserve(counter, token, key.limit_nanos, amount, ttl=ttl, lease=self.lease)
            assert result is not None, "a seeded counter answers"
        ok, remaining = result
        if ok:
            return Reservation((counter,), token, amount, ttl)
        # Refused (the slow path): 403 once settled spend has reached the limit, else 402 saying what
        # is left, counting what holds of requests in flight will give back when they settle.
        spent = await self.state.spent(counter)
        unspent = key.limit_nanos - (spent or 0)
        if unspent <= 0:
            raise limit_exceeded(key)
        raise InsufficientBudgetError(remaining, unspent)

    async def settle(self, reservation: Reservation | None, actual: int) -> None:
        if reservation is None or reservation.settled:
            return
        reservation.settled = True
        for counter in reservation.counters:
            await self.state.settle(counter, reservation.token, actual, ttl=reservation.ttl)

    async def user_spent(self, key: KeyRecord, user: str, now: dt.datetime | None = None) -> int:
        """Settled spend of one end user of the key in the key's limit period."""
        counter, since_ms, _ = self._counter(key, now)
        spent = await self.state.spent(self.user_counter(counter, user))
        return spent if spent is not None else await self.ledger_spend(key.hash, since_ms, user)

    async def spent(self, key: KeyRecord, reset: str | None, now: dt.datetime | None = None) -> int:
        """Settled spend of the key in the period `reset` names (not necessarily the key's own)."""
        now = now or dt.datetime.now(dt.UTC)
        start = period_start(reset, now)
        since_ms = int(start.timestamp() * 1000) if start else 0
        if reset == key.limit_reset and key.limit_nanos is not None:
            counter, _, _ = self._counter(key, now)
            spent = await self.state.spent(counter)
            if spent is not None:
                return spent
        return await self.ledger_spend(key.hash, since_ms)
