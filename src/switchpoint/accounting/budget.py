"""Per-key spend limits: reserve the worst case before calling upstream, settle the actual cost after.
Counters live in `state` (shared across replicas) and are seeded from the ledger."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import orjson

from ..errors import ForbiddenError
from ..ids import random_hex
from ..singleflight import SingleFlight
from ..state import State
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
    counter: str
    token: str
    amount: int
    ttl: float
    settled: bool = False


class InsufficientBudgetError(Exception):
    """The reservation does not fit: `remaining` nano-USD are free now (limit - spent - holds of
    requests in flight), `unspent` once those settle (limit - spent)."""

    def __init__(self, remaining: int, unspent: int | None = None) -> None:
        super().__init__(f"{remaining} nano-USD remaining")
        self.remaining = remaining
        self.unspent = remaining if unspent is None else unspent


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

    async def _seed(self, counter: str, key_hash: str, since_ms: int, ttl: float) -> None:
        await self.state.seed(counter, await self.ledger_spend(key_hash, since_ms), ttl=ttl)

    async def ledger_spend(self, key_hash: str | None, since_ms: int) -> int:
        """Spend in the ledger, counting the rows not written yet (this process's, and every other
        worker's or replica's, asked through the state) exactly once: they are taken first, and left
        out of the stored sum even if they are written meanwhile."""
        pending = self.ledger.pending_costs(key_hash, since_ms) if self.ledger is not None else {}
        for reply in await self.state.publish(PENDING, orjson.dumps([key_hash, since_ms]).decode()):
            pending.update(orjson.loads(reply))
        return sum(pending.values()) + await self.store.spend_nanos(key_hash, since_ms, exclude=pending.keys())

    async def listen(self) -> None:
        """Answer other processes asking for this process's rows not written yet."""
        await self.state.subscribe(PENDING, self._pending_here)

    def _pending_here(self, message: str | None) -> str | None:
        if message is None or self.ledger is None:
            return None
        key_hash, since_ms = orjson.loads(message)
        return orjson.dumps(self.ledger.pending_costs(key_hash, since_ms)).decode()

    def _counter(self, key: KeyRecord, now: dt.datetime | None) -> tuple[str, int, float]:
        if key.limit_reset is None:  # a lifetime limit: one counter for ever
            return f"spend:{key.hash}:0", 0, LIFETIME_TTL
        now = now or dt.datetime.now(dt.UTC)
        start = period_start(key.limit_reset, now)
        since_ms = int(start.timestamp() * 1000) if start else 0
        end = period_end(key.limit_reset, start)
        ttl = (end - now).total_seconds() + 3600 if end else LIFETIME_TTL
        return f"spend:{key.hash}:{since_ms}", since_ms, ttl

    async def reserve(self, key: KeyRecord, amount: int, now: dt.datetime | None = None) -> Reservation | None:
        """None when the key has no limit. Raises ForbiddenError when the limit is spent and
        InsufficientBudgetError when what is left cannot cover `amount`."""
        if key.limit_nanos is None:
            return None
        counter, since_ms, ttl = self._counter(key, now)
        token = random_hex(8)
        result = await self.state.reserve(counter, token, key.limit_nanos, amount, ttl=ttl, lease=self.lease)
        if result is None:  # first use of this period's counter (or state restarted): seed from the ledger
            await self._seeding.run(counter, lambda: self._seed(counter, key.hash, since_ms, ttl))
            result = await self.state.reserve(counter, token, key.limit_nanos, amount, ttl=ttl, lease=self.lease)
            assert result is not None, "a seeded counter answers"
        ok, remaining = result
        if ok:
            return Reservation(counter, token, amount, ttl)
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
        await self.state.settle(reservation.counter, reservation.token, actual, ttl=reservation.ttl)

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
