"""Identifiers in OpenRouter's shapes."""

from __future__ import annotations

import base64
import os
import time

# base64 of random bytes, with its two symbols that are not alphanumeric swapped for letters.
_ALNUM = bytes.maketrans(b"+/", b"xZ")
_POOL_SIZE = 8192


class _RandomPool:
    """Bytes from the OS's random source, fetched 8 KiB at a time: a request needs three random ids,
    and a system call for each cost more than making them."""

    __slots__ = ("data", "at")

    def __init__(self) -> None:
        self.data = b""
        self.at = 0

    def take(self, n: int) -> bytes:
        at = self.at
        if at + n > len(self.data):
            self.data, at = os.urandom(max(_POOL_SIZE, n)), 0
        self.at = at + n
        return self.data[at:at + n]

    def reset(self) -> None:
        self.data, self.at = b"", 0


_pool = _RandomPool()
os.register_at_fork(after_in_child=_pool.reset)  # a forked worker never repeats its parent's ids


def random_hex(n_bytes: int) -> str:
    return _pool.take(n_bytes).hex()


def random_alnum(length: int) -> str:
    """Random alphanumerics from the OS's random source (~0.5 µs, vs ~10 µs choosing per character)."""
    return base64.b64encode(_pool.take((length * 3 + 3) // 4)).translate(_ALNUM)[:length].decode()


def generation_id(now: float | None = None) -> str:
    """gen-<unix seconds>-<20 alphanumerics>."""
    stamp = int(now if now is not None else time.time())
    return f"gen-{stamp}-{random_alnum(20)}"


def call_id() -> str:
    return "call_" + random_alnum(24)
