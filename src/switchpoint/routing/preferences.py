"""The request's `provider` object (openrouter-api.md §4), validated into an immutable `Preferences`.

Every problem is a 400 naming the field. Unknown keys are rejected, as OpenRouter's schema does
(`additionalProperties: false`)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from ..errors import BadRequestError

SORTS = frozenset({"price", "throughput", "latency", "exacto"})
PARTITIONS = frozenset({"model", "none"})
QUANTIZATIONS = frozenset({"int4", "int8", "fp4", "mxfp4", "nvfp4", "fp6", "fp8", "mxfp8", "fp16", "bf16",
                           "fp32", "unknown"})
PERCENTILES = ("p50", "p75", "p90", "p99")
PRICE_KEYS = ("prompt", "completion", "request", "image")
MILLION = 1_000_000.0


@dataclass(frozen=True, slots=True)
class MaxPrice:
    """USD per token (converted from the request's USD per million) and per request / image."""

    prompt: float | None = None
    completion: float | None = None
    request: float | None = None
    image: float | None = None


@dataclass(frozen=True, slots=True)
class Hedge:
    after_ms: float | None = None  # None: the endpoint's observed p95 time to first token


@dataclass(frozen=True, slots=True)
class Preferences:
    order: tuple[str, ...] = ()                  # lower-cased provider names
    allow_fallbacks: bool = True
    only: frozenset[str] | None = None
    ignore: frozenset[str] = frozenset()
    sort: str | None = None
    partition: str = "model"
    max_price: MaxPrice | None = None
    require_parameters: bool = False
    deny_data_collection: bool = False           # data_collection "deny" or zdr
    quantizations: frozenset[str] | None = None
    min_throughput: dict[str, float] | None = None   # soft: percentile -> tokens/s
    max_latency: dict[str, float] | None = None      # soft: percentile -> seconds
    hedge: Hedge | None = None

    @property
    def deterministic(self) -> bool:
        """`order` or `sort` switch load balancing off."""
        return bool(self.order) or self.sort is not None


DEFAULT = Preferences()


def parse_preferences(raw: Any, *, field: str = "provider") -> Preferences:
    if raw is None:
        return DEFAULT
    if not isinstance(raw, dict):
        raise _bad(field, "must be an object")
    if not raw:
        return DEFAULT
    values: dict[str, Any] = {}
    for key, value in raw.items():
        parse = _FIELDS.get(key)
        if parse is None:
            raise _bad(f"{field}.{key}", f"unknown field (allowed: {', '.join(sorted(_FIELDS))})")
        if value is None:
            continue
        parse(f"{field}.{key}", value, values)
    return Preferences(**values)


def _bad(path: str, problem: str) -> BadRequestError:
    return BadRequestError(f"{path}: {problem}", metadata={"param": path})


def _names(path: str, value: Any) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise _bad(path, "must be an array of provider names")
    return [v.lower() for v in value]


def _bool(path: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise _bad(path, "must be true or false")
    return value


def _number(path: str, value: Any) -> float:
    if isinstance(value, bool):
        raise _bad(path, "must be a number")
    if isinstance(value, str):
        try:
            value = float(value)
        except ValueError:
            raise _bad(path, "must be a number") from None
    if not isinstance(value, int | float) or not math.isfinite(value) or value < 0:
        raise _bad(path, "must be a non-negative number")
    return float(value)


def _order(path: str, value: Any, out: dict[str, Any]) -> None:
    out["order"] = tuple(dict.fromkeys(_names(path, value)))


def _only(path: str, value: Any, out: dict[str, Any]) -> None:
    out["only"] = frozenset(_names(path, value))


def _ignore(path: str, value: Any, out: dict[str, Any]) -> None:
    out["ignore"] = frozenset(_names(path, value))


def _allow_fallbacks(path: str, value: Any, out: dict[str, Any]) -> None:
    out["allow_fallbacks"] = _bool(path, value)


def _require_parameters(path: str, value: Any, out: dict[str, Any]) -> None:
    out["require_parameters"] = _bool(path, value)


def _data_collection(path: str, value: Any, out: dict[str, Any]) -> None:
    if value not in ("allow", "deny"):
        raise _bad(path, "must be 'allow' or 'deny'")
    if value == "deny":
        out["deny_data_collection"] = True


def _zdr(path: str, value: Any, out: dict[str, Any]) -> None:
    if _bool(path, value):
        out["deny_data_collection"] = True


def _accepted_bool(path: str, value: Any, out: dict[str, Any]) -> None:
    _bool(path, value)  # accepted for compatibility; every configured model qualifies


def _sort(path: str, value: Any, out: dict[str, Any]) -> None:
    by: Any  # checked below, whichever form the sort came in
    if isinstance(value, str):
        by, partition, by_path = value, "model", path
    elif isinstance(value, dict):
        unknown = set(value) - {"by", "partition"}
        if unknown:
            raise _bad(f"{path}.{sorted(unknown)[0]}", "unknown field (allowed: by, partition)")
        by, partition, by_path = value.get("by"), str(value.get("partition") or "model"), f"{path}.by"
        if partition not in PARTITIONS:
            raise _bad(f"{path}.partition", "must be 'model' or 'none'")
    else:
        raise _bad(path, "must be 'price', 'throughput', 'latency' or {\"by\": ..., \"partition\": ...}")
    out["partition"] = partition
    if by is None:
        return
    if by not in SORTS:
        raise _bad(by_path, "must be 'price', 'throughput', 'latency' or 'exacto'")
    out["sort"] = by


def _max_price(path: str, value: Any, out: dict[str, Any]) -> None:
    if not isinstance(value, dict):
        raise _bad(path, "must be an object such as {\"prompt\": 1, \"completion\": 2} (USD per million tokens)")
    prices: dict[str, float] = {}
    for key, amount in value.items():
        if key not in PRICE_KEYS and key != "audio":
            raise _bad(f"{path}.{key}", "unknown field (allowed: prompt, completion, request, image, audio)")
        if amount is None:
            continue
        number = _number(f"{path}.{key}", amount)
        if key in PRICE_KEYS:  # audio is accepted; no configured endpoint prices audio separately
            prices[key] = number / MILLION if key in ("prompt", "completion") else number
    out["max_price"] = MaxPrice(**prices)


def _quantizations(path: str, value: Any, out: dict[str, Any]) -> None:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise _bad(path, "must be an array of quantization names")
    unknown = [v for v in value if v.lower() not in QUANTIZATIONS]
    if unknown:
        raise _bad(path, f"unknown quantization '{unknown[0]}' (allowed: {', '.join(sorted(QUANTIZATIONS))})")
    out["quantizations"] = frozenset(v.lower() for v in value)


def _percentiles(path: str, value: Any) -> dict[str, float]:
    if isinstance(value, dict):
        unknown = set(value) - set(PERCENTILES)
        if unknown:
            raise _bad(f"{path}.{sorted(unknown)[0]}", "unknown field (allowed: p50, p75, p90, p99)")
        return {k: _number(f"{path}.{k}", v) for k, v in value.items() if v is not None}
    return {"p50": _number(path, value)}


def _min_throughput(path: str, value: Any, out: dict[str, Any]) -> None:
    out["min_throughput"] = _percentiles(path, value) or None


def _max_latency(path: str, value: Any, out: dict[str, Any]) -> None:
    out["max_latency"] = _percentiles(path, value) or None


def _hedge(path: str, value: Any, out: dict[str, Any]) -> None:
    if isinstance(value, bool):
        if value:
            out["hedge"] = Hedge()
        return
    if not isinstance(value, dict):
        raise _bad(path, "must be true, false or {\"after_ms\": milliseconds}")
    unknown = set(value) - {"after_ms"}
    if unknown:
        raise _bad(f"{path}.{sorted(unknown)[0]}", "unknown field (allowed: after_ms)")
    after = value.get("after_ms")
    if after is not None and (_number(f"{path}.after_ms", after) <= 0):
        raise _bad(f"{path}.after_ms", "must be greater than zero")
    out["hedge"] = Hedge(float(after) if after is not None else None)


_FIELDS = {
    "order": _order, "only": _only, "ignore": _ignore, "allow_fallbacks": _allow_fallbacks,
    "require_parameters": _require_parameters, "data_collection": _data_collection, "zdr": _zdr,
    "enforce_distillable_text": _accepted_bool, "quantizations": _quantizations, "sort": _sort,
    "max_price": _max_price, "preferred_min_throughput": _min_throughput,
    "preferred_max_latency": _max_latency, "hedge": _hedge,
}
