"""Routing time against catalogue size and key count (a hook to extend).

    python scale.py [--models 1000] [--endpoints 5] [--keys 100000] [--duration 10]

Generates three Switchpoint configs that differ in one dimension each, all routing to the nginx
upstream through endpoints of equal shape:
  small      1 model x N endpoints, 1 key
  catalogue  --models models x N endpoints, 1 key
  keys       1 model x N endpoints, --keys static keys
and for each measures start-up time, RSS, and p50/p99 latency at 4 connections (wrk, check.lua) for
the last model with the last key. Configs go to out/scale/ (JSON, which YAML reads); results to
out/scale.json. Keys here are static config keys; keys created through the API would be another row.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import time

import nginx_upstream
from harness import Load, check_once, env_float, exit_on_sigterm, run_wrk
from systems import CASES, Context, Switchpoint, add_common_args, expectations

LATENCY = next(c for c in CASES if c.name == "latency")


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", type=int, default=int(env_float("BENCH_SCALE_MODELS", 1000)))
    parser.add_argument("--endpoints", type=int, default=5, help="endpoints (providers) per model")
    parser.add_argument("--keys", type=int, default=int(env_float("BENCH_SCALE_KEYS", 100_000)))
    parser.add_argument("--startup-timeout", type=float, default=env_float("BENCH_SCALE_STARTUP_TIMEOUT", 600),
                        help="seconds a generated config may take to start")
    parser.add_argument("--duration", type=float, default=env_float("BENCH_DURATION", 10))
    parser.add_argument("--warmup", type=float, default=env_float("BENCH_WARMUP", 2))
    add_common_args(parser)
    return parser.parse_args()


def key_for(i: int) -> str:
    return "sk-sp-v1-" + hashlib.sha256(f"scale-key-{i}".encode()).hexdigest()[:40]


def make_config(upstream_url: str, models: int, endpoints: int, keys: int) -> dict:
    """A config with `models` models of `endpoints` endpoints each and `keys` keys."""
    providers = {f"scale{p}": {"type": "openai", "base_url": f"{upstream_url}/json/v1", "api_key": "x"}
                 for p in range(endpoints)}
    catalogue = [{"id": f"scale/model-{m:05d}", "context_length": 131072,
                  "endpoints": [{"provider": f"scale{p}", "model": "gpt-bench",
                                 "pricing": {"prompt": f"0.00000{p + 1}", "completion": f"0.00000{p + 2}"}}
                                for p in range(endpoints)]}
                 for m in range(models)]
    key_list = [{"name": f"key-{k:06d}", "key": key_for(k), "limit": 1000000,
                 "rate_limit": {"requests": 100000000, "interval": 60}} for k in range(keys)]
    # ${BENCH_DB}: the gateway expands it; Switchpoint.launch points it at a fresh file.
    return {"database": "sqlite:///${BENCH_DB}", "state": "memory", "providers": providers, "models": catalogue,
            "keys": key_list}


def measure(name: str, config: dict, args: argparse.Namespace, ctx: Context) -> dict:
    path = ctx.workdir / f"{name}.yaml"
    path.write_text(json.dumps(config))
    model, key = config["models"][-1]["id"], config["keys"][-1]["key"]
    gateway = Switchpoint(args.port_base + 60, ctx)
    gateway.config, gateway.key, gateway.startup_timeout = path, key, args.startup_timeout
    result = {"models": len(config["models"]), "endpoints": sum(len(m["endpoints"]) for m in config["models"]),
              "keys": len(config["keys"]), "config_mb": round(path.stat().st_size / 1e6, 1)}
    try:
        began = time.monotonic()
        try:
            gateway.launch()
        except RuntimeError as exc:
            result["status"] = f"failed to start: {exc}"
            return result
        result["startup_s"] = round(time.monotonic() - began, 1)
        body = ctx.workdir / f"{name}-body.json"
        body.write_text(json.dumps({"model": model, "max_tokens": 16,
                                    "messages": [{"role": "user", "content": "Tell me about a fox."}]}))
        url, headers, expect = gateway.base + "/api/v1/chat/completions", {"Authorization": f"Bearer {key}"}, \
            expectations(LATENCY)
        problem = check_once(url, body.read_bytes(), headers, expect)
        if problem:
            result["status"] = f"failed: {problem}"
            return result
        load = Load(url, body, headers, expect, LATENCY.connections, args.warmup)
        run_wrk(load, args.load_cpus)
        load.duration = args.duration
        run = run_wrk(load, args.load_cpus)
        result["rss_mb"] = round(gateway.rss_mb(), 1)
        if run["errors"]:
            result["status"] = f"errors: {run['errors']}/{run['requests']}: {run['sample'][:200]}"
        else:
            result.update(status="ok", p50_ms=run["p50_us"] / 1000, p99_ms=run["p99_us"] / 1000,
                          req_per_s=round(run["req_per_s"]))
    finally:
        gateway.stop()
    return result


def main() -> None:
    args = parse_args()
    exit_on_sigterm()
    ctx = Context.from_args(args, args.out / "scale")
    workdir = ctx.workdir
    shapes = {"small": (1, 1), "catalogue": (args.models, 1), "keys": (1, args.keys)}
    nginx = nginx_upstream.start_nginx(args.port_base, workdir, args.load_cpus)
    results = {}
    try:
        for name, (models, keys) in shapes.items():
            config = make_config(ctx.upstream, models, args.endpoints, keys)
            results[name] = measure(name, config, args, ctx)
            print(f"{name:<10} {json.dumps(results[name])}", flush=True)
    finally:
        nginx.stop()
    base = results["small"].get("p50_ms")
    for name in ("catalogue", "keys"):
        p50 = results[name].get("p50_ms")
        if base and p50:
            results[name]["p50_vs_small"] = round(p50 / base, 2)
    out = args.out / "scale.json"
    out.write_text(json.dumps(results, indent=1))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
