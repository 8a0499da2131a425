"""`serve --workers N`: N forked worker processes, each listening on its own socket bound to the same
port with SO_REUSEPORT, so the kernel spreads connections evenly between them.

uvicorn's own multi-process mode shares one listening socket, and whichever worker wakes first accepts:
a burst of new connections (a load balancer's pool, a benchmark's) lands mostly on one worker while the
other idles. With a socket per worker the kernel hashes each connection to a worker instead.

With `state: memory`, the workers share one state all the same: the supervisor binds a Unix socket in a
private directory and starts a state process (state/host.py) that keeps the one in-process state on
it; every worker reaches it with the socket backend (state/socket.py). Budgets, rate limits, the
response cache and circuit breakers are then exact across workers, and a key changed in one worker is
dropped by all of them before the change answers. The listening socket stays with the supervisor, so
a restarted state process picks it up and the workers' reconnections wait in its backlog.

SIGHUP reloads the configuration (server/reload.py): the supervisor re-reads the file for the workers
it may start later and forwards the signal to every worker, which each reload on their own.

The supervisor forwards SIGINT/SIGTERM to the workers as SIGTERM (each drains its in-flight requests and
ledger), stops the state process once they have, and restarts a worker (or the state process) that dies
on its own. A worker that cannot start (a port in use, a broken config), or dies within a second of
starting, stops the whole server instead of restarting in a loop."""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import os
import shutil
import signal
import socket
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from functools import partial
from multiprocessing.connection import wait
from multiprocessing.process import BaseProcess
from types import FrameType
from typing import Any

import uvicorn

from ..state.host import run as run_state_host
from ..state.socket import SCHEME

log = logging.getLogger("switchpoint")

STARTUP_FAILURE = 3  # a worker's exit code when it could not start (uvicorn uses the same)
EARLY_DEATH = 1.0  # seconds: a worker that dies sooner than this after starting is not restarted
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)
STATE_SLOT = -1  # the state process's slot among the supervised processes


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


class SharedState:
    """The Unix socket the state process serves the workers on, in a directory only this user can enter."""

    def __init__(self, cache_bytes: int) -> None:
        self.cache_bytes = cache_bytes
        self.directory = tempfile.mkdtemp(prefix="switchpoint-")
        self.path = f"{self.directory}/state.sock"
        self.listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            self.listener.bind(self.path)  # at most 107 bytes: a deep $TMPDIR is too long
            self.listener.listen(1024)
        except OSError as exc:
            self.close()
            raise SystemExit(f"switchpoint: cannot create the workers' state socket {self.path}: "
                             f"{exc.strerror or exc} (set TMPDIR to a shorter directory)") from None

    @property
    def url(self) -> str:
        return SCHEME + self.path

    def close(self) -> None:
        self.listener.close()
        shutil.rmtree(self.directory, ignore_errors=True)


def run_worker(make_app: Callable[[], Any], host: str, port: int, options: dict[str, Any],
               shared: SharedState | None = None) -> None:
    for signum in STOP_SIGNALS:  # the supervisor's handlers were copied by fork; uvicorn installs its own
        signal.signal(signum, signal.SIG_DFL)
    signal.signal(signal.SIGHUP, signal.SIG_IGN)  # a reload before this worker serves: it has the new config
    if shared is not None:
        shared.listener.close()  # the state process's, inherited by fork
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

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets=sockets)
        if threading.current_thread() is threading.main_thread():  # SIGHUP: reload the configuration
            asyncio.get_running_loop().add_signal_handler(signal.SIGHUP, self.gateway.request_reload)

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        self.gateway.stop_requested()
        super().handle_exit(sig, frame)


class Supervisor:
    def __init__(self, make_app: Callable[[], Any], host: str, port: int, workers: int,
                 options: dict[str, Any], grace: float, shared: SharedState | None = None,
                 on_reload: Callable[[], None] | None = None) -> None:
        self.make_app = make_app
        self.on_reload = on_reload  # SIGHUP: refresh what workers started later are built from
        self.reload_requested = False
        self.shared = shared
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
        if slot == STATE_SLOT:
            assert self.shared is not None
            process = self.context.Process(target=run_state_host, name="switchpoint-state",
                                           args=(self.shared.listener, self.shared.cache_bytes, self.count))
        else:
            process = self.context.Process(target=run_worker, name=f"switchpoint-worker-{slot}",
                                           args=(self.make_app, self.host, self.port, self.options, self.shared))
        process.start()
        self.workers[slot] = (process, time.monotonic())

    def on_signal(self, signum: int, frame: object) -> None:
        self.stopping = True

    def on_hangup(self, signum: int, frame: object) -> None:
        self.reload_requested = True
        for slot, (process, _) in self.workers.items():  # at once: each worker reloads on its own
            if slot != STATE_SLOT and process.pid is not None:
                os.kill(process.pid, signal.SIGHUP)

    def run(self) -> int:
        previous = {signum: signal.signal(signum, self.on_signal) for signum in STOP_SIGNALS}
        previous[signal.SIGHUP] = signal.signal(signal.SIGHUP, self.on_hangup)
        try:
            if self.shared is not None:
                self.start(STATE_SLOT)
            for slot in range(self.count):
                self.start(slot)
            while not self.stopping:
                self.reap(wait([process.sentinel for process, _ in self.workers.values()], timeout=0.5))
                if self.reload_requested:
                    self.reload_requested = False
                    if self.on_reload is not None:
                        self.on_reload()
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
                log.error("%s (%d) exited during start-up (code %s); stopping", process.name, process.pid,
                          process.exitcode)
                self.failed = self.stopping = True
                return
            if slot == STATE_SLOT:
                log.error("the state process %d exited (code %s); starting another: spend counters are re-read "
                          "from the ledger, rate-limit windows and the response cache start empty",
                          process.pid, process.exitcode)
            else:
                log.warning("worker %d exited (code %s); starting another", process.pid, process.exitcode)
            self.start(slot)

    def stop(self) -> None:
        """Workers first (they settle their requests in flight against the state), then the state."""
        state = self.workers.pop(STATE_SLOT, None)
        self.stop_processes([process for process, _ in self.workers.values()])
        if state is not None:
            self.stop_processes([state[0]])

    def stop_processes(self, processes: list[BaseProcess]) -> None:
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


def serve_workers(make_app: Callable[[str | None], Any], host: str, port: int, workers: int,
                  options: dict[str, Any], grace: float, *, share_memory_state: bool = False,
                  cache_bytes: int = 64 << 20, on_reload: Callable[[], None] | None = None) -> None:
    """`make_app(state_url)` builds a worker's app; `state_url` is the shared state's when the supervisor
    hosts one (`share_memory_state`, for `state: memory`), else None (keep the configured state)."""
    port = reserve_port(host, port)
    shared = SharedState(cache_bytes) if share_memory_state else None
    try:
        build = partial(make_app, shared.url if shared is not None else None)
        code = Supervisor(build, host, port, workers, options, grace, shared, on_reload).run()
    finally:
        if shared is not None:
            shared.close()
    if code:
        raise SystemExit(code)
