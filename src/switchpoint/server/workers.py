"""`serve --workers N`: N forked worker processes, each listening on its own socket bound to the same
port with SO_REUSEPORT, so the kernel spreads connections evenly between them.

uvicorn's own multi-process mode shares one listening socket, and whichever worker wakes first accepts:
a burst of new connections (a load balancer's pool, a benchmark's) lands mostly on one worker while the
other idles. With a socket per worker the kernel hashes each connection to a worker instead.

The supervisor forwards SIGINT/SIGTERM to the workers as SIGTERM (each drains its in-flight requests and
ledger), and restarts a worker that dies on its own. A worker that cannot start (a port in use, a broken
config), or dies within a second of starting, stops the whole server instead of restarting in a loop."""

from __future__ import annotations

import logging
import multiprocessing
import signal
import socket
import sys
import time
from collections.abc import Callable
from multiprocessing.connection import wait
from multiprocessing.process import BaseProcess
from types import FrameType
from typing import Any

import uvicorn

log = logging.getLogger("switchpoint")

STARTUP_FAILURE = 3  # a worker's exit code when it could not start (uvicorn uses the same)
EARLY_DEATH = 1.0  # seconds: a worker that dies sooner than this after starting is not restarted
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


def supported() -> bool:
    """Linux balances connections between SO_REUSEPORT sockets; other systems don't (or lack fork)."""
    return sys.platform.startswith("linux") and hasattr(socket, "SO_REUSEPORT") \
        and "fork" in multiprocessing.get_all_start_methods()


def bound_socket(host: str, port: int, *, share: bool) -> socket.socket:
    """A TCP socket bound to host:port; `share` lets the other workers bind the same port (SO_REUSEPORT)."""
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if share:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    try:
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    return sock


def reserve_port(host: str, port: int) -> int:
    """Check the port is free (an exclusive bind, closed at once) and resolve port 0 to a real one."""
    try:
        probe = bound_socket(host, port, share=False)
    except OSError as exc:
        raise SystemExit(f"switchpoint: cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    with probe:
        return int(probe.getsockname()[1])


def run_worker(make_app: Callable[[], Any], host: str, port: int, options: dict[str, Any]) -> None:
    for signum in STOP_SIGNALS:  # the supervisor's handlers were copied by fork; uvicorn installs its own
        signal.signal(signum, signal.SIG_DFL)
    try:
        sock = bound_socket(host, port, share=True)
        app = make_app()
    except Exception as exc:
        log.error("worker could not start: %s: %s", exc.__class__.__name__, exc)
        raise SystemExit(STARTUP_FAILURE) from None
    server = GatewayServer(uvicorn.Config(app, **options), app)
    server.run(sockets=[sock])
    if not server.started:
        raise SystemExit(STARTUP_FAILURE)


class GatewayServer(uvicorn.Server):
    """uvicorn's server, telling the app when a stop signal arrived: the shutdown grace (which bounds the
    ledger's last writes) counts from the signal, not from the end of the in-flight requests."""

    def __init__(self, config: uvicorn.Config, app: Any) -> None:
        super().__init__(config)
        self.gateway = app

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        self.gateway.stop_requested()
        super().handle_exit(sig, frame)


class Supervisor:
    def __init__(self, make_app: Callable[[], Any], host: str, port: int, workers: int,
                 options: dict[str, Any], grace: float) -> None:
        self.make_app = make_app
        self.host = host
        self.port = port
        self.count = workers
        self.options = options
        self.grace = grace
        self.context = multiprocessing.get_context("fork")
        self.workers: dict[int, tuple[BaseProcess, float]] = {}  # slot -> (process, started at)
        self.stopping = False
        self.failed = False

    def start(self, slot: int) -> None:
        process = self.context.Process(target=run_worker, name=f"switchpoint-worker-{slot}",
                                       args=(self.make_app, self.host, self.port, self.options))
        process.start()
        self.workers[slot] = (process, time.monotonic())

    def on_signal(self, signum: int, frame: object) -> None:
        self.stopping = True

    def run(self) -> int:
        previous = {signum: signal.signal(signum, self.on_signal) for signum in STOP_SIGNALS}
        try:
            for slot in range(self.count):
                self.start(slot)
            while not self.stopping:
                self.reap(wait([process.sentinel for process, _ in self.workers.values()], timeout=0.5))
            self.stop()
        finally:
            for signum, handler in previous.items():
                signal.signal(signum, handler)
        return 1 if self.failed else 0

    def reap(self, ready: list[Any]) -> None:
        for slot, (process, started) in list(self.workers.items()):
            if process.sentinel not in ready:
                continue
            process.join()
            if process.exitcode == STARTUP_FAILURE or time.monotonic() - started < EARLY_DEATH:
                log.error("worker %d exited during start-up (code %s); stopping", process.pid, process.exitcode)
                self.failed = self.stopping = True
                return
            log.warning("worker %d exited (code %s); starting another", process.pid, process.exitcode)
            self.start(slot)

    def stop(self) -> None:
        processes = [process for process, _ in self.workers.values()]
        for process in processes:
            if process.is_alive():
                process.terminate()  # SIGTERM: finish in-flight requests, drain the ledger
        deadline = time.monotonic() + self.grace + 10
        for process in processes:
            process.join(max(0.0, deadline - time.monotonic()))
            if process.is_alive():
                log.error("worker %d did not stop in time; killing it", process.pid)
                process.kill()
                process.join()


def serve_workers(make_app: Callable[[], Any], host: str, port: int, workers: int, options: dict[str, Any],
                  grace: float) -> None:
    port = reserve_port(host, port)
    code = Supervisor(make_app, host, port, workers, options, grace).run()
    if code:
        raise SystemExit(code)
