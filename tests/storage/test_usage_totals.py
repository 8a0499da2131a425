"""Rollup arithmetic: day totals summed from hour totals equal day totals summed from the rows."""

from __future__ import annotations

import random

from switchpoint.storage.usage_totals import DAY_MS, HOUR_MS, rollup_deltas, rollup_deltas_by_size


def test_larger_buckets_from_smaller_ones_match_the_rows() -> None:
    rng = random.Random(7)
    start = 1_795_000_000_000
    rows = [{
        "created_at_ms": start + rng.randrange(3 * DAY_MS), "key_hash": rng.choice("ab"),
        "model": rng.choice(["m/1", "m/2"]), "provider": rng.choice(["p", None]),
        "status": rng.choice(["success", "error", "cancelled"]), "cache_hit": rng.random() < 0.1,
        "prompt_tokens": rng.randrange(100), "completion_tokens": rng.randrange(100), "reasoning_tokens": 0,
        "cached_tokens": rng.randrange(5), "cost_nanos": rng.randrange(10**6), "markup_nanos": rng.randrange(10),
        "latency_ms": rng.choice([None, rng.random() * 100]), "ttft_ms": rng.choice([None, 3.0]),
    } for _ in range(2000)]
    by_size = rollup_deltas_by_size(rows, [DAY_MS, HOUR_MS])
    assert by_size[HOUR_MS] == rollup_deltas(rows, HOUR_MS)
    days = by_size[DAY_MS]
    assert len(days) < len(by_size[HOUR_MS])
    expected = rollup_deltas(rows, DAY_MS)
    assert [{k: v for k, v in d.items() if not k.endswith("_sum")} for d in days] == \
           [{k: v for k, v in d.items() if not k.endswith("_sum")} for d in expected]
    for got, want in zip(days, expected, strict=True):  # float sums differ only in rounding
        assert abs(got["latency_ms_sum"] - want["latency_ms_sum"]) < 1e-6
        assert abs(got["ttft_ms_sum"] - want["ttft_ms_sum"]) < 1e-6
