"""The systems under test: how each starts, and how each is asked for each case.

Every system gets the same request body apart from `model`, which names the same canned upstream
response in each system's own terms. A system returns None from `target` for a case it cannot serve.
"""

from __future__ import annotations

import argparse
import os
import string
import subprocess
from dataclasses import dataclass
from pathlib import Path

from harness import BENCH, Process, env_float, serve, start, wait_log_line

CACHE = BENCH / ".cache"
PEERS = BENCH / "peers"


@dataclass(frozen=True)
class Case:
    name: str
    title: str
    connections: int
    stream: bool
    anthropic: bool  # Anthropic-format upstream, OpenAI-format client
    metric: str  # "rps" (throughput) or "latency"

    @property
    def alias(self) -> str:
        """The model alias every gateway config defines for this upstream shape."""
        return ("claude" if self.anthropic else "gpt") + ("-stream" if self.stream else "")

    @property
    def location(self) -> str:
        return ("/anthropic" + ("-sse" if self.stream else "-json") if self.anthropic
                else "/sse" if self.stream else "/json")


CASES = [
    Case("chat", "req/s, 64 conns", 64, stream=False, anthropic=False, metric="rps"),
    Case("latency", "latency, 4 conns", 4, stream=False, anthropic=False, metric="latency"),
    Case("stream", "streams/s, 16 conns", 16, stream=True, anthropic=False, metric="rps"),
    Case("cross", "cross-format req/s, 64 conns", 64, stream=False, anthropic=True, metric="rps"),
    Case("cross-stream", "cross-format streams/s, 16 conns", 16, stream=True, anthropic=True, metric="rps"),
]


def expectations(case: Case, raw_anthropic: bool = False) -> list[str]:
    """Strings every good response body holds: the canned text and, for streams, the end marker."""
    if not case.stream:
        return ["dog."]
    return ["dog.", "message_stop" if raw_anthropic else "[DONE]"]


@dataclass
class Context:
    upstream: str  # e.g. http://127.0.0.1:28400
    workdir: Path  # per-run configs, logs, databases
    gateway_cpus: str
    all_cpus: str

    @property
    def logs(self) -> Path:
        return self.workdir / "logs"

    @classmethod
    def from_args(cls, args: argparse.Namespace, workdir: Path, upstream: str | None = None) -> Context:
        """For a script parsed with `add_common_args`; the upstream defaults to nginx at the port base."""
        workdir = workdir.resolve()
        workdir.mkdir(parents=True, exist_ok=True)
        return cls(upstream or f"http://127.0.0.1:{args.port_base}", workdir, args.gateway_cpus,
                   args.workers_cpus or f"{args.gateway_cpus},{args.load_cpus}")


def add_common_args(parser: argparse.ArgumentParser) -> None:
    """Ports, pinning and output folder, shared by every benchmark script."""
    parser.add_argument("--port-base", type=int, default=int(env_float("BENCH_PORT_BASE", 28400)),
                        help="nginx listens here, the systems just above (env BENCH_PORT_BASE)")
    parser.add_argument("--gateway-cpus", default=os.environ.get("BENCH_GATEWAY_CPUS", "0"))
    parser.add_argument("--load-cpus", default=os.environ.get("BENCH_LOAD_CPUS", "1"), help="cores for nginx and wrk")
    parser.add_argument("--workers-cpus", default=os.environ.get("BENCH_WORKERS_CPUS"),
                        help="cores for Switchpoint --workers 2 (default: the gateway's and the load's, which it then "
                             "shares with nginx and wrk; on a machine with 4 cores, e.g. 0,1 with --load-cpus 2,3)")
    parser.add_argument("--out", type=Path, default=BENCH / "out")


@dataclass
class Target:
    url: str
    model: str
    headers: dict[str, str]
    expect: list[str]


def render(template: Path, dest: Path, **values: str) -> Path:
    """Fill a config template's ${name} placeholders (string.Template) and write it to dest."""
    dest.write_text(string.Template(template.read_text()).substitute(values))
    return dest


class System:
    name = ""
    label = ""
    needs: tuple[Path, ...] = ()  # files that must exist (installed by install.sh)

    def __init__(self, port: int, ctx: Context) -> None:
        self.port = port
        self.ctx = ctx
        self.base = f"http://127.0.0.1:{port}"
        self.processes: list[Process] = []

    def unavailable(self) -> str | None:
        note = CACHE / f"{self.name}.unavailable"
        if note.exists():
            return note.read_text().strip()
        missing = [str(p.relative_to(BENCH)) for p in self.needs if not p.exists()]
        return f"not installed ({', '.join(missing)}); run bench/install.sh" if missing else None

    def launch(self) -> None:
        raise NotImplementedError

    def target(self, case: Case) -> Target | None:
        raise NotImplementedError

    def rss_mb(self) -> float:
        return sum(p.rss_mb() for p in self.processes)

    def cpu_seconds(self) -> dict[int, float]:
        return {pid: used for p in self.processes for pid, used in p.cpu_seconds().items()}

    def stop(self) -> None:
        for proc in self.processes:
            proc.stop()


class Direct(System):
    name, label = "direct", "direct (nginx, no gateway)"

    def launch(self) -> None:
        pass  # nginx is already up

    def target(self, case: Case) -> Target:
        path = "/v1/messages" if case.anthropic else "/v1/chat/completions"
        return Target(self.ctx.upstream + case.location + path, case.alias, {}, expectations(case, case.anthropic))


class Relay(System):
    name, label = "relay", "bare Python relay"
    needs = (CACHE / "venv/bin/python",)

    def launch(self) -> None:
        ctx = self.ctx
        cmd = [str(CACHE / "venv/bin/python"), str(BENCH / "relay.py"), "--port", str(self.port),
               "--upstream", f"{ctx.upstream}/json/v1/chat/completions",
               "--stream-upstream", f"{ctx.upstream}/sse/v1/chat/completions"]
        self.processes.append(serve(self.name, cmd, self.port, ctx.gateway_cpus, ctx.logs))

    def target(self, case: Case) -> Target | None:
        if case.anthropic:
            return None  # no translation: that is logic
        return Target(self.base + "/v1/chat/completions", case.alias, {}, expectations(case))


class LiteLLM(System):
    name, label = "litellm", "LiteLLM proxy"
    needs = (CACHE / "litellm/bin/litellm",)
    KEY = "sk-bench-litellm"

    def launch(self) -> None:
        ctx = self.ctx
        config = render(PEERS / "litellm.yaml", ctx.workdir / "litellm.yaml", upstream=ctx.upstream, key=self.KEY)
        cmd = [str(CACHE / "litellm/bin/litellm"), "--config", str(config), "--host", "127.0.0.1",
               "--port", str(self.port), "--num_workers", "1"]
        env = {"LITELLM_LOCAL_MODEL_COST_MAP": "True", "LITELLM_LOG": "ERROR"}
        self.processes.append(serve(self.name, cmd, self.port, ctx.gateway_cpus, ctx.logs, env, timeout=120))

    def target(self, case: Case) -> Target:
        return Target(self.base + "/v1/chat/completions", case.alias, {"Authorization": f"Bearer {self.KEY}"},
                      expectations(case))


class TensorZero(System):
    name, label = "tensorzero", "TensorZero"
    needs = (CACHE / "tensorzero/bin/python",)

    def launch(self) -> None:
        ctx = self.ctx
        config = render(PEERS / "tensorzero.toml", ctx.workdir / "tensorzero.toml", upstream=ctx.upstream)
        cmd = [str(CACHE / "tensorzero/bin/python"), str(PEERS / "tz_serve.py"), str(config)]
        # The Anthropic provider insists on a key location; the upstream ignores the key.
        self.processes.append(start(self.name, cmd, ctx.gateway_cpus, ctx.logs, {"BENCH_ANTHROPIC_KEY": "x"}))
        self.base = wait_log_line(self.processes[-1], "http://")  # .../openai/v1, random port

    def target(self, case: Case) -> Target:
        return Target(self.base + "/chat/completions", f"tensorzero::model_name::{case.alias}", {},
                      expectations(case))


class Portkey(System):
    name, label = "portkey", "Portkey gateway"
    needs = (CACHE / "portkey/node_modules/@portkey-ai/gateway/build/start-server.js",)

    def launch(self) -> None:
        ctx = self.ctx
        cmd = ["node", str(self.needs[0]), f"--port={self.port}", "--headless"]
        self.processes.append(serve(self.name, cmd, self.port, ctx.gateway_cpus, ctx.logs, cwd=CACHE / "portkey"))

    def target(self, case: Case) -> Target:
        # OSS Portkey has no server-side model table: each request names its provider and host.
        headers = {"x-portkey-provider": "anthropic" if case.anthropic else "openai",
                   "x-portkey-custom-host": f"{self.ctx.upstream}{case.location}/v1",
                   "Authorization": "Bearer x"}
        return Target(self.base + "/v1/chat/completions", case.alias, headers, expectations(case))


class Switchpoint(System):
    name, label = "switchpoint", "Switchpoint"
    needs = (CACHE / "venv/bin/switchpoint",)
    config = BENCH / "switchpoint.bench.yaml"  # scale.py swaps in generated configs
    key = "sk-sp-v1-bench-static-key-0123456789"
    workers = 1
    startup_timeout = 120.0

    def launch(self) -> None:
        ctx = self.ctx
        db = ctx.workdir / f"{self.name}.db"
        for suffix in ("", "-wal", "-shm", "-journal"):
            Path(f"{db}{suffix}").unlink(missing_ok=True)
        env = {"BENCH_UPSTREAM": ctx.upstream, "BENCH_DB": str(db), "BENCH_KEY": self.key}
        # Migrate first, as docs/cluster.md deploys do: workers starting together on a new SQLite file
        # otherwise race to create the tables.
        switchpoint = str(CACHE / "venv/bin/switchpoint")
        migrate = subprocess.run([switchpoint, "db", "upgrade", "--config", str(self.config)], capture_output=True,
                                 text=True, env={**os.environ, **env})
        if migrate.returncode:
            raise RuntimeError(f"switchpoint db upgrade failed: {(migrate.stdout + migrate.stderr)[-500:]}")
        cmd = [switchpoint, "serve", "--config", str(self.config), "--host", "127.0.0.1",
               "--port", str(self.port), "--workers", str(self.workers)]
        cpus = ctx.all_cpus if self.workers > 1 else ctx.gateway_cpus
        self.processes.append(serve(self.name, cmd, self.port, cpus, ctx.logs, env, timeout=self.startup_timeout))

    def target(self, case: Case) -> Target:
        return Target(self.base + "/api/v1/chat/completions", f"bench/{case.alias}",
                      {"Authorization": f"Bearer {self.key}"}, expectations(case))


class Switchpoint2(Switchpoint):
    name, label = "switchpoint-w2", "Switchpoint --workers 2 (both cores)"
    workers = 2

    def unavailable(self) -> str | None:
        note = CACHE / "switchpoint.unavailable"
        return note.read_text().strip() if note.exists() else super().unavailable()


SYSTEMS = [Direct, Relay, LiteLLM, TensorZero, Portkey, Switchpoint, Switchpoint2]


def make_systems(names: list[str] | None, port_base: int, ctx: Context) -> list[System]:
    chosen = [cls for cls in SYSTEMS if not names or cls.name in names]
    unknown = set(names or []) - {cls.name for cls in SYSTEMS}
    if unknown:
        raise SystemExit(f"unknown systems {sorted(unknown)}; choose from {[c.name for c in SYSTEMS]}")
    return [cls(port_base + 1 + SYSTEMS.index(cls), ctx) for cls in chosen]

