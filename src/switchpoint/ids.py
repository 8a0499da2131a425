"""Identifiers in OpenRouter's shapes."""

from __future__ import annotations

import secrets
import string
import time

_ALPHABET = string.ascii_letters + string.digits


def generation_id(now: float | None = None) -> str:
    """gen-<unix seconds>-<20 alphanumerics>."""
    stamp = int(now if now is not None else time.time())
    return f"gen-{stamp}-{''.join(secrets.choice(_ALPHABET) for _ in range(20))}"


def call_id() -> str:
    return "call_" + "".join(secrets.choice(_ALPHABET) for _ in range(24))
