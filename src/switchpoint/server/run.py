"""Starting uvicorn for `switchpoint serve`."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import multiprocessing
import os
import resource
import signal
from functools import partial
from typing import Any

import uvicorn

from ..config import Config, find_config_path, load_config
from ..errors import ConfigError
from ..net.deadlines import ConnectionLimits
from ..net.server import HttpProtocol
from ..net.tls import TLSFilesError, server_context
from ..providers import registry as _registry  # noqa: F401 - registers the provider types load_config checks
from ..storage.migrate import SchemaTooNewError
from .access import LOG_FORMAT
from .app import App
from .reload import keep_restart_only
from .services import prepare_database
from .workers import STARTUP_FAILURE, GatewayServer, serve_workers
from .workers import supported as workers_supported

log = logging.getLogger("switchpoint")


HTTP_PROTOCOL = "switchpoint.net.server:HttpProtocol"  # our HTTP/1.1 protocol under uvicorn's server


def protocol_factory(config: Config) -> Any:
    """Our HTTP/1.1 protocol for uvicorn's `http=` setting, with the config's connection limits
    (uvicorn passes a protocol only its own settings)."""
    return partial(HttpProtocol, limits=ConnectionLimits.from_config(config.server))


def tls_options(config: Config) -> dict[str, Any]:
    """uvicorn's settings for `server.tls`: a factory that each serving process (every worker, and a
    worker that replaces one) calls to load the certificate and key, so a renewed certificate is
    picked up by processes started after the renewal. Loaded once here first, so a bad pair stops
    `serve` with a clear message before anything listens."""
    tls = config.server.tls
    if tls is None:
        return {}
    try:
        server_context(tls.cert, tls.key)
    except TLSFilesError as exc:
        raise SystemExit(f"switchpoint: {exc}") from None
    return {"ssl_context_factory": partial(tls_context_factory, tls.cert, tls.key)}


def tls_context_factory(cert: str, key: str, _config: Any, _default: Any) -> Any:
    """uvicorn's `ssl_context_factory` (module-level, so uvicorn's own workers can pickle it)."""
    return server_context(cert, key)


def banner(config: Config, host: str, port: int, workers: int = 1) -> None:
    from .services import build_providers  # noqa: PLC0415

    warnings: list[str] = list(config.warnings)
    if workers > 1 and config.state == "memory" and not workers_supported():
        warnings.append(f"--workers {workers} with state: memory: each worker counts rate limits, budgets and "
                        f"the response cache on its own, so a key can get up to {workers}x its limits. "
                        "Set state: redis://... to share them exactly.")
    providers = build_providers(config, warnings)
    for warning in warnings:
        print(f"warning: {warning}")
    remote = [n for n, p in providers.items() if p.type != "ollama"]
    state = config.state
    if workers > 1 and state == "memory" and workers_supported():
        state = f"memory, shared by the {workers} workers"
    scheme = "https" if config.server.tls is not None else "http"
    print(f"Switchpoint listening on {scheme}://{host}:{port}  (database {config.database}, state {state})")
    if providers:
        print(f"providers: {', '.join(providers)}")
    if not remote:
        print("No provider keys found. Set one (e.g. export OPENAI_API_KEY=... or OPENROUTER_API_KEY=...) and "
              "restart, or describe providers in switchpoint.yaml (see README).")
    print("Create an API key with: switchpoint keys create my-app")


def raise_file_limit() -> None:
    """Each held stream needs two sockets (client and upstream): lift the soft limit on open files
    to the hard limit, since the usual soft default (1024) caps a gateway at ~500 concurrent streams."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or hard > soft:
        target = hard if hard != resource.RLIM_INFINITY else max(soft, 1 << 20)
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
        except (ValueError, OSError) as exc:
            log.warning("could not raise the open-file limit from %d: %s", soft, exc)


def serve(config: Config, config_path: str | None, *, host: str | None, port: int | None, workers: int) -> None:
    logging.basicConfig(level=os.environ.get("SWITCHPOINT_LOG_LEVEL", "INFO"),
                        format=LOG_FORMAT)
    signal.signal(signal.SIGHUP, signal.SIG_IGN)  # until the gateway serves and handles it (reload)
    found = find_config_path(config_path)
    source = ConfigSource(config, str(found) if found is not None else None)
    host = host or config.host
    port = port or config.port
    raise_file_limit()
    tls = tls_options(config)
    banner(config, host, port, workers)
    common = dict(host=host, port=port, loop="uvloop", http=protocol_factory(config), lifespan="on",
                  access_log=False, log_level="warning",
                  timeout_graceful_shutdown=int(config.server.shutdown_grace) or None,
                  proxy_headers=False, server_header=False, **tls)
    prepare_in_child(config)
    if workers > 1 and workers_supported():
        serve_workers(partial(worker_app, source), host, port, workers, common, grace=config.server.shutdown_grace,
                      share_memory_state=config.state == "memory", cache_bytes=config.response_cache.max_bytes,
                      on_reload=source.reload)
    elif workers > 1:  # no SO_REUSEPORT balancing here: uvicorn's workers, sharing one socket
        path = find_config_path(config_path)
        if path is not None:
            os.environ["SWITCHPOINT_CONFIG"] = str(path.resolve())
        uvicorn.run("switchpoint.server.run:app_from_env", factory=True, workers=workers, **common)
    else:
        app = App(config, tune_gc=True, prepared=True, config_path=source.path)
        server = GatewayServer(uvicorn.Config(app, **common), app)
        with contextlib.suppress(KeyboardInterrupt):
            server.run()
        if not server.started:
            raise SystemExit(STARTUP_FAILURE)


class ConfigSource:
    """The configuration `serve` started with, and its file: the supervisor of `--workers N` re-reads
    it on SIGHUP, so a worker it starts after a reload (to replace one that died) starts on the new one."""

    def __init__(self, config: Config, path: str | None) -> None:
        self.config = config
        self.path = path

    def reload(self) -> None:
        try:
            new = load_config(self.path)
        except ConfigError:
            return  # every worker logs the problems as it refuses them
        self.config, _ = keep_restart_only(self.config, new)


def worker_app(source: ConfigSource, state_url: str | None) -> App:
    """A worker's app; with `state_url`, on the state the supervisor hosts for all workers."""
    overrides = {"state": state_url} if state_url is not None else {}
    config = source.config.model_copy(update=overrides)
    return App(config, tune_gc=True, prepared=True, config_path=source.path, supervised=True,
               config_overrides=overrides)


def prepare_in_child(config: Config) -> None:
    """Migrate and store the static keys once, in a short-lived forked process, before serving: workers
    would race on a fresh database, and the serving process never loads the migration tooling (Alembic
    and its templates, 10 MB of RSS)."""
    if "fork" not in multiprocessing.get_all_start_methods():
        asyncio.run(prepare_database(config))
        return
    child = multiprocessing.get_context("fork").Process(target=_prepare, args=(config,), name="switchpoint-prepare")
    child.start()
    child.join()
    if child.exitcode != 0:
        raise SystemExit("switchpoint: could not prepare the database (the error is above)")


def _prepare(config: Config) -> None:
    try:
        asyncio.run(prepare_database(config))
    except SchemaTooNewError as exc:
        log.error("cannot start: %s", exc)
        raise SystemExit(1) from None
    except Exception as exc:
        log.error("preparing the database failed: %s: %s", exc.__class__.__name__, exc)
        raise SystemExit(1) from None


def app_from_env() -> App:
    """Factory for worker processes: each loads the same config."""
    return App(load_config(find_config_path()), tune_gc=True, prepared=True)
