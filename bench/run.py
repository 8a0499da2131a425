"""Side-by-side benchmark: every system, every case, identical requests, interleaved.

    python run.py [--duration 10] [--warmup 2] [--rounds 1] [--systems direct,switchpoint] [--cases chat,stream]

Starts the nginx upstream and every available system, checks one request of each case per system,
then runs each case against every system in turn (so drift hits all alike) with wrk and check.lua.
Writes out/results.json, out/results.md and out/chart.png, and prints the table.
A system that cannot be installed or started is reported as unavailable with the reason; a run with
any failed request is reported as errors, never as a number.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

import nginx_upstream
import report
from harness import BENCH, Load, check_once, env_float, exit_on_sigterm, run_wrk
from systems import CACHE, CASES, Case, Context, System, add_common_args, make_systems


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=env_float("BENCH_DURATION", 10),
                        help="seconds measured per case and system (env BENCH_DURATION)")
    parser.add_argument("--warmup", type=float, default=env_float("BENCH_WARMUP", 2),
                        help="seconds of unmeasured load before each measurement (env BENCH_WARMUP)")
    parser.add_argument("--rounds", type=int, default=int(env_float("BENCH_ROUNDS", 1)),
                        help="repeat the whole interleaved matrix; cells report the median (env BENCH_ROUNDS)")
    parser.add_argument("--systems", default=os.environ.get("BENCH_SYSTEMS", ""),
                        help="comma-separated subset of systems (env BENCH_SYSTEMS)")
    parser.add_argument("--cases", default=os.environ.get("BENCH_CASES", ""),
                        help="comma-separated subset of " + ",".join(c.name for c in CASES))
    add_common_args(parser)
    return parser.parse_args()


def versions() -> dict[str, str]:
    def stamp(name: str) -> str:
        path = CACHE / name / ".stamp"
        return path.read_text().strip() if path.exists() else "-"

    def command(*cmd: str) -> str:
        try:
            out = subprocess.run(cmd, capture_output=True, text=True, timeout=10)
            return (out.stdout + out.stderr).strip().splitlines()[0]
        except (OSError, IndexError, subprocess.TimeoutExpired):
            return "-"

    return {"litellm": stamp("litellm"), "tensorzero": stamp("tensorzero"), "portkey": stamp("portkey"),
            "switchpoint": command("git", "-C", str(BENCH), "describe", "--always", "--dirty"),
            "nginx": command("nginx", "-v").rpartition("/")[2], "wrk": command("wrk", "-v").split(" ")[1],
            "node": command("node", "--version"),
            "python": platform.python_version()}


def write_bodies(systems: list[System], cases: list[Case], workdir: Path) -> None:
    """One request body per (system, case): identical except for the model name."""
    (workdir / "bodies").mkdir(parents=True, exist_ok=True)
    for system in systems:
        for case in cases:
            target = system.target(case)
            if target:
                body = {"model": target.model, "messages": [{"role": "user", "content": "Tell me about a fox."}],
                        "max_tokens": 16, "stream": case.stream}
                (workdir / "bodies" / f"{system.name}-{case.name}.json").write_text(json.dumps(body))


def smoke(system: System, cases: list[Case], workdir: Path) -> dict[str, str]:
    """Case name -> why one request failed, for the cases that did not pass a single request."""
    failures = {}
    for case in cases:
        target = system.target(case)
        if target:
            body = (workdir / "bodies" / f"{system.name}-{case.name}.json").read_bytes()
            problem = check_once(target.url, body, target.headers, target.expect)
            if problem:
                failures[case.name] = problem
    return failures


def measure(system: System, case: Case, args: argparse.Namespace, workdir: Path) -> dict:
    target = system.target(case)
    assert target is not None
    body_file = workdir / "bodies" / f"{system.name}-{case.name}.json"
    load = Load(target.url, body_file, target.headers, target.expect, case.connections, args.warmup)
    if args.warmup > 0:
        run_wrk(load, args.load_cpus)
    load.duration = args.duration
    before = system.cpu_seconds()
    result = run_wrk(load, args.load_cpus)
    after = system.cpu_seconds()
    result["rss_mb"] = round(system.rss_mb(), 1)
    # Cores each process kept busy: shows a starved gateway or workers sharing the load unevenly.
    result["cores"] = [round((after[pid] - before.get(pid, 0)) / args.duration, 2) for pid in sorted(after)
                       if after[pid] - before.get(pid, 0) > 0.05 * args.duration]
    return result


def summarize(runs: list[dict]) -> dict:
    """A cell from one or more rounds: errors in any round make the cell an error."""
    errors = sum(r["errors"] for r in runs)
    requests = sum(r["requests"] for r in runs)
    cell = {"status": "errors" if errors or not requests else "ok", "errors": errors, "requests": requests,
            "runs": runs}
    if cell["status"] == "ok":
        cell["req_per_s"] = statistics.median(r["req_per_s"] for r in runs)
        cell["p50_ms"] = statistics.median(r["p50_us"] for r in runs) / 1000
        cell["p99_ms"] = statistics.median(r["p99_us"] for r in runs) / 1000
    else:
        cell["sample"] = next((r["sample"] for r in runs if r["sample"]), "")
        if not cell["sample"]:
            kinds = ("connect_errors", "read_errors", "write_errors", "timeouts")
            cell["sample"] = ", ".join(f"{k}={sum(r[k] for r in runs)}" for k in kinds
                                       if sum(r[k] for r in runs)) or "no response completed"
    return cell


def main() -> None:
    args = parse_args()
    exit_on_sigterm()
    cases = [c for c in CASES if not args.cases or c.name in args.cases.split(",")]
    ctx = Context.from_args(args, args.out / "run")
    workdir = ctx.workdir
    systems = make_systems([s for s in args.systems.split(",") if s], args.port_base, ctx)
    meta = {"started": time.strftime("%Y-%m-%d %H:%M:%S %z"), "duration_s": args.duration, "warmup_s": args.warmup,
            "rounds": args.rounds, "gateway_cpus": ctx.gateway_cpus, "load_cpus": args.load_cpus,
            "workers_cpus": ctx.all_cpus,
            "cpu": report.cpu_model(), "loadavg_start": Path("/proc/loadavg").read_text().split()[:3],
            "versions": versions()}
    status: dict[str, str] = {}
    results: dict[str, dict[str, dict]] = {s.name: {} for s in systems}

    nginx = nginx_upstream.start_nginx(args.port_base, workdir, args.load_cpus)
    running: list[System] = []
    try:
        write_bodies(systems, cases, workdir)
        for system in systems:
            reason = system.unavailable()
            if not reason:
                log(f"starting {system.name}")
                running.append(system)  # from here on, `finally` stops it
                try:
                    system.launch()
                except (RuntimeError, OSError) as exc:
                    reason = f"failed to start: {exc}"
                    system.stop()
                    running.remove(system)
            if reason:
                status[system.name] = f"unavailable: {reason}"
                log(f"{system.name}: {status[system.name]}")
                continue
            status[system.name] = "ok"
            for case_name, problem in smoke(system, cases, workdir).items():
                results[system.name][case_name] = {"status": "failed", "sample": problem}
                log(f"{system.name} {case_name}: first request failed: {problem}")

        runs: dict[tuple[str, str], list[dict]] = {}
        for round_ in range(args.rounds):
            for case in cases:
                for system in running:
                    if system.target(case) is None or case.name in results[system.name]:
                        continue
                    if not all(p.alive() for p in system.processes):
                        results[system.name][case.name] = {"status": "failed",
                                                           "sample": "process died: " + system.processes[0].tail(5)}
                        continue
                    log(f"round {round_ + 1}/{args.rounds} {case.name:<12} {system.name}")
                    result = measure(system, case, args, workdir)
                    runs.setdefault((system.name, case.name), []).append(result)
                    log("  " + report.one_line(result))
        for (system_name, case_name), case_runs in runs.items():
            results[system_name][case_name] = summarize(case_runs)
        for system in systems:
            for case in cases:
                if system.target(case) is None:
                    results[system.name].setdefault(case.name, {"status": "n/a"})
                elif status[system.name] != "ok":
                    results[system.name][case.name] = {"status": "unavailable"}
    finally:
        for system in running:
            system.stop()
        nginx.stop()

    meta["loadavg_end"] = Path("/proc/loadavg").read_text().split()[:3]
    data = {"meta": meta, "cases": [c.__dict__ for c in cases],
            "systems": {s.name: {"label": s.label, "status": status.get(s.name, "not run")} for s in systems},
            "results": results}
    data["targets"] = report.targets(data)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "results.json").write_text(json.dumps(data, indent=1))
    markdown = report.markdown(data)
    (args.out / "results.md").write_text(markdown)
    chart = report.chart(data, args.out / "chart.png")
    print(markdown)
    print(f"wrote {args.out / 'results.json'}, {args.out / 'results.md'}" + (f", {chart}" if chart else ""))


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


if __name__ == "__main__":
    main()
