"""Every HTTP request, whatever became of it: counted in `/metrics` by route and status, and written
as one line to the `switchpoint.access` logger (unless `server.access_log: false`).

The route is the path template (`/api/v1/keys/{hash}`, `unmatched` for paths no route serves), and
the method one of a fixed few, so the counter's cardinality is bounded whatever clients send. A line
names the key by its label (`sk-sp-v1-abc...xyz`, as `keys list` shows it), never the key itself.

A line through Python's logging costs 9 µs (a record, a formatted timestamp, one write and flush per
line): ~8% of a proxied request's CPU at 4,500 req/s. So when the logger ends in nothing but the one
stream handler `switchpoint serve` sets up (`plain_stream`), the lines are formatted here in that
handler's own format and written together once per event-loop turn: one timestamp and one write for
every request that finished in the turn. Measured in-process (bench/access_log.py, 2026-12-04, shared
2-core EPYC): the count 0.3 µs; the count and a batched line 2.7 µs with 8 requests ending per loop
turn, against 9.1 µs a line through logging; a whole `GET /healthz` through the app 7.9 µs with the
log on, 5.5 µs with it off (14.8 µs on before batching). Any other logging set-up (handlers of its own, filters, another format, pytest's capture)
gets one record per line, as before; the choice is made when the gateway starts."""

from __future__ import annotations

import asyncio
import logging
import time
from typing import TextIO

from ..accounting.keys import KEY_PREFIX, key_label
from .metrics import Counters

log = logging.getLogger("switchpoint.access")
METHODS = frozenset({"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"})
CLIENT_GONE = 499  # the client disconnected before any response was sent (nginx's convention)
LINE = "%s %s %d key=%s %.1fms id=%s"
LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"  # what `switchpoint serve` logs with
_STATUS = {code: str(code) for code in range(100, 600)}


class AccessLog:
    __slots__ = ("_lines", "_second", "_stamp", "_stream", "counts", "enabled")

    def __init__(self, counts: Counters, *, enabled: bool = True, stream: TextIO | None = None) -> None:
        """stream: where batched lines go (`plain_stream()`); None sends each line through logging."""
        self.counts = counts
        self.enabled = enabled
        self._stream = stream
        self._lines: list[str] = []
        self._second = -1
        self._stamp = ""

    def done(self, method: str, path: str, route: str, status: int, authorization: bytes | None,
             seconds: float, request_id: str) -> None:
        """Count one finished request and, when enabled, log it."""
        status = status or CLIENT_GONE
        if method not in METHODS:
            method = "other"
        self.counts.inc((route, method, _STATUS.get(status) or str(status)))
        if self.enabled and log.isEnabledFor(logging.INFO):
            if not path.isprintable():  # no forged lines from an encoded newline in the path
                path = repr(path)
            args = (method, path, status, label(authorization), seconds * 1000, request_id)
            if self._stream is None:
                # makeRecord + handle is log.info without its caller lookup (a stack walk, ~1 µs)
                log.handle(log.makeRecord(log.name, logging.INFO, __file__, 0, LINE, args, None))
                return
            self._lines.append(LINE % args)
            if len(self._lines) == 1:
                try:
                    asyncio.get_running_loop().call_soon(self.flush)
                except RuntimeError:  # called outside the event loop: nothing would flush it later
                    self.flush()

    def flush(self) -> None:
        """Write the lines gathered since the last flush, each stamped with this moment (they all
        finished within one loop turn; each carries its own latency)."""
        if not self._lines or self._stream is None:
            return
        now = time.time()
        second = int(now)
        if second != self._second:
            self._second = second
            self._stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(second))
        prefix = f"{self._stamp},{int((now - second) * 1000):03d} INFO {log.name}: "
        text = prefix + ("\n" + prefix).join(self._lines) + "\n"
        self._lines.clear()
        try:
            self._stream.write(text)
            self._stream.flush()
        except (OSError, ValueError) as exc:  # a closed or broken stream: lines go through logging from now on
            self._stream = None
            log.warning("access log stream failed (%s); logging each line instead", exc)


def plain_stream(logger: logging.Logger = log) -> TextIO | None:
    """The stream `logger`'s lines end in when its only destination is one plain stream handler with
    `switchpoint serve`'s format (so a line written there directly reads exactly as logging would have
    written it); None for any other set-up."""
    handlers: list[logging.Handler] = []
    current: logging.Logger | None = logger
    while current is not None:
        if current.filters:
            return None
        handlers.extend(current.handlers)
        if not current.propagate:
            break
        current = current.parent
    if len(handlers) != 1:
        return None
    handler = handlers[0]
    if type(handler) is not logging.StreamHandler or handler.filters or handler.level > logging.INFO \
            or handler.formatter is None:
        return None
    formatter = handler.formatter
    if formatter._fmt != LOG_FORMAT or formatter.datefmt is not None or type(formatter) is not logging.Formatter:
        return None
    return handler.stream


def label(authorization: bytes | None) -> str:
    """The calling key's label; `-` without credentials, `*` for a token that is not a Switchpoint key
    (the admin key, or a wrong one: none of it is shown)."""
    if not authorization:
        return "-"
    token = authorization.decode("latin-1").partition(" ")[2].strip()
    if token.startswith(KEY_PREFIX) and len(token) >= len(KEY_PREFIX) + 16:
        return key_label(token)
    return "*"
