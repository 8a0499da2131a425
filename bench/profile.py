"""Where one Switchpoint worker spends its time under load: py-spy while wrk runs a case.

    python profile.py [--case chat] [--duration 15]

Writes out/profile-<case>.svg (a flame graph) and out/profile-<case>.txt (the functions with the most
samples on top of the stack, and with the most samples anywhere on it). Pinning as in run.py.
"""

from __future__ import annotations

import argparse
import collections
import json
import re
import subprocess
from pathlib import Path

import nginx_upstream
from harness import Load, env_float, exit_on_sigterm, run_wrk
from systems import CACHE, CASES, Context, Switchpoint, add_common_args


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--case", default="chat", choices=[c.name for c in CASES])
    parser.add_argument("--duration", type=float, default=env_float("BENCH_DURATION", 15))
    add_common_args(parser)
    return parser.parse_args()


def summarize(raw: Path, top: int = 25) -> str:
    """py-spy's raw (collapsed) stacks -> the heaviest functions, by self and by inclusive samples."""
    own, anywhere, total = collections.Counter(), collections.Counter(), 0
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        frames = [re.sub(r":\d+\)$", ")", frame) for frame in stack.split(";")]  # per function, not per line
        n = int(count)
        total += n
        own[frames[-1]] += n
        for frame in set(frames):
            anywhere[frame] += n
    lines = [f"{total} samples", "", "self (top of stack):"]
    lines += [f"{100 * n / total:5.1f}%  {frame}" for frame, n in own.most_common(top)]
    lines += ["", "inclusive (anywhere on the stack):"]
    lines += [f"{100 * n / total:5.1f}%  {frame}" for frame, n in anywhere.most_common(top)]
    return "\n".join(lines) + "\n"


def main() -> None:
    args = parse_args()
    exit_on_sigterm()
    case = next(c for c in CASES if c.name == args.case)
    ctx = Context.from_args(args, args.out / "profile")
    workdir = ctx.workdir
    nginx = nginx_upstream.start_nginx(args.port_base, workdir, args.load_cpus)
    gateway = Switchpoint(args.port_base + 70, ctx)
    try:
        gateway.launch()
        target = gateway.target(case)
        body = workdir / "body.json"
        body.write_text(json.dumps({"model": target.model, "max_tokens": 16, "stream": case.stream,
                                    "messages": [{"role": "user", "content": "Tell me about a fox."}]}))
        load = Load(target.url, body, target.headers, target.expect, case.connections, 2)
        run_wrk(load, args.load_cpus)  # warm-up
        pid = gateway.processes[0].popen.pid
        svg, raw = args.out / f"profile-{case.name}.svg", workdir / f"profile-{case.name}.raw"
        spy = [str(CACHE / "venv/bin/py-spy"), "record", "--pid", str(pid), "--duration", str(round(args.duration)),
               "--rate", "200", "--nonblocking", "--subprocesses"]
        recorders = [subprocess.Popen([*spy, "--output", str(svg)], stdout=subprocess.DEVNULL),
                     subprocess.Popen([*spy, "--format", "raw", "--output", str(raw)], stdout=subprocess.DEVNULL)]
        load.duration = args.duration
        result = run_wrk(load, args.load_cpus)
        for recorder in recorders:
            recorder.wait()
    finally:
        gateway.stop()
        nginx.stop()
    text = f"{case.name}: {result['req_per_s']:,.0f} req/s while profiling, {result['errors']} errors\n\n"
    text += summarize(raw)
    (args.out / f"profile-{case.name}.txt").write_text(text)
    print(text)
    print(f"wrote {svg} and {args.out / f'profile-{case.name}.txt'}")


if __name__ == "__main__":
    main()
