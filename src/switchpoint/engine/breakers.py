"""Circuit breakers shared by every replica of a cluster.

Routing reads breakers on the hot path without awaiting, so each process keeps its own breakers
(`MemoryBreakers`) as a mirror, and a background task syncs the mirror with one shared hash in
`state` once a `interval`: a breaker that opens here is published with its wall-clock time, and a
breaker another replica opened is opened here too for the rest of its cool-down; a probe that closes
a breaker publishes that as well. Endpoint failures seen by one replica thus steer all of them."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable

from ..routing.breaker import CLOSED, OPEN, BreakerSettings, BreakerState, MemoryBreakers
from ..state import State

log = logging.getLogger("switchpoint.breakers")
SHARED = "breakers"


class SharedBreakers(MemoryBreakers):
    def __init__(self, state: State, settings: BreakerSettings | None = None, *, interval: float = 1.0,
                 clock: Callable[[], float] = time.monotonic, wall: Callable[[], float] = time.time) -> None:
        super().__init__(settings)
        self.state = state
        self.interval = interval
        self.clock = clock
        self.wall = wall
        self._outbox: dict[str, str] = {}          # endpoint -> "open:<wall time>" or "closed:<wall time>"
        self._task: asyncio.Task[None] | None = None

    def record(self, key: str, outcome: bool | None, now: float) -> BreakerState:
        before = self._states.get(key)
        was = before.state if before is not None else CLOSED
        state = super().record(key, outcome, now)
        if state.state == OPEN and was != OPEN:
            self._outbox[key] = f"open:{self.wall() - (now - state.opened_at):.3f}"
        elif state.state == CLOSED and was != CLOSED:
            self._outbox[key] = f"closed:{self.wall():.3f}"
        return state

    async def sync(self) -> None:
        """Publish what changed here, then adopt what other replicas published."""
        if self._outbox:
            outbox, self._outbox = self._outbox, {}
            await self.state.hash_set(SHARED, outbox, ttl=max(3600.0, 10 * self.settings.cooldown))
        shared = await self.state.hash_get(SHARED)
        now, wall = self.clock(), self.wall()
        for key, value in shared.items():
            kind, _, stamp = value.partition(":")
            try:
                at = float(stamp)
            except ValueError:
                continue
            local = self._states.get(key)
            if kind == "open" and wall - at < self.settings.cooldown:
                opened_at = now - (wall - at)
                if local is None or local.state == CLOSED or local.opened_at < opened_at - 1e-3:
                    if local is None:
                        local = self._states[key] = BreakerState(window_start=now)
                    local.state, local.opened_at, local.probe_at = OPEN, opened_at, None
                    self._track(key, local)
            elif (kind == "closed" and local is not None and local.state != CLOSED
                  and wall - at < self.interval * 3 and self._opened_wall(local, now, wall) < at):
                local.state, local.probe_at, local.consecutive_failures = CLOSED, None, 0
                self._track(key, local)

    @staticmethod
    def _opened_wall(local: BreakerState, now: float, wall: float) -> float:
        return wall - (now - local.opened_at)

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run(), name="breaker-sync")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            try:
                await self.sync()
            except Exception as exc:  # shared state briefly unreachable: keep the local breakers
                log.warning("breaker sync failed: %s", exc)
