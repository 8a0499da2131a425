"""When a hedged stream starts its second endpoint."""

from __future__ import annotations

import pytest

from switchpoint.config.schema import HedgeConfig
from switchpoint.routing.health import EndpointHealth
from switchpoint.routing.hedge import hedge_delay
from switchpoint.routing.preferences import Hedge

SETTINGS = HedgeConfig(models={"a/listed": None, "a/fixed": {"after_ms": 800}}, min_delay_ms=300,
                       default_delay_ms=2000, min_samples=20)


def measured(ttft_ms: list[float]) -> EndpointHealth:
    h = EndpointHealth()
    for i, value in enumerate(ttft_ms):
        h.observe(True, float(i), ttft_ms=value)
    return h


@pytest.mark.parametrize(("requested", "model", "stats", "expected"), [
    (None, "a/other", None, None),                                   # not hedged
    (Hedge(), "a/other", None, 2.0),                                 # no samples yet: the default
    (Hedge(250), "a/other", None, 0.25),                             # explicit: as given, below the floor too
    (None, "a/listed", measured([100] * 19 + [5000]), 0.3),          # p95 of 20 samples is 100 ms: the floor
    (None, "a/listed", measured([900] * 19 + [5000]), 0.9),           # p95 observed
    (None, "a/listed", measured([900] * 10), 2.0),                   # too few samples
    (None, "a/fixed", measured([900] * 30), 0.8),                    # the model's after_ms
    (Hedge(100), "a/fixed", None, 0.1),                              # the request wins
    (Hedge(), "a/fixed", None, 0.8),                                 # request without after_ms: the model's
])
def test_hedge_delay(requested: Hedge | None, model: str, stats: EndpointHealth | None,
                     expected: float | None) -> None:
    assert hedge_delay(requested, model, stats, SETTINGS) == expected
