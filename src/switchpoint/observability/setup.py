"""Builds the observers the config asks for: the generation log and, with an OTLP endpoint, tracing."""

from __future__ import annotations

from typing import Any, Protocol

from ..config import Config
from .genlog import GenerationLog, open_sink


class Observer(Protocol):
    def observe(self, row: dict[str, Any]) -> None:
        """Called with each ledger row on the request path; must only queue."""

    def start(self) -> None: ...

    async def drain(self) -> None: ...


def build_observers(config: Config) -> list[Observer]:
    telemetry = config.telemetry
    observers: list[Observer] = []
    sink = open_sink(telemetry.generation_log)
    if sink is not None:
        observers.append(GenerationLog(sink))
    if telemetry.otlp_endpoint:
        from .tracing import Tracer  # noqa: PLC0415 - the OpenTelemetry SDK is optional

        types = {name: provider.type for name, provider in config.providers.items()}
        observers.append(Tracer(telemetry.otlp_endpoint, telemetry.service_name, types))
    return observers
