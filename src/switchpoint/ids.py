"""Identifiers in OpenRouter's shapes."""

from __future__ import annotations

import base64
import os
import time

# base64 of random bytes, with its two symbols that are not alphanumeric swapped for letters.
_ALNUM = bytes.maketrans(b"+/", b"xZ")


def random_alnum(length: int) -> str:
    """Random alphanumerics from the OS's random source (~0.5 µs, vs ~10 µs choosing per character)."""
    return base64.b64encode(os.urandom((length * 3 + 3) // 4)).translate(_ALNUM)[:length].decode()


def generation_id(now: float | None = None) -> str:
    """gen-<unix seconds>-<20 alphanumerics>."""
    stamp = int(now if now is not None else time.time())
    return f"gen-{stamp}-{random_alnum(20)}"


def call_id() -> str:
    return "call_" + random_alnum(24)
