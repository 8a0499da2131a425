"""Every HTTP request, whatever became of it: counted in `/metrics` by route and status, and written
as one line to the `switchpoint.access` logger (unless `server.access_log: false`).

The route is the path template (`/api/v1/keys/{hash}`, `unmatched` for paths no route serves), and
the method one of a fixed few, so the counter's cardinality is bounded whatever clients send. A line
names the key by its label (`sk-sp-v1-abc...xyz`, as `keys list` shows it), never the key itself.
Measured in-process (bench/access_log.py, 2026-12-04, shared 2-core Sapphire Rapids): the count costs
0.3 µs a request; the line 9 µs through the handler `serve` sets up (Python's logging: the record, the
timestamp, one write per line), ~9 of the ~150 µs a proxied request costs one core. Operators who do
not need it turn it off; the count stays."""

from __future__ import annotations

import logging

from ..accounting.keys import KEY_PREFIX, key_label
from .metrics import Counters

log = logging.getLogger("switchpoint.access")
METHODS = frozenset({"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"})
CLIENT_GONE = 499  # the client disconnected before any response was sent (nginx's convention)
LINE = "%s %s %d key=%s %.1fms id=%s"
_STATUS = {code: str(code) for code in range(100, 600)}


class AccessLog:
    __slots__ = ("counts", "enabled")

    def __init__(self, counts: Counters, *, enabled: bool = True) -> None:
        self.counts = counts
        self.enabled = enabled

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
            # makeRecord + handle is log.info without its caller lookup (a stack walk, ~1 µs)
            log.handle(log.makeRecord(log.name, logging.INFO, __file__, 0, LINE,
                                      (method, path, status, label(authorization), seconds * 1000, request_id), None))


def label(authorization: bytes | None) -> str:
    """The calling key's label; `-` without credentials, `*` for a token that is not a Switchpoint key
    (the admin key, or a wrong one: none of it is shown)."""
    if not authorization:
        return "-"
    token = authorization.decode("latin-1").partition(" ")[2].strip()
    if token.startswith(KEY_PREFIX) and len(token) >= len(KEY_PREFIX) + 16:
        return key_label(token)
    return "*"
