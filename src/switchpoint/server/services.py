"""Builds the services a running gateway needs from a validated Config, and tears them down."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Any

from ..accounting.audit import config_key_entry, config_team_entry
from ..accounting.budget import Budget
from ..accounting.governance import Governance
from ..accounting.keys import KeyService, new_key_row
from ..accounting.ledger import LedgerWriter
from ..accounting.limits import RateLimiter
from ..accounting.pricing import Pricer
from ..accounting.teams import config_team_rows
from ..config import Config
from ..config.catalogue import Catalogue, build_catalogue
from ..engine import Engine
from ..engine.breakers import SharedBreakers
from ..engine.cache import ResponseCache
from ..net.proxy import Proxies
from ..net.settings import UpstreamSettings, tls_context
from ..net.transport import Transport
from ..observability.setup import Observer, build_observers
from ..protocols.anthropic_messages import ModelNames
from ..protocols.anthropic_messages.models import served_names
from ..providers.base import Provider
from ..providers.registry import PROVIDER_TYPES
from ..routing import BreakerSettings, BreakerStore
from ..routing.health import Health
from ..routing.names import ModelResolver
from ..state import State, open_state
from ..storage import Store
from ..storage.dead_letters import DeadLetters
from ..storage.spool import Spool, spool_directory
from .access import AccessLog, plain_stream
from .auth.credentials import Credentials
from .metrics import LedgerHealth, Metrics

log = logging.getLogger("switchpoint")
MIN_LEDGER_DRAIN = 1.0  # seconds the ledger gets at shutdown even when in-flight requests used the whole grace


@dataclass
class Services:
    config: Config
    store: Store
    state: State
    keys: KeyService
    budget: Budget
    limiter: RateLimiter
    ledger: LedgerWriter
    transport: Transport
    catalogue: Catalogue
    providers: dict[str, Provider]
    engine: Engine
    health: Health
    cache: ResponseCache
    metrics: Metrics
    access: AccessLog
    credentials: Credentials  # who may use the dashboard and the admin API (server/auth/)
    started_at: float = field(default_factory=time.time)
    warnings: list[str] = field(default_factory=list)
    observers: list[Observer] = field(default_factory=list)  # generation log, tracing
    model_names: ModelNames | None = None  # Messages API model names -> catalogue ids
    responses_purged_at: float = 0.0  # when this process last purged expired stored responses
    in_flight: int = 0  # requests being served with these services (a reload retires them at 0)
    governance: Governance = field(init=False)  # every key and team mutation goes through it

    def __post_init__(self) -> None:
        self.governance = Governance(self.store, self.keys)


def build_providers(config: Config, warnings: list[str]) -> dict[str, Provider]:
    providers: dict[str, Provider] = {}
    for name, pc in config.providers.items():
        cls = PROVIDER_TYPES.get(pc.type)
        if cls is None:
            warnings.append(f"provider '{name}': type '{pc.type}' is not available in this build; skipped")
            continue
        if not pc.tls.verify:
            warnings.append(f"provider '{name}': tls.verify is false: its certificate is not checked, so anyone "
                            "on the network path can read and alter its traffic")
        providers[name] = cls.from_config(name, pc)
    return providers


def shared_breakers(config: Config, state: State) -> SharedBreakers | None:
    """In a cluster (shared state), circuit breakers are shared by every replica."""
    if config.state == "memory":
        return None
    return SharedBreakers(state, BreakerSettings(**config.routing.breaker.model_dump()))


def build_proxies(config: Config) -> Proxies:
    """The `proxy` settings, and each provider's own `proxy` for the URLs under its base URL."""
    overrides = {p.base_url: p.proxy for p in config.providers.values() if p.proxy and p.base_url}
    return Proxies(http=config.proxy.http, https=config.proxy.https, no_proxy=config.proxy.no_proxy,
                   overrides=overrides)


def build_upstream_settings(config: Config) -> dict[str, UpstreamSettings]:
    """Each provider's `max_body_bytes` and `tls`, by provider name."""
    return {name: UpstreamSettings(max_body=p.max_body_bytes,
                                   tls=tls_context(p.tls.ca_file, p.tls.verify) if p.tls.ca_file or not p.tls.verify
                                   else None)
            for name, p in config.providers.items()}


def build_services(config: Config, keep: Services | None = None) -> Services:
    """Everything a gateway runs on, from `config`. With `keep` (a reload: server/reload.py), the parts
    that live as long as the process are taken from the running services (database, shared state, ledger
    writer, keys' cache and subscriptions, budget holds, endpoint health and breakers, metrics,
    observers); everything else is built anew from `config`."""
    warnings = list(config.warnings)
    providers = build_providers(config, warnings)
    catalogue = build_catalogue(config, {n: p.type for n, p in providers.items()})
    if keep is None:
        store = Store(config.database)
        state = open_state(config.state, failure=config.state_failure, cache_bytes=config.response_cache.max_bytes)
        keys = KeyService(store, admin_key=config.admin_key, state=state)
        ledger = build_ledger(config, store)
        budget = Budget(state, store, lease=config.server.reservation_lease, ledger=ledger)
        health = Health()
        breakers: BreakerStore | None = shared_breakers(config, state)
        metrics = Metrics(set(catalogue.models))
        ledger.observers.append(metrics.observe)
        LedgerHealth(ledger, metrics.registry)
        observers = build_observers(config)
    else:
        store, state, keys, ledger, budget = keep.store, keep.state, keep.keys, keep.ledger, keep.budget
        health, breakers, metrics, observers = keep.health, keep.engine.breakers, keep.metrics, keep.observers
    limiter = RateLimiter(state, free_per_minute=config.free_models.requests_per_minute,
                          free_per_day=config.free_models.requests_per_day)
    transport = Transport(proxies=build_proxies(config), settings=build_upstream_settings(config))
    engine = Engine(config=config, catalogue=catalogue, providers=providers, transport=transport, budget=budget,
                    limiter=limiter, ledger=ledger, health=health, breakers=breakers, state=state,
                    pricer=Pricer(config.markup, {name: p.markup for name, p in config.providers.items()}))
    cache = ResponseCache(state, ledger, config.response_cache)
    access = AccessLog(metrics.http, enabled=config.server.access_log,
                       stream=plain_stream() if config.server.access_log else None)
    services = Services(config, store, state, keys, budget, limiter, ledger, transport, catalogue, providers, engine,
                        health, cache, metrics, access, Credentials(config, transport), warnings=warnings,
                        observers=observers, model_names=model_names(config, catalogue, engine.names))
    if keep is not None:
        services.started_at, services.responses_purged_at = keep.started_at, keep.responses_purged_at
    return services


def carry_over(services: Services) -> None:
    """Point the parts a reload keeps at the new configuration, once it was built without error."""
    services.keys.reconfigure(admin_key=services.config.admin_key)
    services.metrics.known_models = set(services.catalogue.models)


def model_names(config: Config, catalogue: Catalogue, names: ModelResolver) -> ModelNames:
    """The Messages API's names: its own `messages.model_aliases` first, then the top-level `aliases`."""
    served = served_names((m.id, [(e.provider_type, e.model) for e in m.endpoints])
                          for m in catalogue.models.values())
    return ModelNames(config.messages.model_aliases, lambda name: catalogue.get(catalogue.split_variant(name)[0])
                      is not None, served, names.alias)


def build_ledger(config: Config, store: Store) -> LedgerWriter:
    """The ledger writer with its spool and dead letters (none for an in-memory database)."""
    directory = spool_directory(config.database, config.ledger.spool_dir)
    spool = dead_letters = None
    if directory is not None:
        try:
            spool, dead_letters = Spool(directory), DeadLetters(directory)
        except OSError as exc:
            raise RuntimeError(f"the ledger spool folder {directory} cannot be created ({exc.strerror or exc}); "
                               "set ledger.spool_dir to a writable folder") from None
    return LedgerWriter(store, flush_interval=config.server.ledger_flush_interval,
                        batch_size=config.server.ledger_batch_size, max_backlog=config.ledger.max_backlog,
                        spool=spool, dead_letters=dead_letters)


async def prepare_database(config: Config) -> None:
    """Migrate and store the static keys once, before worker processes start, so they do not race."""
    store = Store(config.database)
    try:
        await store.create_schema()
        await store.upsert_config_teams(config_team_rows(config), config_team_entry)
        await store.upsert_config_keys(config_key_rows(config), config_key_entry)
    finally:
        await store.close()


def config_key_rows(config: Config) -> list[dict[str, Any]]:
    return [
        new_key_row(
            key.key, key.name, limit_usd=key.limit, limit_reset=key.limit_reset,
            rate_limit=(key.rate_limit.requests, key.rate_limit.interval) if key.rate_limit else None,
            token_limit=(key.token_limit.tokens, key.token_limit.interval) if key.token_limit else None,
            cache=key.cache, source="config", team=key.team, models=key.models, providers=key.providers,
            max_price=key.max_price.model_dump() if key.max_price else None, user_limit_usd=key.user_limit,
            user_rate_limit=(key.user_rate_limit.requests, key.user_rate_limit.interval) if key.user_rate_limit else None,
        )
        for key in config.keys
    ]


async def store_config_keys(services: Services) -> None:
    """Store the config's teams and keys (new ones added, changed ones updated, removed keys disabled),
    and drop every cached key so the new settings apply at once."""
    await services.store.upsert_config_teams(config_team_rows(services.config), config_team_entry)
    await services.store.upsert_config_keys(config_key_rows(services.config), config_key_entry)
    services.keys.forget_all()


async def start_services(services: Services, *, prepared: bool = False) -> None:
    """`prepared`: `prepare_database` already ran for this config (serve does it before starting)."""
    if not prepared:
        await services.store.create_schema()
        await services.store.upsert_config_teams(config_team_rows(services.config), config_team_entry)
        await services.store.upsert_config_keys(config_key_rows(services.config), config_key_entry)
    services.ledger.start()
    await services.keys.listen()
    await services.budget.listen()
    if isinstance(services.engine.breakers, SharedBreakers):
        services.engine.breakers.start()
    for observer in services.observers:
        services.ledger.listeners.append(observer.observe)
        observer.start()


async def stop_services(services: Services, *, deadline: float | None = None) -> None:
    """`deadline` (time.monotonic()): when the ledger stops trying to write; rows it could not write by
    then stay in its spool for the next start."""
    if isinstance(services.engine.breakers, SharedBreakers):
        await services.engine.breakers.stop()
    await services.engine.drain()
    await services.ledger.drain(None if deadline is None else max(MIN_LEDGER_DRAIN, deadline - time.monotonic()))
    for observer in services.observers:
        await observer.drain()
    services.access.flush()
    await services.transport.close()
    await services.state.close()
    await services.store.close()
