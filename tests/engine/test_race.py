"""hedging.race against a scripted engine: who wins, what is dropped, what ends the race."""

from __future__ import annotations

import asyncio
import time
from types import SimpleNamespace
from typing import Any

import pytest

from switchpoint.engine.context import Outcome
from switchpoint.engine.hedging import race
from switchpoint.errors import BadRequestError, ProviderError, UpstreamError
from switchpoint.generation import new_record
from switchpoint.routing.candidate import Candidate

from ..routing.support import endpoint, model

TRIO = model("v/m", endpoint("a", 1), endpoint("b", 2), endpoint("c", 3))
CANDIDATES = [Candidate(TRIO, e) for e in TRIO.endpoints]


class ScriptedEngine:
    """attempt_endpoint sleeps, then answers per script: 'ok', 'fail', 'gated' (ok once the gate opens)
    or an exception to raise."""

    def __init__(self, script: dict[str, tuple[float, Any]]) -> None:
        self.script = script
        self.config = SimpleNamespace(server=SimpleNamespace(request_deadline=30.0))
        self.budget = SimpleNamespace(settle=self._settle)
        self.settled: list[tuple[Any, int]] = []
        self.discarded: list[str] = []
        self.gate = asyncio.Event()

    @staticmethod
    def clock() -> float:
        return time.monotonic()

    def deadline(self, ctx: Any) -> float:
        return ctx.started + self.config.server.request_deadline

    async def release(self, reservation: Any) -> None:
        await self.budget.settle(reservation, 0)

    async def _settle(self, reservation: Any, amount: int) -> None:
        self.settled.append((reservation, amount))

    async def attempt_endpoint(self, request: Any, ctx: Any, cand: Candidate, record: Any, once: Any,
                               deadline: float) -> Outcome[str]:
        delay, result = self.script[cand.endpoint.provider]
        await asyncio.sleep(delay)
        if result == "gated":
            await self.gate.wait()
        if isinstance(result, Exception):
            raise result
        name = cand.endpoint.provider
        if result == "fail":
            record.add_attempt(name, cand.model.id, cand.endpoint.model, 500, delay * 1000, "boom", "server")
            return Outcome(failure=UpstreamError("server", "boom", status=500))
        record.add_attempt(name, cand.model.id, cand.endpoint.model, 200, delay * 1000)
        return Outcome(True, name, f"reservation-{name}", attempt=len(record.attempts) - 1)

    def final_error(self, request: Any, record: Any, outcomes: list[Any]) -> ProviderError:
        return ProviderError("all failed", metadata={"failed": [c.endpoint.provider for _, c in outcomes]})


def run(script: dict[str, tuple[float, Any]], delay: float = 0.05) -> tuple[Any, ScriptedEngine, Any]:
    engine = ScriptedEngine(script)
    record = new_record("gen-1", "k", "v/m")
    ctx = SimpleNamespace(started=time.monotonic())

    async def go() -> Any:
        asyncio.get_running_loop().call_later(0.3, engine.gate.set)
        return await race(engine, None, ctx, CANDIDATES, record, None, delay,  # type: ignore[arg-type]
                          engine.discarded.append)

    return asyncio.run(go()), engine, record


def summary(record: Any) -> list[tuple[str, int | None, str | None]]:
    return [(a["provider"], a["status"], a["kind"]) for a in record.attempts]


def test_answers_landing_together_keep_the_earlier_candidate_and_drop_the_other() -> None:
    (result, cand, reservation), engine, record = run({"a": (0, "gated"), "b": (0, "gated"), "c": (1, "ok")},
                                                      delay=0.1)
    assert (result, cand.endpoint.provider, reservation) == ("a", "a", "reservation-a")
    assert engine.discarded == ["b"] and engine.settled == [("reservation-b", 0)]
    assert sorted(summary(record)) == [("a", 200, None), ("b", 200, "hedge_lost")]
    assert [a["error"] for a in record.attempts if a["provider"] == "b"] == ["another endpoint answered first"]


def test_an_invalid_request_ends_the_race_and_cancels_the_other_attempt() -> None:
    with pytest.raises(BadRequestError):
        run({"a": (1.0, "ok"), "b": (0.05, BadRequestError("bad")), "c": (1, "ok")}, delay=0.05)


def test_everything_failing_raises_the_final_error_with_every_failure() -> None:
    with pytest.raises(ProviderError) as info:
        run({"a": (0.01, "fail"), "b": (0.01, "fail"), "c": (0.01, "fail")}, delay=1.0)
    assert info.value.metadata == {"failed": ["a", "b", "c"]}


def test_the_race_never_runs_more_than_two_attempts_at_once() -> None:
    (result, _, _), _, record = run({"a": (0.5, "ok"), "b": (0.1, "fail"), "c": (0.05, "ok")}, delay=0.05)
    assert result == "c"
    assert summary(record) == [("b", 500, "server"), ("c", 200, None), ("a", None, "hedge_lost")]
