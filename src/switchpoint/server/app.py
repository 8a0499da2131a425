"""The ASGI application: routing table, lifespan, and the one place errors are rendered."""

from __future__ import annotations

import asyncio
import gc
import logging
import os
import signal
import time
from collections.abc import Awaitable, Callable
from typing import Any

from ..config import Config
from ..errors import BadRequestError, NotFoundError, SwitchpointError
from ..observability.context import end_scope, request_id_for, start_scope
from ..protocols.openai_chat.render import error_body
from . import admin, audit, chat, dashboard, info, messages, models, openapi, responses, teams
from .cors import API_PREFIXES, Cors
from .http import Receive, Request, Response, Send, Streamed, json_response
from .metrics import metrics_endpoint
from .reload import Reloader
from .services import Services, build_services, start_services, stop_services

log = logging.getLogger("switchpoint.server")
Handler = Callable[[Services, Request, Send], Awaitable[Response | Streamed]]

ROUTES: dict[tuple[str, str], Handler] = {
    ("POST", "/chat/completions"): chat.chat_completions,
    ("POST", "/completions"): chat.chat_completions,
    ("POST", "/embeddings"): chat.embeddings,
    # The Anthropic Messages API. The anthropic SDKs append /v1/messages to their base URL, other clients
    # /messages: so a base URL of the server root, /api or /api/v1 works for both.
    ("POST", "/messages"): messages.create_message,
    ("POST", "/messages/count_tokens"): messages.count_tokens,
    ("POST", "/v1/messages"): messages.create_message,
    ("POST", "/v1/messages/count_tokens"): messages.count_tokens,
    ("POST", "/responses"): responses.create_response,
    ("GET", "/models"): models.list_models,
    ("GET", "/models/count"): models.count_models,
    ("GET", "/models/user"): models.list_user_models,
    ("GET", "/providers"): info.list_providers,
    ("GET", "/embeddings/models"): models.list_embedding_models,
    ("GET", "/generation"): info.generation,
    ("GET", "/key"): info.key_info,
    ("GET", "/auth/key"): info.key_info,
    ("GET", "/credits"): info.credits,
    ("GET", "/activity"): info.activity,
    ("GET", "/keys"): admin.list_keys,
    ("POST", "/keys"): admin.create_key,
    ("GET", "/teams"): teams.list_teams,
    ("POST", "/teams"): teams.create_team,
    ("GET", "/audit"): audit.audit_log,
    ("GET", "/openapi.json"): openapi.serve,
}
TOP_ROUTES: dict[tuple[str, str], Handler] = {
    ("GET", "/healthz"): info.healthz,
    ("GET", "/readyz"): info.readyz,
    ("GET", "/metrics"): metrics_endpoint,
    ("POST", "/messages"): messages.create_message,
    ("POST", "/messages/count_tokens"): messages.count_tokens,
    ("POST", "/api/messages"): messages.create_message,
    ("POST", "/api/messages/count_tokens"): messages.count_tokens,
}
KEY_ROUTES: dict[str, Handler] = {"GET": admin.get_key, "PATCH": admin.update_key, "DELETE": admin.delete_key}
TEAM_ROUTES: dict[str, Handler] = {"GET": teams.get_team, "PATCH": teams.update_team, "DELETE": teams.delete_team}
RESPONSE_ROUTES: dict[str, Handler] = {"GET": responses.get_response, "DELETE": responses.delete_response}


UNMATCHED = "unmatched"  # the route label of every path no route serves (bounded metric cardinality)


def match(method: str, path: str) -> tuple[Handler | None, str, dict[str, str], str]:
    """Resolve a request path (under /api/v1 or /v1) to its handler, its path parameters and its
    route: the path template (`/api/v1/keys/{hash}`) that metrics and the access log count by."""
    if path.startswith("/api/v1/"):
        sub = path[7:]
    elif path.startswith("/v1/"):
        sub = path[3:]
    else:
        top = path.rstrip("/") or "/"
        handler = TOP_ROUTES.get((method, top))
        return handler, path, {}, top if handler is not None else UNMATCHED
    sub = sub.rstrip("/")
    handler = ROUTES.get((method, sub))
    if handler is not None:
        return handler, sub, {}, "/api/v1" + sub
    parts = sub.split("/")
    if len(parts) == 5 and parts[1] == "models" and parts[4] == "endpoints" and method == "GET":
        return (models.model_endpoints, sub, {"author": parts[2], "slug": parts[3]},
                "/api/v1/models/{author}/{slug}/endpoints")
    if len(parts) == 4 and parts[1] in ("model", "models") and method == "GET":
        return models.get_model, sub, {"author": parts[2], "slug": parts[3]}, f"/api/v1/{parts[1]}/{{author}}/{{slug}}"
    if len(parts) == 3 and parts[1] == "keys":
        handler = KEY_ROUTES.get(method)
        return handler, sub, {"hash": parts[2]}, "/api/v1/keys/{hash}" if handler is not None else UNMATCHED
    if len(parts) == 3 and parts[1] == "teams":
        handler = TEAM_ROUTES.get(method)
        return handler, sub, {"name": parts[2]}, "/api/v1/teams/{name}" if handler is not None else UNMATCHED
    if len(parts) == 3 and parts[1] == "responses":
        handler = RESPONSE_ROUTES.get(method)
        return handler, sub, {"id": parts[2]}, "/api/v1/responses/{id}" if handler is not None else UNMATCHED
    if len(parts) == 4 and parts[1] == "responses" and parts[3] == "input_items" and method == "GET":
        return responses.input_items, sub, {"id": parts[2]}, "/api/v1/responses/{id}/input_items"
    return None, sub, {}, UNMATCHED


class App:
    def __init__(self, config: Config, services: Services | None = None, *, tune_gc: bool = False,
                 prepared: bool = False, config_path: str | None = None, supervised: bool = False,
                 config_overrides: dict[str, Any] | None = None) -> None:
        self.config = config
        self.services = services
        self.tune_gc = tune_gc
        self.prepared = prepared  # the database was migrated and the config's keys stored before start
        self.extra_routes: dict[tuple[str, str], Handler] = dict(dashboard.ROUTES)
        self.extra_routes[("POST", "/api/v1/admin/reload")] = self.reload_endpoint
        self.extra_routes[("POST", "/v1/admin/reload")] = self.reload_endpoint
        self.cors = Cors(config.server.cors_origins) if config.server.cors_origins else None
        self.stop_requested_at: float | None = None  # time.monotonic() of the stop signal (run.GatewayServer)
        self.reloader = Reloader(self, config_path)  # re-reads the file `serve` read (None: the defaults)
        self.supervised = supervised  # a worker of `serve --workers N`: the supervisor signals every worker
        self.config_overrides = config_overrides or {}  # settings `serve` gave over the file's, kept on reload
        self.reloads: set[asyncio.Task[Any]] = set()

    # -- live reload (server/reload.py) ----------------------------------------------------------

    def swap(self, services: Services) -> None:
        """Serve new requests with `services`; those under way keep the ones they started with."""
        self.services = services
        self.config = services.config
        self.cors = Cors(services.config.server.cors_origins) if services.config.server.cors_origins else None

    def request_reload(self) -> None:
        """SIGHUP: reload in the background (the signal handler must not wait)."""
        task = asyncio.ensure_future(self.reloader.reload())
        self.reloads.add(task)  # a task nobody references may be collected before it ends
        task.add_done_callback(self.reloads.discard)

    async def reload_endpoint(self, services: Services, request: Request, send: Send) -> Response:
        """`POST /api/v1/admin/reload` (`switchpoint reload`): reload, answer what was applied or refused.
        A worker asks the supervisor, which signals every worker, and answers with its own outcome."""
        admin.require_admin(services, request)
        if self.supervised:
            finished = self.reloader.finished
            os.kill(os.getppid(), signal.SIGHUP)
            await asyncio.wait_for(finished.wait(), 60)
            result = self.reloader.last
            assert result is not None
        else:
            result = await self.reloader.reload()
        if not result.ok:
            raise BadRequestError(f"{result.source}: {len(result.problems)} problem(s); the running configuration "
                                  "is kept", metadata=result.as_dict())
        return json_response(result.as_dict())

    def stop_requested(self) -> None:
        """A stop signal arrived: shutdown, the ledger's last writes included, ends within the grace."""
        if self.stop_requested_at is None:
            self.stop_requested_at = time.monotonic()

    async def __call__(self, scope: dict[str, Any], receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "http":
            await self.http(scope, receive, send)
        elif kind == "lifespan":
            await self.lifespan(receive, send)

    async def http(self, scope: dict[str, Any], receive: Receive, send: Send) -> None:
        method, path = scope["method"], scope["path"]
        handler = self.extra_routes.get((method, path))
        params: dict[str, str] = {}
        sub, route = path, path
        if handler is None:
            handler, sub, params, route = match(method, path)
        request_id, traceparent, origin, authorization = _request_headers(scope["headers"])
        token = start_scope(request_id, traceparent)
        sender = ResponseSender(send, request_id.encode())
        if origin is not None and self.cors is not None and path.startswith(API_PREFIXES):
            sender.extra = self.cors.headers(origin)
            if method == "OPTIONS" and sender.extra:
                handler, route = self.cors.preflight, "preflight"
        started = time.perf_counter()
        services = self.services  # this request's, to its end: a reload swaps in new ones for the next
        if services is not None:
            services.in_flight += 1
        try:
            try:
                if handler is None:
                    raise NotFoundError(f"No route for {method} {path}")
                assert services is not None, "the gateway has not started"
                response = await handler(services, Request(scope, receive, sub, params), sender)
            except SwitchpointError as err:
                response = error_response(err)
            except Exception:
                log.exception("unhandled error on %s %s", method, path)
                response = error_response(SwitchpointError("Internal Server Error"))
            finally:
                end_scope(token)
            if not sender.started:  # a stream that failed after its headers went out has already ended
                await response.send(sender)
        finally:  # counted and logged however the request ended, a client gone mid-request included
            if services is not None:
                services.in_flight -= 1
                services.access.done(method, path, route, sender.status, authorization,
                                     time.perf_counter() - started, request_id)

    async def lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                try:
                    if self.services is None:
                        self.services = build_services(self.config)
                    await start_services(self.services, prepared=self.prepared)
                except Exception as exc:
                    log.exception("startup failed")
                    await send({"type": "lifespan.startup.failed", "message": str(exc)})
                    return
                if self.tune_gc:
                    tune_garbage_collector()
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await self.reloader.wait_retired()
                if self.services is not None:
                    since = self.stop_requested_at or time.monotonic()
                    await stop_services(self.services, deadline=since + self.config.server.shutdown_grace)
                await send({"type": "lifespan.shutdown.complete"})
                return


def tune_garbage_collector() -> None:
    """Everything built at startup (config, catalogue, routes, imported modules) lives as long as the
    process: move it out of the collector's sight, and collect the young generation less often. A
    request allocates a few hundred objects, nearly all freed by reference counting; with the default
    threshold (700) the collector ran several times a request and cost a fifth of the CPU under load."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(10_000, 20, 20)


def _request_headers(headers: list[tuple[bytes, bytes]]) -> tuple[str, str | None, bytes | None, bytes | None]:
    """The request id (the client's, or a new one), the W3C traceparent, the Origin and the
    Authorization (for the access log's key label), in one pass."""
    given = traceparent = origin = authorization = None
    for name, value in headers:
        if name == b"x-request-id":
            given = value
        elif name == b"traceparent":
            traceparent = value.decode("latin-1")
        elif name == b"origin":
            origin = value
        elif name == b"authorization":
            authorization = value
    return request_id_for(given), traceparent, origin, authorization


class ResponseSender:
    """Wraps ASGI `send`: every response carries x-request-id, whoever writes it (handlers stream SSE
    themselves), and the app knows whether a response has started."""

    __slots__ = ("send", "request_id", "started", "status", "extra")

    def __init__(self, send: Send, request_id: bytes) -> None:
        self.send = send
        self.request_id = request_id
        self.started = False
        self.status = 0  # the response's status once it started; 0: the client left before any response
        self.extra: list[tuple[bytes, bytes]] = []  # CORS headers for a browser's request

    async def __call__(self, message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            self.started = True
            self.status = message["status"]
            message["headers"] = [*message.get("headers", ()), (b"x-request-id", self.request_id), *self.extra]
        await self.send(message)


def error_response(err: SwitchpointError) -> Response:
    headers = [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in err.headers.items()]
    return Response(error_body(err), err.status, headers)


def create_app(config: Config) -> App:
    return App(config)
