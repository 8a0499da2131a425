"""One JSON line per generation. The request path only appends the ledger row to a list; a
background task serializes batches with orjson and writes them, so logging never slows a request.
Prompt and completion text appear only for keys with `log_content` enabled."""

from __future__ import annotations

import asyncio
import datetime as dt
import functools
import logging
import sys
from collections.abc import Callable
from typing import IO, Any

import orjson

from .context import current_scope

log = logging.getLogger("switchpoint.observability")
SLICE = 128  # lines serialised and written at a time
FIELDS = ("model", "provider", "upstream_model", "api_type", "status", "http_status", "streamed", "cache_hit",
          "finish_reason", "prompt_tokens", "completion_tokens", "reasoning_tokens", "cached_tokens",
          "usage_estimated", "latency_ms", "ttft_ms", "generation_ms", "error")


@functools.lru_cache(maxsize=4)
def _second(seconds: int) -> str:
    return dt.datetime.fromtimestamp(seconds, dt.UTC).strftime("%Y-%m-%dT%H:%M:%S")


def timestamp(ms: int) -> str:
    """ISO 8601 UTC with milliseconds; the formatted second is reused by the rows within it."""
    seconds, millis = divmod(ms, 1000)
    return f"{_second(seconds)}.{millis:03d}Z"


def log_entry(row: dict[str, Any], request_id: str | None, content: dict[str, Any] | None) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "ts": timestamp(row["created_at_ms"]), "level": "info",
        "event": "generation", "request_id": request_id, "generation_id": row["id"],
        "key": row["key_hash"][:12], **{name: row.get(name) for name in FIELDS},
        "cost_usd": row["cost_nanos"] / 1e9,
        "attempts": orjson.Fragment(row["attempts"]) if row.get("attempts") else [],  # already JSON
    }
    if content is not None:
        entry.update(content)
    return entry


def open_sink(target: str) -> Callable[[], IO[str]] | None:
    """'stdout', 'stderr', 'off', or a file path (appended to). Streams are looked up at each write so
    a redirected stdout is honoured."""
    if target == "off":
        return None
    if target == "stdout":
        return lambda: sys.stdout
    if target == "stderr":
        return lambda: sys.stderr
    handle = open(target, "a", encoding="utf-8")  # noqa: SIM115 - kept open for the gateway's lifetime
    return lambda: handle


class GenerationLog:
    def __init__(self, sink: Callable[[], IO[str]], *, flush_interval: float = 0.2) -> None:
        self.sink = sink
        self.flush_interval = flush_interval
        self._queue: list[tuple[dict[str, Any], str | None, dict[str, Any] | None]] = []
        self._task: asyncio.Task[None] | None = None
        self._closing = False
        self.written = 0

    def observe(self, row: dict[str, Any]) -> None:
        """Called with every ledger row, on the request path: only appends."""
        scope = current_scope()
        content = None
        if scope is not None and scope.output is not None:
            content = {"prompt": scope.prompt, "completion": "".join(scope.output)}
        self._queue.append((row, scope.request_id if scope else None, content))

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run(), name="generation-log")

    async def _run(self) -> None:
        while not self._closing:
            await asyncio.sleep(self.flush_interval)
            while len(self._queue) > SLICE:  # in slices, yielding to requests between them
                self.flush(SLICE)
                await asyncio.sleep(0)
            self.flush()

    def flush(self, limit: int | None = None) -> None:
        if limit is None:
            batch, self._queue = self._queue, []
        else:
            batch, self._queue = self._queue[:limit], self._queue[limit:]
        if not batch:
            return
        lines = b"".join(orjson.dumps(log_entry(*item), default=str) + b"\n" for item in batch)
        try:
            stream = self.sink()
            stream.write(lines.decode())
            stream.flush()
        except (OSError, ValueError) as exc:  # a closed or full log stream must not take the gateway down
            log.warning("could not write %d generation log lines: %s", len(batch), exc)
            return
        self.written += len(batch)

    async def drain(self) -> None:
        self._closing = True
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
        self.flush()
