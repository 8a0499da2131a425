"""Processes pinned to cores, readiness checks, one-off requests and wrk runs."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

BENCH = Path(__file__).resolve().parent
CHECK_LUA = BENCH / "check.lua"


def env_float(name: str, default: float) -> float:
    return float(os.environ.get(name) or default)


def exit_on_sigterm() -> None:
    """Turn SIGTERM into SystemExit so `finally` blocks stop the servers this run started."""
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))


@dataclass
class Process:
    """A command started in its own process group, pinned with taskset, logging to a file."""

    name: str
    popen: subprocess.Popen
    log: Path

    def alive(self) -> bool:
        return self.popen.poll() is None

    def tail(self, lines: int = 15) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def pids(self) -> list[int]:
        """The leader and every process in its group (uvicorn workers, node children)."""
        pgid = self.popen.pid
        found = []
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                try:
                    if os.getpgid(int(entry.name)) == pgid:
                        found.append(int(entry.name))
                except (ProcessLookupError, PermissionError):
                    continue
        return found

    def rss_mb(self) -> float:
        total_kb = 0
        for pid in self.pids():
            try:
                for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                    if line.startswith("VmRSS:"):
                        total_kb += int(line.split()[1])
            except OSError:
                continue
        return total_kb / 1024

    def cpu_seconds(self) -> dict[int, float]:
        """User + system CPU seconds used so far by each process of the group."""
        ticks = os.sysconf("SC_CLK_TCK")
        used = {}
        for pid in self.pids():
            try:
                fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
                used[pid] = (int(fields[11]) + int(fields[12])) / ticks
            except OSError:
                continue
        return used

    def stop(self, grace: float = 10.0) -> None:
        if not self.alive():
            return
        try:
            os.killpg(self.popen.pid, signal.SIGTERM)
            self.popen.wait(grace)
        except subprocess.TimeoutExpired:
            os.killpg(self.popen.pid, signal.SIGKILL)
            self.popen.wait()
        except ProcessLookupError:
            pass


def start(name: str, cmd: list[str], cpus: str, logdir: Path, env: dict[str, str] | None = None,
          cwd: Path | None = None) -> Process:
    logdir.mkdir(parents=True, exist_ok=True)
    log = logdir / f"{name}.log"
    with open(log, "wb") as out:
        popen = subprocess.Popen(["taskset", "-c", cpus, *cmd], stdout=out, stderr=subprocess.STDOUT,
                                 stdin=subprocess.DEVNULL, env={**os.environ, **(env or {})}, cwd=cwd,
                                 start_new_session=True)
    return Process(name, popen, log)


def serve(name: str, cmd: list[str], port: int, cpus: str, logdir: Path, env: dict[str, str] | None = None,
          cwd: Path | None = None, timeout: float = 60.0) -> Process:
    """Start a server that should listen on port; fail at once if something else already does."""
    with socket.socket() as probe:
        if probe.connect_ex(("127.0.0.1", port)) == 0:
            raise RuntimeError(f"port {port} is already in use (set BENCH_PORT_BASE to move the benchmark)")
    proc = start(name, cmd, cpus, logdir, env, cwd)
    try:
        wait_port(port, proc, timeout)
    except BaseException:
        proc.stop()
        raise
    return proc


def wait_port(port: int, proc: Process, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not proc.alive():
            raise RuntimeError(f"{proc.name} exited with {proc.popen.returncode}: {proc.tail()}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"{proc.name} did not listen on port {port} within {timeout:.0f} s: {proc.tail()}")


def wait_log_line(proc: Process, prefix: str, timeout: float = 60.0) -> str:
    """The first line of the process's log that starts with prefix (e.g. a printed URL)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for line in proc.log.read_text(errors="replace").splitlines():
            if line.startswith(prefix):
                return line.strip()
        if not proc.alive():
            raise RuntimeError(f"{proc.name} exited with {proc.popen.returncode}: {proc.tail()}")
        time.sleep(0.2)
    raise RuntimeError(f"{proc.name} printed no line starting {prefix!r} within {timeout:.0f} s: {proc.tail()}")


def check_once(url: str, body: bytes, headers: dict[str, str], expect: list[str], timeout: float = 30.0) -> str | None:
    """Send one request; None if it succeeds as the load test would judge it, else what went wrong."""
    request = urllib.request.Request(url, data=body, method="POST",
                                     headers={"Content-Type": "application/json", **headers})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as resp:
            text = resp.read().decode(errors="replace")
    except urllib.error.HTTPError as exc:
        return f"HTTP {exc.code}: {exc.read().decode(errors='replace')[:300]}"
    except OSError as exc:
        return f"{type(exc).__name__}: {exc}"
    missing = [want for want in expect if want not in text]
    return f"missing {missing} in: {text[-300:]}" if missing else None


@dataclass
class Load:
    """One wrk run: what to send and how hard."""

    url: str
    body_file: Path
    headers: dict[str, str]
    expect: list[str]
    connections: int
    duration: float
    threads: int = 1
    timeout: float = 10.0


def run_wrk(load: Load, cpus: str) -> dict:
    """Run wrk with check.lua; return its counters plus req_per_s and the error total."""
    cmd = ["taskset", "-c", cpus, "wrk", f"-t{load.threads}", f"-c{load.connections}", f"-d{max(1, round(load.duration))}s",
           f"--timeout={max(1, round(load.timeout))}s", "-s", str(CHECK_LUA)]
    for name, value in load.headers.items():
        cmd += ["-H", f"{name}: {value}"]
    cmd.append(load.url)
    env = {**os.environ, "BENCH_BODY_FILE": str(load.body_file), "BENCH_EXPECT": "|".join(load.expect)}
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=load.duration + load.timeout + 60)
    for line in proc.stdout.splitlines():
        if line.startswith("BENCH_RESULT "):
            result = json.loads(line.removeprefix("BENCH_RESULT "))
            break
    else:
        raise RuntimeError(f"wrk printed no result (exit {proc.returncode}): {proc.stdout[-500:]} {proc.stderr[-500:]}")
    result["req_per_s"] = result["requests"] / (result["duration_us"] / 1e6) if result["duration_us"] else 0.0
    result["errors"] = sum(result[k] for k in ("connect_errors", "read_errors", "write_errors", "timeouts",
                                               "bad_status", "bad_body"))
    return result
