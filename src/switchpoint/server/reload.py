"""Live reload: SIGHUP (or `POST /api/v1/admin/reload`) re-reads switchpoint.yaml and applies it without
dropping a request.

The whole new Config is validated first; an invalid file is refused with every problem logged and the
running configuration kept. A valid one is built into new Services (server/services.py,
`build_services(config, keep=old)`) that share the parts that live as long as the process (the
database, the shared state, the ledger writer, metrics, endpoint health and circuit breakers), and
everything else (providers, the catalogue and route table, the engine, upstream pools, keys' settings,
limits, aliases...) is rebuilt from the new Config, so a setting added to the schema reloads without
code here. The app then swaps its one `services` reference: a request takes that reference when it
arrives and keeps it to the end, so requests already under way finish on the old configuration and new
ones use the new one. The old upstream pools are closed once the last request on them has finished.

Settings that only take effect at start (RESTART_ONLY) are kept at their running values and logged as
needing a restart. A setting a new component reads once at start belongs in that list."""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..config import Config, load_config
from ..errors import ConfigError
from .services import Services, build_services, carry_over, store_config_keys

log = logging.getLogger("switchpoint.reload")

# Dotted paths of the settings read once at start: the listening socket and its workers, the
# connection limits given to the HTTP protocol, the durable parts the new services keep.
RESTART_ONLY = (
    "listen", "database", "state", "state_failure", "response_cache.max_bytes", "server.tls",
    "server.idle_timeout", "server.head_timeout", "server.body_timeout", "server.body_min_rate",
    "server.send_timeout", "server.max_connections", "server.ledger_flush_interval", "server.ledger_batch_size",
    "server.reservation_lease", "ledger", "routing.breaker", "telemetry",
)
RETIRE_POLL = 0.05  # seconds between checks that the old configuration's last request has finished


@dataclass
class ReloadResult:
    ok: bool
    source: str
    problems: list[tuple[str, str]] = field(default_factory=list)
    restart_needed: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {"reloaded": self.ok, "config": self.source,
                "problems": [{"field": f, "problem": p} for f, p in self.problems],
                "restart_needed": self.restart_needed, "warnings": self.warnings}


def _get(node: Any, path: str) -> Any:
    for part in path.split("."):
        node = getattr(node, part)
    return node


def _set(node: Any, path: str, value: Any) -> Any:
    """A copy of the pydantic model `node` with the setting at `path` replaced."""
    head, _, rest = path.partition(".")
    return node.model_copy(update={head: _set(getattr(node, head), rest, value) if rest else value})


def keep_restart_only(running: Config, new: Config) -> tuple[Config, list[str]]:
    """The new config with every start-only setting at its running value, and what differed."""
    changed = []
    for path in RESTART_ONLY:
        old_value, new_value = _get(running, path), _get(new, path)
        if old_value != new_value:
            changed.append(path)
            new = _set(new, path, old_value)
    return new, changed


def describe(path: str | None) -> str:
    return str(Path(path).resolve()) if path else "built-in defaults (no switchpoint.yaml)"


class Reloader:
    """Applies a re-read configuration to a running app (server/app.py). One reload at a time."""

    def __init__(self, app: Any, config_path: str | None) -> None:
        self.app = app
        self.config_path = config_path
        self.lock = asyncio.Lock()
        self.retiring: set[asyncio.Task[None]] = set()
        self.completed = 0  # reloads finished (either way), for a caller waiting on a signalled one
        self.last: ReloadResult | None = None
        self.finished = asyncio.Event()

    async def reload(self) -> ReloadResult:
        async with self.lock:
            result = await self._reload()
            self.completed += 1
            self.last = result
            self.finished.set()
            self.finished = asyncio.Event()
            return result

    async def _reload(self) -> ReloadResult:
        source = describe(self.config_path)
        running: Services = self.app.services
        try:
            new = await asyncio.to_thread(load_config, self.config_path)
        except ConfigError as exc:
            for where, problem in exc.problems:
                log.error("reload refused, the running configuration is kept: %s: %s", where, problem)
            return ReloadResult(False, source, problems=list(exc.problems), warnings=list(exc.warnings))
        if self.app.config_overrides:  # what `serve` set over the file (a worker's shared state)
            new = new.model_copy(update=self.app.config_overrides)
        new, kept = keep_restart_only(running.config, new)
        for path in kept:
            log.warning("reload: %s changed but needs a restart; running with the old value until then", path)
        try:
            services = build_services(new, keep=running)
            await store_config_keys(services)  # every worker and replica alike: the writes are idempotent
        except Exception as exc:  # a config valid on paper the services could not be built from
            log.exception("reload refused, the running configuration is kept")
            return ReloadResult(False, source, problems=[("(reload)", f"{exc.__class__.__name__}: {exc}")])
        carry_over(services)
        self.app.swap(services)
        for warning in services.warnings:
            log.warning("%s", warning)
        task = asyncio.ensure_future(self.retire(running))
        self.retiring.add(task)
        task.add_done_callback(self.retiring.discard)
        log.info("reloaded %s: %d providers, %d models, %d keys%s", source, len(services.providers),
                 len(services.catalogue.models), len(new.keys),
                 f"; needs a restart: {', '.join(kept)}" if kept else "")
        return ReloadResult(True, source, restart_needed=kept, warnings=list(services.warnings))

    async def retire(self, old: Services) -> None:
        """Close the old configuration's upstream pools once its last request has finished."""
        started = time.monotonic()
        while old.in_flight:
            await asyncio.sleep(RETIRE_POLL)
        await old.engine.drain()
        old.access.flush()
        await old.transport.close()
        log.debug("the previous configuration's last request finished after %.1fs; its pools are closed",
                  time.monotonic() - started)

    async def wait_retired(self) -> None:
        while self.retiring:
            await asyncio.gather(*list(self.retiring), return_exceptions=True)
