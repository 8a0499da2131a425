"""What the access log and the per-route request count add to a request, measured in-process.

    PYTHONPATH=src python bench/access_log.py

Times `AccessLog.done` (the count; the count and a line through Python's logging with the handler
`switchpoint serve` configures, writing to /dev/null instead of a terminal; the count and a line
batched into one write per event-loop turn, as `serve` does, with 8 requests finishing per turn) and
whole `GET /healthz` requests through the app with the log on and off. Prints microseconds per request
(best of 5 rounds)."""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from prometheus_client import CollectorRegistry

from switchpoint.config import load_config
from switchpoint.server.access import LOG_FORMAT, AccessLog, plain_stream
from switchpoint.server.app import App
from switchpoint.server.metrics import Counters
from switchpoint.server.services import build_services, start_services, stop_services

N = 50_000
TURN = 8
AUTH = b"Bearer sk-sp-v1-" + b"0" * 64


def per_call(fn: Any, rounds: int = 5) -> float:
    best = float("inf")
    for _ in range(rounds):
        start = time.perf_counter()
        for _ in range(N):
            fn()
        best = min(best, (time.perf_counter() - start) / N)
    return best * 1e6


async def app_round(app: App) -> float:
    scope = {"type": "http", "method": "GET", "path": "/healthz", "query_string": b"",
             "headers": [(b"authorization", AUTH), (b"x-request-id", b"req-bench")]}

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        return None

    best = float("inf")
    for _ in range(5):
        start = time.perf_counter()
        for i in range(N):
            await app.http(scope, receive, send)
            if i % TURN == 0:
                await asyncio.sleep(0)  # a loop turn, where batched lines are written
        best = min(best, (time.perf_counter() - start) / N)
    return best * 1e6


async def batched_per_call(log: AccessLog, args: tuple[Any, ...]) -> float:
    best = float("inf")
    for _ in range(5):
        start = time.perf_counter()
        for i in range(N):
            log.done(*args)
            if i % TURN == 0:
                await asyncio.sleep(0)
        best = min(best, (time.perf_counter() - start) / N)
    return best * 1e6


async def whole_requests(tmp: str) -> tuple[float, float]:
    config = load_config(None, env={"SWITCHPOINT_DATABASE": f"sqlite:///{tmp}/bench.db"})
    app = App(config)
    app.services = build_services(config)
    await start_services(app.services)
    try:
        on = await app_round(app)
        app.services.access.enabled = False
        off = await app_round(app)
    finally:
        await stop_services(app.services)
    return on, off


def main() -> None:
    import tempfile

    logging.basicConfig(level="INFO", format=LOG_FORMAT,
                        stream=open("/dev/null", "w"))  # noqa: SIM115 - lives as long as the process
    counts = Counters("bench_http_requests", "bench", ("route", "method", "status"), CollectorRegistry())
    logged, quiet = AccessLog(counts), AccessLog(counts, enabled=False)
    batched = AccessLog(counts, stream=plain_stream())
    assert batched._stream is not None, "the bench's handler should be the plain one serve sets up"
    args = ("POST", "/api/v1/chat/completions", "/api/v1/chat/completions", 200, AUTH, 0.0123, "req-0123456789ab")
    print(f"AccessLog.done, count only:                  {per_call(lambda: quiet.done(*args)):6.2f} µs")
    print(f"AccessLog.done, count and line via logging:  {per_call(lambda: logged.done(*args)):6.2f} µs")
    print(f"AccessLog.done, count and batched line:      {asyncio.run(batched_per_call(batched, args)):6.2f} µs")
    with tempfile.TemporaryDirectory() as tmp:
        on, off = asyncio.run(whole_requests(tmp))
    print(f"GET /healthz through the app, log on:  {on:6.2f} µs")
    print(f"GET /healthz through the app, log off: {off:6.2f} µs")


if __name__ == "__main__":
    main()
