"""Hedged attempts: at most two endpoints in flight, the first to produce output wins.

The candidates are tried in order as usual; when the endpoint in flight has produced nothing after
`delay` seconds, the next one is started alongside it. Whichever answers first is served, the other
is cancelled (its connection dropped, so the provider stops generating). Only the served attempt is
charged to the key: the other's reservation is released with nothing spent, and it is listed in the
generation's attempts with kind `hedge_lost`. The client sees exactly one stream."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from ..accounting.budget import Reservation
from ..errors import SwitchpointError
from ..generation import GenerationRecord
from ..providers.base import Provider
from ..routing import Candidate
from ..types import ChatRequest
from .attempts import Attempts
from .context import Outcome, RequestContext

T = TypeVar("T")
LOST = "hedge_lost"


async def race(attempts: Attempts, request: ChatRequest, ctx: RequestContext, candidates: list[Candidate],
               record: GenerationRecord, once: Callable[[ChatRequest, Provider, Candidate, float], Awaitable[T]],
               delay: float, discard: Callable[[T], None]) -> tuple[T, Candidate, Reservation | None]:
    deadline = attempts.deadline(ctx)
    waiting = list(reversed(candidates))
    running: dict[asyncio.Future[Outcome[T]], tuple[Candidate, float]] = {}
    failed: list[tuple[Outcome[T], Candidate]] = []
    width = 1
    hedge_at = 0.0

    def launch() -> None:
        nonlocal hedge_at
        cand = waiting.pop()
        task = asyncio.ensure_future(attempts.attempt_endpoint(request, ctx, cand, record, once, deadline))
        running[task] = (cand, attempts.clock())
        hedge_at = attempts.clock() + delay

    launch()
    reason = "cancelled: the request ended"
    try:
        while running:
            timeout = max(0.0, hedge_at - attempts.clock()) if width == 1 and waiting else None
            done, _ = await asyncio.wait(running, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
            if not done:  # the endpoint in flight is slow: start the next one alongside it
                width = 2
                launch()
                continue
            winner: tuple[Outcome[T], Candidate] | None = None
            error: SwitchpointError | None = None
            for task in sorted(done, key=lambda t: candidates.index(running[t][0])):
                cand, _started = running.pop(task)
                try:
                    outcome = task.result()
                except SwitchpointError as exc:  # invalid request or deadline: ends the race
                    error = error or exc
                    continue
                if outcome.ok and winner is None:
                    winner = (outcome, cand)
                elif outcome.ok:
                    await _drop(attempts, record, outcome, discard)
                else:
                    failed.append((outcome, cand))
            if winner is not None:
                reason = "cancelled: another endpoint answered first"
                outcome, cand = winner
                return outcome.result, cand, outcome.reservation  # type: ignore[return-value]
            if error is not None:
                raise error
            while waiting and len(running) < width:
                launch()
        raise attempts.final_error(request, record, failed)
    finally:
        await _cancel(attempts, record, running, reason)


async def _drop(attempts: Attempts, record: GenerationRecord, outcome: Outcome[Any],
                discard: Callable[[Any], None]) -> None:
    """An attempt that also answered, a moment too late: close it and charge nothing for it."""
    discard(outcome.result)
    await attempts.release(outcome.reservation)
    if outcome.attempt is not None:
        entry = record.attempts[outcome.attempt]
        entry["kind"], entry["error"] = LOST, "another endpoint answered first"


async def _cancel(attempts: Attempts, record: GenerationRecord,
                  running: dict[asyncio.Future[Outcome[Any]], tuple[Candidate, float]], reason: str) -> None:
    """Cancel the attempts still in flight and list them; their cleanup releases their reservations."""
    if not running:
        return
    for task in running:
        task.cancel()
    await asyncio.gather(*running, return_exceptions=True)
    now = attempts.clock()
    for cand, started in running.values():
        record.add_attempt(cand.endpoint.provider, cand.model.id, cand.endpoint.model, None,
                           (now - started) * 1000, reason, LOST)
