"""When a hedged stream starts its second endpoint. Pure: statistics and settings are passed in."""

from __future__ import annotations

from ..config.schema import HedgeConfig
from .health import EndpointHealth
from .preferences import Hedge

P95 = 0.95


def hedge_delay(requested: Hedge | None, model_id: str, stats: EndpointHealth | None,
                settings: HedgeConfig) -> float | None:
    """Seconds to wait for the first endpoint's first token before starting the next one, or None
    when the request is not hedged. An explicit `after_ms` (request, else the model's config) is used
    as given; otherwise the endpoint's observed p95 time to first token, never below `min_delay_ms`,
    and `default_delay_ms` until enough streams were measured."""
    if requested is None and model_id not in settings.models:
        return None
    after_ms = requested.after_ms if requested is not None else None
    configured = settings.models.get(model_id)
    if after_ms is None and configured is not None:
        after_ms = configured.after_ms
    if after_ms is not None:
        return after_ms / 1000
    observed = stats.ttft_quantile(P95, settings.min_samples) if stats is not None else None
    delay_ms = settings.default_delay_ms if observed is None else observed
    return max(delay_ms, settings.min_delay_ms) / 1000
