"""Spend limits of keys and teams: reserve the worst case before calling upstream, settle the actual
cost after. Counters live in `state` (shared across replicas) and are seeded from the ledger. A key
of a team with a limit reserves under both counters in one atomic step (`State.reserve_all`), so the
keys of a team, on any number of replicas, can never spend past the team's limit together. It stays
one round trip per check over Redis or the workers' socket; in process, a reserve and settle under
both counters measured ~10 µs against ~6.5 µs under one (2-core machine under load, 200,000 pairs).
Keys of no team (or of a team without a limit) take the one-counter path unchanged."""

from __future__ import annotations

import datetime as dt
import functools
from dataclasses import dataclass

import orjson

from ..errors import ForbiddenError
from ..ids import random_hex
from ..state import Hold, State
from ..state.singleflight import SingleFlight
from ..storage import Store
from .keys import KeyRecord
from .ledger import LedgerWriter
from .teams import TeamRecord

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
    others: tuple[tuple[str, float], ...] = ()  # the team's counter (and its ttl), held with the same token


class InsufficientBudgetError(Exception):
    """The reservation does not fit: `remaining` nano-USD are free now (limit - spent - holds of
    requests in flight), `unspent` once those settle (limit - spent). `team` is set when it is the
    key's team whose limit refused."""

    def __init__(self, remaining: int, unspent: int | None = None, team: TeamRecord | None = None) -> None:
        super().__init__(f"{remaining} nano-USD remaining")
        self.remaining = remaining
        self.unspent = remaining if unspent is None else unspent
        self.team = team


def limit_exceeded(key: KeyRecord, team: TeamRecord | None = None) -> ForbiddenError:
    if team is not None:
        period = PERIOD_NAMES.get(team.limit_reset, "total")
        advice = "Raise the team's limit." if team.limit_reset is None else \
            "Raise the team's limit or wait for it to reset."
        return ForbiddenError(f"Team limit exceeded ({period} limit of team '{team.name}'). {advice}",
                              metadata={"limit_reset": team.limit_reset, "team": team.name})
    period = PERIOD_NAMES.get(key.limit_reset, "total")
    advice = "Raise the key's limit." if key.limit_reset is None else "Raise the key's limit or wait for it to reset."
    return ForbiddenError(f"Key limit exceeded ({period} limit). {advice}", metadata={"limit_reset": key.limit_reset})


def limited(key: KeyRecord) -> bool:
    """Whether a request with this key reserves budget (its own limit, or its team's)."""
    return key.limit_nanos is not None or (key.team_record is not None and key.team_record.limit_nanos is not None)


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

    async def _seed_team(self, counter: str, team: str, since_ms: int, ttl: float) -> None:
        await self.state.seed(counter, await self.team_spend(team, since_ms), ttl=ttl)

    async def ledger_spend(self, key_hash: str | None, since_ms: int) -> int:
        """Spend in the ledger, counting the rows not written yet (this process's, and every other
        worker's or replica's, asked through the state) exactly once: they are taken first, and left
        out of the stored sum even if they are written meanwhile."""
        pending = self.ledger.pending_costs(key_hash, since_ms) if self.ledger is not None else {}
        for reply in await self.state.publish(PENDING, orjson.dumps([key_hash, since_ms]).decode()):
            pending.update(orjson.loads(reply))
        return sum(pending.values()) + await self.store.spend_nanos(key_hash, since_ms, exclude=pending.keys())

    async def team_spend(self, team: str, since_ms: int) -> int:
        """The spend of every key of the team (as `ledger_spend`, rows not written yet included)."""
        hashes = await self.store.team_key_hashes(team)
        if not hashes:
            return 0
        pending = self.ledger.pending_costs(hashes, since_ms) if self.ledger is not None else {}
        for reply in await self.state.publish(PENDING, orjson.dumps([hashes, since_ms]).decode()):
            pending.update(orjson.loads(reply))
        return sum(pending.values()) + await self.store.spend_nanos(None, since_ms, exclude=pending.keys(), team=team)

    async def listen(self) -> None:
        """Answer other processes asking for this process's rows not written yet."""
        await self.state.subscribe(PENDING, self._pending_here)

    def _pending_here(self, message: str | None) -> str | None:
        if message is None or self.ledger is None:
            return None
        key_hash, since_ms = orjson.loads(message)
        return orjson.dumps(self.ledger.pending_costs(key_hash, since_ms)).decode()

    def _counter(self, key: KeyRecord | TeamRecord, now: dt.datetime | None) -> tuple[str, int, float]:
        if key.limit_reset is None:  # a lifetime limit: one counter for ever
            return f"spend:{key.hash}:0", 0, LIFETIME_TTL
        now = now or dt.datetime.now(dt.UTC)
        start = period_start(key.limit_reset, now)
        since_ms = int(start.timestamp() * 1000) if start else 0
        end = period_end(key.limit_reset, start)
        ttl = (end - now).total_seconds() + 3600 if end else LIFETIME_TTL
        return f"spend:{key.hash}:{since_ms}", since_ms, ttl

    async def reserve(self, key: KeyRecord, amount: int, now: dt.datetime | None = None) -> Reservation | None:
        """None when neither the key nor its team has a limit. Raises ForbiddenError when a limit is
        spent and InsufficientBudgetError when what is left cannot cover `amount`."""
        team = key.team_record
        if team is not None and team.limit_nanos is not None:
            return await self._reserve_with_team(key, team, amount, now)
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

    async def _reserve_with_team(self, key: KeyRecord, team: TeamRecord, amount: int,
                                 now: dt.datetime | None) -> Reservation:
        """Hold `amount` under the key's counter (when it has a limit) and the team's, or under neither."""
        owners: list[tuple[KeyRecord | TeamRecord, int]] = []
        if key.limit_nanos is not None:
            owners.append((key, key.limit_nanos))
        assert team.limit_nanos is not None
        owners.append((team, team.limit_nanos))
        counters = [self._counter(owner, now) for owner, _ in owners]
        holds = [Hold(counter, limit, ttl) for (counter, _, ttl), (_, limit) in zip(counters, owners, strict=True)]
        token = random_hex(8)
        check = await self.state.reserve_all(holds, token, amount, lease=self.lease)
        if check.unseeded:  # first use of a period's counter (or state restarted): seed from the ledger
            for i in check.unseeded:
                counter, since_ms, ttl = counters[i]
                owner = owners[i][0]
                seed = (functools.partial(self._seed_team, counter, owner.name, since_ms, ttl)
                        if isinstance(owner, TeamRecord) else functools.partial(self._seed, counter, key.hash, since_ms, ttl))
                await self._seeding.run(counter, seed)
            check = await self.state.reserve_all(holds, token, amount, lease=self.lease)
            assert not check.unseeded, "seeded counters answer"
        if check.refused < 0:
            first = counters[0]
            return Reservation(first[0], token, amount, first[2], others=tuple((c, t) for c, _, t in counters[1:]))
        owner, limit = owners[check.refused]
        spent = await self.state.spent(counters[check.refused][0])
        unspent = limit - (spent or 0)
        refusing_team = owner if isinstance(owner, TeamRecord) else None
        if unspent <= 0:
            raise limit_exceeded(key, refusing_team)
        raise InsufficientBudgetError(check.remaining[check.refused], unspent, refusing_team)

    async def settle(self, reservation: Reservation | None, actual: int) -> None:
        if reservation is None or reservation.settled:
            return
        reservation.settled = True
        if reservation.others:
            await self.state.settle_all(((reservation.counter, reservation.ttl), *reservation.others),
                                        reservation.token, actual)
            return
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


    async def team_spent(self, team: TeamRecord, reset: str | None, now: dt.datetime | None = None) -> int:
        """Settled spend of the team's keys in the period `reset` names."""
        now = now or dt.datetime.now(dt.UTC)
        start = period_start(reset, now)
        since_ms = int(start.timestamp() * 1000) if start else 0
        if reset == team.limit_reset and team.limit_nanos is not None:
            counter, _, _ = self._counter(team, now)
            spent = await self.state.spent(counter)
            if spent is not None:
                return spent
        return await self.team_spend(team.name, since_ms)
