"""The OpenAPI 3.1 document of the HTTP API, served at GET /api/v1/openapi.json (and /v1/openapi.json).

The request bodies of the generation endpoints are built from the very checks validate.py runs
(body_fields.py), and those of the key API from its pydantic models, so the document says what the
gateway enforces. Responses are described by their main fields; every error is the OpenRouter
envelope. Client generators read it, and the test suite fuzzes the gateway against it."""

from __future__ import annotations

from functools import cache
from typing import Any

import orjson

from .. import __version__
from ..protocols.fields import Check
from ..protocols.openai_chat.body_fields import CHAT, COMPLETIONS, EMBEDDINGS, REQUIRED
from .admin import KeyCreate, KeyUpdate
from .http import Request, Response, Send
from .services import Services
from .teams import TeamCreate, TeamUpdate

ERROR = {"$ref": "#/components/schemas/Error"}
BEARER: list[dict[str, list[str]]] = [{"bearer": []}]
PUBLIC: list[dict[str, list[str]]] = []  # no auth


def body_schema(fields: dict[str, Check], required: tuple[str, ...], description: str) -> dict[str, Any]:
    """A request body: every typed field (null allowed where optional); unknown fields pass through."""
    properties = {name: check.schema if name in required else {"anyOf": [check.schema, {"type": "null"}]}
                  for name, check in fields.items()}
    return {"type": "object", "description": description, "properties": properties, "required": list(required),
            "additionalProperties": True}


def _obj(properties: dict[str, Any], required: tuple[str, ...] = (), **extra: Any) -> dict[str, Any]:
    return {"type": "object", "properties": properties, "required": list(required), **extra}


_STR = {"type": "string"}
_NUM = {"type": "number"}
_INT = {"type": "integer"}
_NULL_STR = {"type": ["string", "null"]}
_NULL_NUM = {"type": ["number", "null"]}
_USAGE = _obj({"prompt_tokens": _INT, "completion_tokens": _INT, "total_tokens": _INT, "cost": _NUM},
              ("prompt_tokens", "total_tokens"))
_MODEL = _obj({"id": _STR, "name": _STR, "context_length": {"type": ["integer", "null"]},
               "pricing": _obj({"prompt": _STR, "completion": _STR}), "architecture": {"type": "object"},
               "supported_parameters": {"type": "array", "items": _STR}}, ("id",))
_KEY = _obj({"hash": _STR, "name": _STR, "label": _STR, "disabled": {"type": "boolean"}, "limit": _NULL_NUM,
             "limit_remaining": _NULL_NUM, "limit_reset": _NULL_STR, "usage": _NUM, "created_at": _NULL_STR,
             "expires_at": _NULL_STR}, ("hash", "name"))

_TEAM = _obj({"name": _STR, "limit": _NULL_NUM, "limit_remaining": _NULL_NUM, "limit_reset": _NULL_STR,
              "usage": _NUM, "keys": _INT, "models": {"type": ["array", "null"], "items": _STR},
              "providers": {"type": ["array", "null"], "items": _STR}, "max_price": {"type": ["object", "null"]},
              "source": _STR}, ("name",))


def _component_schemas() -> dict[str, Any]:
    schemas: dict[str, Any] = {
        "Error": _obj({"error": _obj({"code": _INT, "message": _STR, "metadata": {"type": "object"}},
                                     ("code", "message"))}, ("error",)),
        "ChatCompletionRequest": body_schema(CHAT, REQUIRED["chat"],
                                             "An OpenAI chat completions body with OpenRouter's extras"),
        "CompletionRequest": body_schema(COMPLETIONS, REQUIRED["completions"], "A legacy text completions body"),
        "EmbeddingsRequest": body_schema(EMBEDDINGS, REQUIRED["embeddings"], "An OpenAI embeddings body"),
        "ChatCompletion": _obj({
            "id": _STR, "object": _STR, "created": _INT, "model": _STR, "provider": _STR,
            "choices": {"type": "array", "items": _obj({"index": _INT, "finish_reason": _NULL_STR,
                                                        "message": {"type": "object"}, "text": _STR})},
            "usage": _USAGE}, ("id", "choices")),
        "Embeddings": _obj({"object": _STR, "model": _STR, "data": {"type": "array", "items": _obj(
            {"object": _STR, "index": _INT, "embedding": {"anyOf": [{"type": "array", "items": _NUM}, _STR]}})},
                            "usage": _USAGE}, ("data",)),
        "Model": _MODEL,
        "Key": _KEY,
        "Team": _TEAM,
    }
    for name, model in (("KeyCreate", KeyCreate), ("KeyUpdate", KeyUpdate), ("TeamCreate", TeamCreate),
                        ("TeamUpdate", TeamUpdate)):
        schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
        schemas.update(schema.pop("$defs", {}))
        schemas[name] = schema
    return schemas


def _errors(*statuses: int) -> dict[str, Any]:
    return {str(s): {"$ref": f"#/components/responses/E{s}"} for s in statuses}


_REASONS = {400: "Bad request: a field is missing, of the wrong type or out of range; or an unknown model",
            401: "No key, or an unknown, disabled or expired key", 402: "The key's budget cannot cover the request",
            403: "The key's limit is spent, or the operation needs the admin key or a management key whose role allows it", 404: "Not found",
            408: "The upstream did not answer in time", 413: "The body is larger than allowed",
            429: "Rate limited (see Retry-After)", 502: "The provider failed", 503: "No healthy provider"}


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _op(summary: str, ok: dict[str, Any], errors: tuple[int, ...], *, security: Any = BEARER,
        body: str | None = None, parameters: list[dict[str, Any]] | None = None, ok_status: str = "200",
        tag: str = "generation") -> dict[str, Any]:
    operation: dict[str, Any] = {"summary": summary, "tags": [tag], "security": security,
                                 "responses": {ok_status: ok, **_errors(*errors)}}
    if body is not None:
        operation["requestBody"] = {"required": True, "content": {"application/json": {
            "schema": {"$ref": f"#/components/schemas/{body}"}}}}
    if parameters:
        operation["parameters"] = parameters
    return operation


def _query(name: str, description: str, *, required: bool = False, schema: dict[str, Any] | None = None) -> dict:
    return {"name": name, "in": "query", "required": required, "description": description,
            "schema": schema or _STR}


def _path(name: str) -> dict[str, Any]:
    return {"name": name, "in": "path", "required": True, "schema": {"type": "string", "minLength": 1,
                                                                     "pattern": "^[^/?#%]+$"}}


def _data(schema: dict[str, Any]) -> dict[str, Any]:
    return _obj({"data": schema}, ("data",))


_GENERATE = (400, 401, 402, 403, 404, 408, 413, 429, 502, 503)
_MODELS_QUERY = [_query("output_modalities", "text (default), embeddings, image, audio, or all"),
                 _query("all", "true: models without a configured provider too")]
_PAGE_QUERY = [_query("offset", "Skip this many (default 0)", schema={"type": "integer", "minimum": 0}),
               _query("limit", "At most this many (default: all)", schema={"type": "integer", "minimum": 1})]


def _paths() -> dict[str, Any]:
    models = _json(_obj({"data": {"type": "array", "items": {"$ref": "#/components/schemas/Model"}}}, ("data",)),
                   "Model objects, pricing in USD per token as strings")
    key = _json(_data({"$ref": "#/components/schemas/Key"}), "The key")
    team = _json(_data({"$ref": "#/components/schemas/Team"}), "The team")
    return {
        "/chat/completions": {"post": _op(
            "Chat completion (server-sent events when stream is true)",
            {"description": "The completion, or an SSE stream of chunks ending in data: [DONE]",
             "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ChatCompletion"}},
                         "text/event-stream": {"schema": _STR}}},
            _GENERATE, body="ChatCompletionRequest")},
        "/completions": {"post": _op(
            "Legacy text completion", _json({"$ref": "#/components/schemas/ChatCompletion"}, "The completion"),
            _GENERATE, body="CompletionRequest")},
        "/embeddings": {"post": _op(
            "Embeddings (float or base64)", _json({"$ref": "#/components/schemas/Embeddings"}, "The vectors"),
            _GENERATE, body="EmbeddingsRequest")},
        "/models": {"get": _op("The model catalogue", models, (400,), security=PUBLIC, tag="models",
                               parameters=_MODELS_QUERY + _PAGE_QUERY)},
        "/models/user": {"get": _op("The models the calling key may use", models, (400, 401), tag="models",
                                    parameters=_MODELS_QUERY + _PAGE_QUERY)},
        "/providers": {"get": _op("The configured providers", _json(_data({"type": "array", "items": _obj(
            {"name": _STR, "slug": _STR})}), "Providers"), (), security=PUBLIC, tag="models")},
        "/models/count": {"get": _op("How many models /models lists", _json(_data(_obj({"count": _INT})), "Count"),
                                     (400,), security=PUBLIC, tag="models", parameters=_MODELS_QUERY)},
        "/embeddings/models": {"get": _op("The embedding models", models, (400,), security=PUBLIC, tag="models",
                                          parameters=_PAGE_QUERY)},
        "/models/{author}/{slug}": {"get": _op(
            "One model", _json({"$ref": "#/components/schemas/Model"}, "The model"), (404,), security=PUBLIC,
            tag="models", parameters=[_path("author"), _path("slug")])},
        "/model/{author}/{slug}": {"get": _op(
            "One model, as {\"data\": ...}", _json(_data({"$ref": "#/components/schemas/Model"}), "The model"),
            (404,), security=PUBLIC, tag="models", parameters=[_path("author"), _path("slug")])},
        "/models/{author}/{slug}/endpoints": {"get": _op(
            "A model's endpoints", _json(_data({"type": "object"}), "The model and its endpoints"), (404,),
            security=PUBLIC, tag="models", parameters=[_path("author"), _path("slug")])},
        "/generation": {"get": _op(
            "One generation from the ledger", _json(_data({"type": "object"}), "Its cost, tokens, timings, attempts"),
            (400, 401, 404), tag="account", parameters=[_query("id", "A generation id (gen-...)", required=True)])},
        "/key": {"get": _op("The calling key", key, (401,), tag="account")},
        "/auth/key": {"get": _op("The calling key (OpenRouter's older path)", key, (401,), tag="account")},
        "/credits": {"get": _op("Credits and usage", _json(_data(_obj({"total_credits": _NULL_NUM,
                                                                       "total_usage": _NUM})), "Credits"),
                                (401,), tag="account")},
        "/activity": {"get": _op(
            "Spend per day, model and provider", _json(_data({"type": "array"}), "Activity rows"), (400, 401),
            tag="account", parameters=[_query("date", "One UTC day, YYYY-MM-DD"),
                                       _query("since", "7d, 24h or an ISO time (default 30d)"),
                                       _query("key_hash", "Admin key only: one key"),
                                       _query("team", "Admin key only: the keys of one team"),
                                       _query("group_by", "workspace, team (a row per team) or user (adds "
                                                          "each row's end user)")])},
        "/audit": {"get": _op(
            "The audit log (admin key): every change to keys and teams, newest first",
            _json(_obj({"data": {"type": "array", "items": _obj({
                "id": {"type": "integer"}, "at": _STR, "actor": _STR, "action": _STR, "target": _STR,
                "before": {"type": ["object", "null"]}, "after": {"type": ["object", "null"]}})},
                "next_before": {"type": ["integer", "null"]}}, ("data", "next_before")), "Entries"),
            (400, 401, 403), tag="keys",
            parameters=[_query("limit", "Entries per page, 1-500 (default 100)",
                               schema={"type": "integer", "minimum": 1, "maximum": 500}),
                        _query("offset", "Skip this many", schema={"type": "integer", "minimum": 0}),
                        _query("before", "Only entries older than this id (the previous page's next_before)",
                               schema={"type": "integer", "minimum": 0})])},
        "/keys": {
            "get": _op("List keys (admin or management key)", _json(_data({"type": "array", "items": {
                "$ref": "#/components/schemas/Key"}}), "Keys, newest first"), (400, 401, 403), tag="keys",
                parameters=[_query("offset", "Skip this many", schema={"type": "integer", "minimum": 0}),
                            _query("include_disabled", "true (default) or false"),
                            _query("include_expired", "true, or false (default)"),
                            _query("workspace_id", "The gateway's one workspace")]),
            "post": _op("Create a key (admin or management key); the plaintext key is returned only here",
                        _json(_obj({"data": {"$ref": "#/components/schemas/Key"}, "key": _STR}, ("data", "key")),
                              "The new key"),
                        (400, 401, 403), body="KeyCreate", ok_status="201", tag="keys")},
        "/keys/{hash}": {
            "get": _op("One key (admin or management key)", key, (401, 403, 404), tag="keys", parameters=[_path("hash")]),
            "patch": _op("Change a key (admin or management key)", key, (400, 401, 403, 404), tag="keys", body="KeyUpdate",
                         parameters=[_path("hash")]),
            "delete": _op("Delete a key (admin or management key)", _json(_obj({"deleted": {"type": "boolean"}}), "Deleted"),
                          (401, 403, 404), tag="keys", parameters=[_path("hash")])},
        "/teams": {
            "get": _op("List teams (admin key)", _json(_data({"type": "array", "items": {
                "$ref": "#/components/schemas/Team"}}), "Teams by name"), (401, 403), tag="teams"),
            "post": _op("Create a team (admin key)", team, (400, 401, 403), body="TeamCreate", ok_status="201",
                        tag="teams")},
        "/teams/{name}": {
            "get": _op("One team (admin key)", team, (401, 403, 404), tag="teams", parameters=[_path("name")]),
            "patch": _op("Change a team (admin key)", team, (400, 401, 403, 404), tag="teams", body="TeamUpdate",
                         parameters=[_path("name")]),
            "delete": _op("Delete a team without keys (admin key)",
                          _json(_obj({"deleted": {"type": "boolean"}}), "Deleted"), (400, 401, 403, 404),
                          tag="teams", parameters=[_path("name")])},
        "/openapi.json": {"get": _op("This document", _json({"type": "object"}, "OpenAPI 3.1"), (), security=PUBLIC,
                                     tag="meta")},
    }


_TOP = {
    "/healthz": ("Liveness", _json(_obj({"status": _STR}), "Alive")),
    "/readyz": ("Readiness: storage and state reachable", _json(_obj({"status": _STR}), "Ready")),
    "/metrics": ("Prometheus metrics", {"description": "Prometheus text format",
                                        "content": {"text/plain": {"schema": _STR}}}),
}


@cache
def document() -> dict[str, Any]:
    paths = {f"/api/v1{path}": item for path, item in _paths().items()}
    for path, (summary, ok) in _TOP.items():
        paths[path] = {"get": _op(summary, ok, (503,) if path == "/readyz" else (), security=PUBLIC, tag="operations")}
    return {
        "openapi": "3.1.0",
        "info": {"title": "Switchpoint", "version": __version__,
                 "description": "An OpenRouter-compatible LLM gateway. Every path under /api/v1 is also served "
                                "under /v1. Errors are {\"error\": {\"code\", \"message\", \"metadata\"}}."},
        "paths": paths,
        "components": {
            "schemas": _component_schemas(),
            "responses": {f"E{s}": _json(ERROR, reason) for s, reason in _REASONS.items()},
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer",
                                           "description": "A Switchpoint key (sk-sp-v1-...), the admin key or a management key"}},
        },
    }


@cache
def _encoded() -> bytes:
    return orjson.dumps(document())


async def serve(services: Services, request: Request, send: Send) -> Response:
    return Response(_encoded())
