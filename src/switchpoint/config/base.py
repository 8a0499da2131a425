"""What every settings model shares: unknown settings are refused (a misspelt key is an error, not a
silent default) and a loaded configuration is immutable; durations are written as seconds or `1m`."""

from __future__ import annotations

import re

from pydantic import BaseModel, ConfigDict

_DURATION = re.compile(r"^(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?$")
_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, None: 1}


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def parse_duration(value: object) -> float:
    """Seconds from a number or a string like "90", "1m", "500ms", "1h"."""
    if isinstance(value, bool):
        raise ValueError("expected seconds or a duration like '1m'")
    if isinstance(value, int | float):
        seconds = float(value)
    else:
        match = _DURATION.match(str(value).strip())
        if not match:
            raise ValueError(f"'{value}' is not a duration (use seconds or e.g. '30s', '1m', '1h')")
        seconds = float(match.group(1)) * _UNITS[match.group(2)]
    if seconds <= 0:
        raise ValueError("must be greater than zero")
    return seconds
