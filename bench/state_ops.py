"""What the workers' shared state costs a request: the calls one request to a key with a spend limit
and a rate limit makes (hit, reserve, settle), through the socket backend to a state host in another
process, against the same calls on the in-process state.

    PYTHONPATH=src python bench/state_ops.py [requests]

Prints wall and CPU time per request, one at a time and with 64 in flight. CPU is this process's
(the worker's) and the host process's (from /proc, so only long runs are precise)."""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import socket
import sys
import tempfile
import time
from pathlib import Path

import uvloop

from switchpoint.state import State, Window
from switchpoint.state.host import run as run_host
from switchpoint.state.memory import MemoryState
from switchpoint.state.socket import SocketState

TICK = os.sysconf("SC_CLK_TCK")


def cpu_of(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


async def one_request(state: State, i: int) -> None:
    await state.hit([Window("rq:bench", 1 << 40, 60.0)], time.time())
    await state.reserve("spend:bench", f"t{i}", 1 << 60, 1000, ttl=3600, lease=3600)
    await state.settle("spend:bench", f"t{i}", 500, ttl=3600)


async def measure(state: State, requests: int, in_flight: int) -> tuple[float, float]:
    await state.seed("spend:bench", 0, ttl=3600)
    await one_request(state, -1)
    wall, cpu = time.perf_counter(), time.process_time()
    if in_flight == 1:
        for i in range(requests):
            await one_request(state, i)
    else:
        async def lane(k: int) -> None:
            for i in range(k, requests, in_flight):
                await one_request(state, i)
        await asyncio.gather(*(lane(k) for k in range(in_flight)))
    return (time.perf_counter() - wall) / requests * 1e6, (time.process_time() - cpu) / requests * 1e6


def main() -> None:
    requests = int(sys.argv[1]) if len(sys.argv) > 1 else 20_000
    directory = tempfile.mkdtemp(prefix="sp-bench-")
    path = f"{directory}/state.sock"
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(path)
    listener.listen(64)
    host = multiprocessing.get_context("fork").Process(target=run_host, args=(listener, 1 << 20, 1))
    host.start()

    async def go() -> None:
        for name, state in (("in-process", MemoryState()), ("socket", SocketState(path))):
            for in_flight in (1, 64):
                host_cpu = cpu_of(host.pid)  # type: ignore[arg-type]
                wall, cpu = await measure(state, requests, in_flight)
                served = (cpu_of(host.pid) - host_cpu) / requests * 1e6  # type: ignore[arg-type]
                extra = f", host CPU {served:5.1f} µs" if name == "socket" else ""
                print(f"{name:10} {in_flight:2} in flight: wall {wall:6.1f} µs/request, worker CPU "
                      f"{cpu:5.1f} µs{extra}  (3 calls a request)")
            await state.close()

    try:
        with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
            runner.run(go())
    finally:
        host.terminate()
        host.join()
        listener.close()
        os.unlink(path)
        os.rmdir(directory)


if __name__ == "__main__":
    main()
