"""Memory of one gateway worker: many held streams, and growth over many requests.

    python memory.py [--system switchpoint] [--only streams|growth]

streams: --streams (5,000) concurrent streams through the gateway from a paced upstream that sends one
    event per second (slow_upstream.py); reports the gateway's RSS while they are all open
    (target <= 200 MB). Every stream must end with [DONE] and the canned text.
growth: --total (500,000) requests from the nginx upstream, a quarter of them streams; RSS each time
    the count passes a multiple of --step (100,000); reports the growth from the first such point to the
    last (target <= 5%).
The gateway runs on core 0; the upstream and the load on core 1. Writes out/memory.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import sys
import time

import aiohttp
import nginx_upstream
from harness import BENCH, Load, env_float, exit_on_sigterm, run_wrk, serve
from systems import CASES, Context, System, add_common_args, make_systems

STREAM_CASE = next(c for c in CASES if c.name == "stream")
CHAT_CASE = next(c for c in CASES if c.name == "chat")


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--system", default=os.environ.get("BENCH_MEMORY_SYSTEM", "switchpoint"))
    parser.add_argument("--only", choices=["streams", "growth"])
    parser.add_argument("--streams", type=int, default=int(env_float("BENCH_STREAMS", 5000)))
    parser.add_argument("--ramp", type=float, default=env_float("BENCH_STREAM_RAMP", 10),
                        help="seconds over which the streams are opened")
    parser.add_argument("--interval", type=float, default=1.0, help="seconds between upstream stream events")
    parser.add_argument("--total", type=int, default=int(env_float("BENCH_GROWTH_TOTAL", 500_000)))
    parser.add_argument("--step", type=int, default=int(env_float("BENCH_GROWTH_STEP", 100_000)))
    add_common_args(parser)
    return parser.parse_args()


def launch(args: argparse.Namespace, upstream_url: str) -> System:
    ctx = Context.from_args(args, args.out / "memory", upstream_url)
    system = make_systems([args.system], args.port_base, ctx)[0]
    reason = system.unavailable()
    if reason:
        raise SystemExit(f"{args.system} unavailable: {reason}")
    system.launch()
    return system


async def hold_streams(system: System, count: int, ramp: float) -> dict:
    """Open count streams over ramp seconds and read each to the end, sampling the gateway's RSS."""
    target = system.target(STREAM_CASE)
    body = json.dumps({"model": target.model, "messages": [{"role": "user", "content": "Tell me about a fox."}],
                       "max_tokens": 16, "stream": True}).encode()
    headers = {"Content-Type": "application/json", **target.headers}
    state = {"open": 0, "ok": 0, "failed": 0, "sample": "", "peak_open": 0}
    samples: list[tuple[float, int, float]] = []

    async def one(session: aiohttp.ClientSession) -> None:
        opened = False
        try:
            async with session.post(target.url, data=body, headers=headers) as resp:
                text = b""
                async for chunk in resp.content.iter_any():
                    if not opened:
                        opened = True
                        state["open"] += 1
                    text += chunk
                decoded = text.decode(errors="replace")
                missing = [w for w in target.expect if w not in decoded]
                if resp.status // 100 != 2 or missing:
                    raise ValueError(f"HTTP {resp.status}, missing {missing}: {decoded[-200:]}")
            state["ok"] += 1
        except (TimeoutError, aiohttp.ClientError, ValueError) as exc:
            state["failed"] += 1
            state["sample"] = state["sample"] or f"{type(exc).__name__}: {exc}"
        finally:
            if opened:
                state["open"] -= 1

    async def sample() -> None:
        start_time = time.monotonic()
        while True:
            state["peak_open"] = max(state["peak_open"], state["open"])
            samples.append((round(time.monotonic() - start_time, 1), state["open"], round(system.rss_mb(), 1)))
            await asyncio.sleep(0.5)

    timeout = aiohttp.ClientTimeout(total=None, sock_read=60)
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0), timeout=timeout) as session:
        sampler = asyncio.create_task(sample())
        tasks = []
        for i in range(count):
            tasks.append(asyncio.create_task(one(session)))
            await asyncio.sleep(ramp / count)
            if i % 1000 == 999:
                log(f"  {i + 1} streams started, {state['open']} open")
        await asyncio.gather(*tasks)
        sampler.cancel()
    all_open = [rss for _, n, rss in samples if n >= count]
    return {"streams": count, "ok": state["ok"], "failed": state["failed"], "sample": state["sample"],
            "peak_open": state["peak_open"], "peak_rss_mb": max(rss for _, _, rss in samples),
            "rss_all_open_mb": max(all_open) if all_open else None, "samples": samples}


def streams(args: argparse.Namespace) -> dict:
    port = args.port_base + 50
    slow = serve("slow_upstream", [sys.executable, str(BENCH / "slow_upstream.py"), "--port", str(port),
                                   "--interval", str(args.interval)], port, args.load_cpus, args.out / "memory" / "logs")
    system = None
    try:
        system = launch(args, f"http://127.0.0.1:{port}")
        # One stream first, so that everything a serving gateway runs (e.g. the ledger writer process,
        # started by the first generation) is running and counted before the streams are opened.
        warm = asyncio.run(hold_streams(system, 1, 0.0))
        if warm["failed"]:
            raise SystemExit(f"{args.system}: the warm-up stream failed: {warm['sample']}")
        time.sleep(2)
        idle = system.rss_mb()
        log(f"{args.system} idle RSS {idle:.1f} MB; opening {args.streams} streams over {args.ramp:g} s")
        result = asyncio.run(hold_streams(system, args.streams, args.ramp))
        result["idle_rss_mb"] = round(idle, 1)
        result["processes"] = len(system.processes[0].pids())
    finally:
        if system:
            system.stop()
        slow.stop()
    measured = result["rss_all_open_mb"]
    if result["failed"] or measured is None:
        result["verdict"] = f"errors: {result['failed']} of {args.streams} streams failed; {result['sample']}"
    else:
        result["verdict"] = "pass" if measured <= 200 else "FAIL"
    log(f"streams: idle {result['idle_rss_mb']} MB, all {args.streams} open {measured} MB, "
        f"peak {result['peak_rss_mb']} MB, ok {result['ok']}, failed {result['failed']}: {result['verdict']}")
    return result


def growth(args: argparse.Namespace) -> dict:
    """Time-boxed wrk runs, sized from the last measured rate so the count crosses each checkpoint."""
    workdir = (args.out / "memory").resolve()
    nginx = nginx_upstream.start_nginx(args.port_base, workdir, args.load_cpus)
    system = None
    checkpoints = list(range(args.step, args.total + 1, args.step))
    batches, done, errors, sample = [], 0, 0, ""
    try:
        system = launch(args, f"http://127.0.0.1:{args.port_base}")
        loads = {}
        for case in (CHAT_CASE, STREAM_CASE):
            target = system.target(case)
            body_file = workdir / f"body-{case.name}.json"
            body_file.write_text(json.dumps({"model": target.model, "max_tokens": 16, "stream": case.stream,
                                             "messages": [{"role": "user", "content": "Tell me about a fox."}]}))
            loads[case.name] = Load(target.url, body_file, target.headers, target.expect, case.connections, 1)
        rates = {name: None for name in loads}
        while checkpoints:
            wanted = checkpoints[0] - done
            for name, share in (("chat", 0.75), ("stream", 0.25)):
                if rates[name]:
                    loads[name].duration = min(600, max(1, wanted * share / rates[name]))
                result = run_wrk(loads[name], args.load_cpus)
                rates[name] = max(result["req_per_s"], 1)
                done += result["requests"]
                errors += result["errors"]
                sample = sample or result["sample"]
            if done >= checkpoints[0]:
                while checkpoints and done >= checkpoints[0]:
                    checkpoints.pop(0)
                time.sleep(1)
                rss = round(system.rss_mb(), 1)
                batches.append({"requests": done, "rss_mb": rss, "errors": errors,
                                "req_per_s": {k: round(v) for k, v in rates.items()}})
                log(f"growth: {done:,} requests, RSS {rss} MB, errors so far {errors}")
    finally:
        if system:
            system.stop()
        nginx.stop()
    first, last = batches[0], batches[-1]
    result = {"batches": batches, "from_requests": first["requests"], "to_requests": last["requests"],
              "growth_pct": round(100 * (last["rss_mb"] - first["rss_mb"]) / first["rss_mb"], 2),
              "errors": errors, "sample": sample}
    result["verdict"] = (f"errors: {errors} failed requests; {sample[:200]}" if errors
                         else "n/a: fewer than two checkpoints" if len(batches) < 2
                         else "pass" if result["growth_pct"] <= 5 else "FAIL")
    log(f"growth from {first['requests']:,} to {last['requests']:,} requests: {result['growth_pct']}% "
        f"({first['rss_mb']} -> {last['rss_mb']} MB): {result['verdict']}")
    return result


def main() -> None:
    args = parse_args()
    exit_on_sigterm()
    # The gateway holds two sockets per stream; children inherit the raised limit.
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    if hard != resource.RLIM_INFINITY and hard < 2 * args.streams + 1000:
        log(f"warning: open-file limit {hard} is low for {args.streams} streams")
    os.sched_setaffinity(0, {int(c) for c in args.load_cpus.split(",")})
    data = {"system": args.system, "started": time.strftime("%Y-%m-%d %H:%M:%S %z")}
    if args.only in (None, "streams"):
        data["streams"] = streams(args)
    if args.only in (None, "growth"):
        data["growth"] = growth(args)
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / f"memory-{args.system}.json"
    path.write_text(json.dumps(data, indent=1))
    print(f"wrote {path}")


def log(message: str) -> None:
    print(f"[memory {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


if __name__ == "__main__":
    main()
