"""`make soak`: a bounded mixed load with faults against a real `switchpoint serve`, then the ledger is
checked against every answer the clients got.

The load: chat completions (whole and streamed), embeddings, bad inputs (broken JSON, wrong types, an
unknown model), a model whose upstream resets the connection, and one with a fallback behind a resetting
endpoint. The faults: every `--fault-every` seconds the gateway gets SIGTERM or SIGKILL (alternately) and
is started again on the same database. The upstream stand-in is the tests' (tests/upstream.py), on
loopback.

At the end it prints requests served, rows written, rows lost, 5xx answers, peak RSS, and exits 1 if a
row was lost (a 200 whose generation is neither in the ledger nor set aside as a dead letter) or a 5xx
was answered where none should be (only the resetting model may get 502).

    python scripts/soak.py [--duration 90] [--max-requests 60000] [--clients 8] [--fault-every 12]
"""

from __future__ import annotations

import argparse
import asyncio
import http.client
import json
import logging
import os
import random
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import orjson
import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.upstream import Reply, Upstream  # noqa: E402 - the repository root is on the path just above

KEY = "sk-sp-v1-soak-key-0123456789abcdef"
PRICE = {"prompt": "0.00000015", "completion": "0.0000006"}
RESETTING = "soak/resetting"  # its only endpoint drops the connection: 502 is the right answer


def chat_reply() -> Reply:
    return Reply.json({"id": "chatcmpl-soak", "object": "chat.completion", "created": 1, "model": "m",
                       "choices": [{"index": 0, "message": {"role": "assistant", "content": "ok"},
                                    "finish_reason": "stop"}],
                       "usage": {"prompt_tokens": 12, "completion_tokens": 3, "total_tokens": 15}})


def stream_reply() -> Reply:
    def event(data: dict[str, Any]) -> bytes:
        return b"data: " + json.dumps(data).encode() + b"\n\n"

    base = {"id": "c", "object": "chat.completion.chunk", "created": 1, "model": "m"}
    chunks: list[bytes | float] = [event({**base, "choices": [{"index": 0, "delta": {"content": "tick "},
                                                                "finish_reason": None}]}), 0.002] * 5
    chunks += [event({**base, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}),
               event({**base, "choices": [], "usage": {"prompt_tokens": 12, "completion_tokens": 5,
                                                       "total_tokens": 17}}), b"data: [DONE]\n\n"]
    return Reply(chunks=chunks, content_type="text/event-stream")


def embedding_reply() -> Reply:
    return Reply.json({"object": "list", "model": "e", "data": [{"object": "embedding", "index": 0,
                                                                 "embedding": [0.1, 0.2]}],
                       "usage": {"prompt_tokens": 4, "total_tokens": 4}})


def config(upstream_url: str, directory: Path) -> dict[str, Any]:
    def provider(path: str) -> dict[str, Any]:
        return {"type": "openai", "base_url": f"{upstream_url}{path}", "api_key": "k", "max_retries": 0, "timeout": 5}

    return {
        "database": f"sqlite:///{directory / 'soak.db'}",
        "providers": {"up": provider("/v1"), "flaky": provider("/flaky/v1"), "backup": provider("/backup/v1")},
        "models": [
            {"id": "soak/gpt", "context_length": 8192, "endpoints": [{"provider": "up", "model": "m", "pricing": PRICE}]},
            {"id": "soak/fallback", "context_length": 8192,
             "endpoints": [{"provider": "flaky", "model": "m", "pricing": PRICE},
                           {"provider": "backup", "model": "m", "pricing": PRICE}]},
            {"id": RESETTING, "context_length": 8192, "endpoints": [{"provider": "flaky", "model": "m", "pricing": PRICE}]},
            {"id": "soak/embed", "context_length": 8192, "output_modalities": ["embeddings"],
             "endpoints": [{"provider": "up", "model": "e", "pricing": {"prompt": "0.00000002"}}]},
        ],
        "keys": [{"name": "soak", "key": KEY}],
        "server": {"shutdown_grace": 5},
        # Breakers would stop sending to the resetting endpoint; the soak wants the resets to keep coming.
        "routing": {"breaker": {"consecutive_failures": 1_000_000, "min_requests": 1_000_000}},
        "telemetry": {"generation_log": "off"},
    }


class Gateway:
    """`switchpoint serve` as a child process, started again after each fault."""

    def __init__(self, config_path: Path, port: int, log_path: Path) -> None:
        self.config_path, self.port, self.log_path = config_path, port, log_path
        self.process: subprocess.Popen[bytes] | None = None
        self.peak_rss_kb = 0

    def start(self) -> None:
        log = self.log_path.open("ab")
        self.process = subprocess.Popen([sys.executable, "-m", "switchpoint.cli.main", "serve", "--config",
                                         str(self.config_path), "--port", str(self.port)],
                                        stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return
            except OSError:
                time.sleep(0.05)
        raise SystemExit(f"the gateway did not start; see {self.log_path}")

    def stop(self, signum: int) -> float:
        assert self.process is not None
        started = time.monotonic()
        self.process.send_signal(signum)
        self.process.wait(60)
        return time.monotonic() - started

    def sample_rss(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        total = 0
        for pid in [self.process.pid, *children(self.process.pid)]:
            try:
                status = Path(f"/proc/{pid}/status").read_text()
            except OSError:
                continue
            total += next((int(line.split()[1]) for line in status.splitlines() if line.startswith("VmRSS:")), 0)
        self.peak_rss_kb = max(self.peak_rss_kb, total)


def children(pid: int) -> list[int]:
    try:
        return [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


class Load:
    """Client threads sending a mix of requests; every answer is tallied."""

    def __init__(self, port: int, max_requests: int) -> None:
        self.port, self.max_requests = port, max_requests
        self.lock = threading.Lock()
        self.sent = 0
        self.statuses: Counter[int] = Counter()
        self.served: list[str] = []          # generation ids of complete 200 answers
        self.unexpected_5xx: list[str] = []
        self.expected_5xx = 0
        self.unanswered = 0                  # connection refused or cut (the gateway was stopping or killed)
        self.stop = threading.Event()

    def run(self, seed: int) -> None:
        rng = random.Random(seed)
        while not self.stop.is_set():
            with self.lock:
                if self.sent >= self.max_requests:
                    return
                self.sent += 1
            kind = rng.choices(["chat", "stream", "embed", "fallback", "reset", "bad_json", "bad_type",
                                "unknown_model", "list_user"], weights=[40, 20, 10, 8, 5, 5, 5, 4, 3])[0]
            try:
                self.one(kind)
            except (OSError, http.client.HTTPException):
                with self.lock:
                    self.unanswered += 1
                time.sleep(0.05)

    def one(self, kind: str) -> None:
        messages = [{"role": "user", "content": "hello"}]
        path, body = "/api/v1/chat/completions", {"model": "soak/gpt", "messages": messages}
        if kind == "stream":
            body["stream"] = True
        elif kind == "embed":
            path, body = "/api/v1/embeddings", {"model": "soak/embed", "input": "hello"}
        elif kind == "fallback":
            body["model"] = "soak/fallback"
        elif kind == "reset":
            body["model"] = RESETTING
        elif kind == "bad_type":
            body["messages"] = "not a list"
        elif kind == "unknown_model":
            body["model"] = "nobody/nothing"
        elif kind == "list_user":  # a wrong-typed value the ledger once could not write
            path, body = "/api/v1/embeddings", {"model": "soak/embed", "input": "x", "user": ["a"]}
        raw = b'{"model": "soak/gpt", "messages": [' if kind == "bad_json" else orjson.dumps(body)
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=15)
        try:
            conn.request("POST", path, body=raw, headers={"authorization": f"Bearer {KEY}",
                                                          "content-type": "application/json"})
            response = conn.getresponse()
            data = response.read()
        finally:
            conn.close()
        status = response.status
        generation = None
        if status == 200:
            if kind == "stream":
                if not data.rstrip().endswith(b"data: [DONE]"):
                    raise http.client.IncompleteRead(data)  # cut by a kill: no complete answer
                first = orjson.loads(data.split(b"\n\n")[0][6:])
                if "error" in first or b'"finish_reason":"error"' in data:
                    raise http.client.IncompleteRead(data)
                generation = first["id"]
            else:
                generation = response.headers.get("x-generation-id") or orjson.loads(data)["id"]
        with self.lock:
            self.statuses[status] += 1
            if generation is not None:
                self.served.append(generation)
            if status >= 500:
                if kind == "reset" and status == 502:
                    self.expected_5xx += 1
                else:
                    self.unexpected_5xx.append(f"{kind}: {status} {data[:200]!r}")


def ledger_contents(directory: Path) -> tuple[dict[str, int], int, set[str]]:
    with sqlite3.connect(directory / "soak.db") as db:
        rows = dict(db.execute("select id, count(*) from generations group by id").fetchall())
        totals = db.execute("select coalesce(sum(requests), 0) from usage_daily").fetchone()[0]
    dead = directory / "soak.db-spool" / "dead-letter.jsonl"
    set_aside = {orjson.loads(line)["row"]["id"] for line in dead.read_bytes().splitlines()} if dead.exists() else set()
    return rows, totals, set_aside


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=90.0, help="seconds of load (default 90)")
    parser.add_argument("--max-requests", type=int, default=60_000)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--fault-every", type=float, default=12.0, help="seconds between SIGTERM/SIGKILL")
    args = parser.parse_args()

    directory = Path(tempfile.mkdtemp(prefix="switchpoint-soak-"))
    logging.getLogger("aiohttp").setLevel(logging.CRITICAL)  # the stand-in's streams cut by the kills
    loop = asyncio.new_event_loop()
    threading.Thread(target=loop.run_forever, daemon=True).start()
    upstream = Upstream()
    asyncio.run_coroutine_threadsafe(upstream.start(), loop).result(10)
    for path in ("/v1/chat/completions", "/backup/v1/chat/completions"):
        upstream.always(path, chat_reply())
    upstream.always("/v1/embeddings", embedding_reply())
    upstream.always("/flaky/v1/chat/completions", Reply(reset=True))
    streams = stream_reply()

    config_path = directory / "switchpoint.yaml"
    config_path.write_text(yaml.safe_dump(config(upstream.url, directory)))
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    gateway = Gateway(config_path, port, directory / "gateway.log")
    gateway.start()
    load = Load(port, args.max_requests)

    # A streamed request and a whole one share the path: the upstream picks the reply by the body.
    original = upstream._next

    def pick(path: str) -> Reply | None:
        if path == "/v1/chat/completions" and upstream.received and b'"stream":true' in upstream.received[-1].body:
            return streams
        return original(path)

    upstream._next = pick  # type: ignore[method-assign]
    threads = [threading.Thread(target=load.run, args=(seed,), daemon=True) for seed in range(args.clients)]
    for thread in threads:
        thread.start()

    started = time.monotonic()
    faults: list[str] = []
    next_fault = started + args.fault_every
    kill = False
    while time.monotonic() - started < args.duration and any(t.is_alive() for t in threads):
        time.sleep(0.25)
        gateway.sample_rss()
        if len(upstream.received) > 10_000:
            upstream.received.clear()
        if time.monotonic() >= next_fault:
            signum = signal.SIGKILL if kill else signal.SIGTERM
            took = gateway.stop(signum)
            faults.append(f"{signal.Signals(signum).name} ({took:.1f} s to stop)")
            gateway.start()
            kill = not kill
            next_fault = time.monotonic() + args.fault_every
    load.stop.set()
    for thread in threads:
        thread.join(30)
    gateway.stop(signal.SIGTERM)  # the last rows are written on the way out
    gateway.start()               # ... or, if any were left in the spool, at the next start
    time.sleep(1.0)
    gateway.sample_rss()
    gateway.stop(signal.SIGTERM)
    asyncio.run_coroutine_threadsafe(upstream.stop(), loop).result(10)

    rows, totals, set_aside = ledger_contents(directory)
    served = load.served
    lost = [g for g in served if g not in rows and g not in set_aside]
    doubled = [g for g, n in rows.items() if n != 1]
    print(f"soak: {time.monotonic() - started:.0f} s, {args.clients} clients, faults: {', '.join(faults) or 'none'}")
    print(f"requests sent:    {load.sent}  (unanswered while the gateway was down or killed: {load.unanswered})")
    print(f"answers:          {dict(sorted(load.statuses.items()))}")
    print(f"requests served:  {len(served)}  (200 with a generation id)")
    print(f"rows written:     {len(rows)}  (usage totals count {totals}; set aside as dead letters: {len(set_aside)})")
    print(f"rows lost:        {len(lost)}" + (f"  e.g. {lost[:3]}" if lost else ""))
    print(f"rows doubled:     {len(doubled)}")
    print(f"5xx answers:      {load.expected_5xx + len(load.unexpected_5xx)}  (expected, from the resetting "
          f"upstream: {load.expected_5xx}; unexpected: {len(load.unexpected_5xx)})")
    for line in load.unexpected_5xx[:5]:
        print(f"  unexpected: {line}")
    print(f"peak RSS:         {gateway.peak_rss_kb / 1024:.1f} MB  (gateway process and its ledger writer)")
    print(f"logs and database: {directory}")
    failed = bool(lost or doubled or load.unexpected_5xx or totals != sum(rows.values()))
    print("soak: FAILED" if failed else "soak: ok")
    return 1 if failed else 0


if __name__ == "__main__":
    os.environ.setdefault("SWITCHPOINT_LOG_LEVEL", "WARNING")
    sys.exit(main())
