"""The model catalogue as OpenRouter serves it: /models (and /models/user, /models/count,
/embeddings/models), one model, a model's endpoints, and the configured aliases; each listing shows a
calling key only what its policy allows. Every answer carries each field OpenRouter's SDKs require
(checked by tests/server/test_openrouter_sdk*.py with both official SDKs)."""

from __future__ import annotations

from functools import cache
from typing import Any
from urllib.parse import urlencode

import orjson

from ..accounting.keys import bearer, hash_key
from ..config.access import AccessPolicy
from ..config.catalogue import Endpoint, Model, bundled_models
from ..errors import BadRequestError, NotFoundError
from ..routing.access import endpoint_allowed, permitted, visible
from ..routing.auto import AUTO_MODEL
from ..routing.breaker import CLOSED
from .http import Request, Response, Send, json_response
from .services import Services


def model_object(model: Model) -> dict[str, Any]:
    cheapest = min(model.endpoints, key=lambda e: e.price.prompt + e.price.completion, default=None)
    max_output = max((e.max_output_tokens or 0 for e in model.endpoints), default=0) or model.max_output_tokens
    return {
        "id": model.id,
        "canonical_slug": model.id,
        "hugging_face_id": model.hugging_face_id,
        "name": model.name,
        "created": model.created,
        "description": model.description,
        "context_length": model.context_length,
        "architecture": {
            "modality": f"{'+'.join(model.input_modalities)}->{'+'.join(model.output_modalities)}",
            "input_modalities": list(model.input_modalities),
            "output_modalities": list(model.output_modalities),
            "tokenizer": model.tokenizer,
            "instruct_type": None,
        },
        "pricing": cheapest.price.as_strings() if cheapest else {"prompt": "0", "completion": "0"},
        "top_provider": {"context_length": model.context_length, "max_completion_tokens": max_output,
                         "is_moderated": False},
        "per_request_limits": None,
        "supported_parameters": sorted(set(model.supported_parameters)),
        "default_parameters": None,
        "supported_voices": None,
        "links": {"details": f"/api/v1/models/{model.id}/endpoints"},
        "endpoints": len(model.endpoints),
    }


def endpoint_object(services: Services, model: Model, endpoint: Endpoint) -> dict[str, Any]:
    engine = services.engine
    now = engine.clock()
    health = services.health.endpoints.get(endpoint.key)
    breaker = engine.breakers.get(endpoint.key)
    circuit = breaker.state if breaker is not None else CLOSED
    degraded = circuit != CLOSED or (
        health is not None and health.recently_failed(now, services.config.routing.healthy_window))
    return {
        "name": f"{endpoint.provider}: {model.name}",
        "model_id": model.id,
        "model_name": model.name,
        "context_length": endpoint_context_length(model, endpoint),
        "pricing": endpoint.price.as_strings(),
        "provider_name": endpoint.provider,
        "tag": endpoint.provider,
        "quantization": endpoint.quantization,
        "max_completion_tokens": endpoint.max_output_tokens,
        "max_prompt_tokens": None,
        "supported_parameters": sorted(endpoint.supported_parameters),
        "status": -1 if degraded else 0,
        "circuit": circuit,
        "uptime_last_5m": health.uptime(now, 300) if health else None,
        "uptime_last_30m": health.uptime(now, 1800) if health else None,
        "uptime_last_1d": health.uptime(now, 86400) if health else None,
        # time to first token (streams) else whole-response latency, in milliseconds
        "latency_last_30m": (health.percentiles(now, 2) or health.percentiles(now, 1)) if health else None,
        "throughput_last_30m": health.percentiles(now, 3) if health else None,
        "supports_implicit_caching": endpoint.price.cache_read is not None,
        "supports_tool_choice": _tool_choice_support(endpoint.supported_parameters),
        "supports_diarization": False,
        "native_tools": {},
        "service_tier": None,
        "data_collection": endpoint.data_collection,
    }


# The context window an endpoint reports when neither the config nor the bundled catalogue knows it
# (OpenRouter's clients require a number there). Small on purpose: a client that trims its prompt to
# it fits every current chat model; set `context_length` in switchpoint.yaml to state the real one.
DEFAULT_CONTEXT_LENGTH = 8192


def endpoint_context_length(model: Model, endpoint: Endpoint) -> int:
    """The endpoint's context window: configured (on the endpoint, else the model), else the bundled
    catalogue's for the same model id or the same upstream model, else DEFAULT_CONTEXT_LENGTH."""
    known = _catalogued_context_lengths()
    return (endpoint.context_length or model.context_length or known.get(model.id) or known.get(endpoint.model)
            or DEFAULT_CONTEXT_LENGTH)


@cache
def _catalogued_context_lengths() -> dict[str, int]:
    """Bundled context lengths by public model id and by each endpoint's upstream model name."""
    out: dict[str, int] = {}
    for model in bundled_models():
        for endpoint in model.endpoints:
            length = endpoint.context_length or model.context_length
            if length:
                out.setdefault(endpoint.model, length)
        if model.context_length:
            out[model.id] = model.context_length
    return out


def _tool_choice_support(parameters: frozenset[str] | set[str] | list[str]) -> dict[str, bool]:
    supported = "tool_choice" in parameters
    return {"auto": supported, "none": supported, "required": supported, "function": supported}


def auto_model_object(services: Services) -> dict[str, Any] | None:
    """`switchpoint/auto` in the model list: a router, priced per the model it picks ("-1")."""
    auto = services.engine.auto
    if auto is None or not auto.tiers:
        return None
    return {
        "id": AUTO_MODEL, "canonical_slug": AUTO_MODEL, "hugging_face_id": None, "name": "Switchpoint: Auto Router",
        "created": 0,
        "description": "Picks a model by the prompt: fast models for simple prompts, strong models for long, "
                       "code-heavy or reasoning prompts. Tiers: " + "; ".join(
                           f"{tier}: {', '.join(models)}" for tier, models in auto.tiers.items()),
        "context_length": None,
        "architecture": {"modality": "text->text", "input_modalities": ["text"], "output_modalities": ["text"],
                         "tokenizer": "Router", "instruct_type": None},
        "pricing": {"prompt": "-1", "completion": "-1"},
        "top_provider": {"context_length": None, "max_completion_tokens": None, "is_moderated": False},
        "per_request_limits": None, "supported_parameters": [], "default_parameters": None,
        "supported_voices": None, "links": {"details": f"/api/v1/models/{AUTO_MODEL}/endpoints"},
        "endpoints": 0, "router": {"tiers": {tier: list(models) for tier, models in auto.tiers.items()}},
    }


def listed_models(services: Services, request: Request, default: str = "text",
                  policies: tuple[AccessPolicy, ...] = ()) -> list[dict[str, Any]]:
    """The model objects `GET /models` lists: `output_modalities` (default text; `all`), `all=true`
    for models without a configured provider too; only those `policies` (the caller's key's and
    team's) allow."""
    wanted = request.query.get("output_modalities", default)
    models = services.catalogue.servable() if request.query.get("all") != "true" else list(
        services.catalogue.models.values())
    if wanted != "all":
        kinds = set(wanted.split(","))
        models = [m for m in models if kinds & set(m.output_modalities)]
    if policies:
        models = [m for m in models if visible(m, policies)]
    data = [model_object(m) for m in models]
    auto = auto_model_object(services) if wanted == "all" or "text" in wanted.split(",") else None
    if auto is not None and (not policies or permitted(AUTO_MODEL, policies) and any(
            (m := services.catalogue.get(i)) is not None and visible(m, policies)
            for tier in auto["router"]["tiers"].values() for i in tier)):
        data.append(auto)
    return data + alias_objects(services, data)


def alias_objects(services: Services, listed: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each exact alias of the config (`aliases:`) as a model of its own, as OpenRouter lists its
    `~vendor/family-latest` aliases: the target's object under the alias's id, with `alias_target`
    `{slug, name}`. Globs are not ids a client could send as they are, so they are left out; an alias
    whose target is not listed (another modality, no endpoint) is too."""
    by_id = {m["id"]: m for m in listed}
    out = []
    for alias, target in services.engine.names.aliases.exact.items():
        if alias in by_id:
            continue  # an alias that overrides a listed model is that model's row
        base = target if target in by_id else target.rpartition(":")[0]
        found = by_id.get(base)
        if found is not None:
            out.append({**found, "id": alias, "canonical_slug": found["canonical_slug"],
                        "name": f"{alias} (alias of {found['name']})",
                        "alias_target": {"slug": target, "name": found["name"]}})
    return out


async def caller_policies(services: Services, request: Request) -> tuple[AccessPolicy, ...]:
    """The access policies of the key calling a public listing (`GET /models` needs no key, as on
    OpenRouter): none for no key, the admin key or a key the gateway does not know."""
    token = bearer(request.header(b"authorization"))
    if token is None or services.keys.is_admin(f"Bearer {token}"):
        return ()
    record = await services.keys.lookup(hash_key(token))
    return record.policies if record is not None else ()


async def list_models(services: Services, request: Request, send: Send) -> Response:
    return page_of_models(request, listed_models(services, request, policies=await caller_policies(services, request)))


async def list_embedding_models(services: Services, request: Request, send: Send) -> Response:
    return page_of_models(request, listed_models(services, request, "embeddings",
                                                 await caller_policies(services, request)))


async def list_user_models(services: Services, request: Request, send: Send) -> Response:
    """`GET /models/user`: the models the calling key may use (its policy and its team's)."""
    key = await services.keys.authenticate(request.header(b"authorization"))
    return page_of_models(request, listed_models(services, request, policies=key.policies))


def page_of_models(request: Request, data: list[dict[str, Any]]) -> Response:
    """One page of a model list: `offset` (default 0) and `limit` (default: all) as OpenRouter's SDKs
    send them; `total_count` counts the whole list, `links.next` is the next page or null."""
    offset, limit = _count_param(request, "offset", 0), _count_param(request, "limit", None)
    end = len(data) if limit is None else (offset or 0) + limit
    page = data[offset:end]
    following = None
    if end < len(data):
        following = f"{request.scope['path']}?{urlencode({**request.query, 'offset': end, 'limit': limit})}"
    return Response(orjson.dumps({"data": page, "total_count": len(data), "links": {"next": following}}))


def _count_param(request: Request, name: str, default: int | None) -> int | None:
    value = request.query.get(name, "")
    if value == "":
        return default
    if not value.isdigit() or (name == "limit" and int(value) == 0):
        raise BadRequestError(f"{name}: must be a {'positive' if name == 'limit' else 'non-negative'} integer",
                              metadata={"param": name})
    return int(value)


async def count_models(services: Services, request: Request, send: Send) -> Response:
    policies = await caller_policies(services, request)
    return json_response({"data": {"count": len(listed_models(services, request, policies=policies))}})


async def get_model(services: Services, request: Request, send: Send) -> Response:
    """`GET /model/{author}/{slug}` (OpenRouter's, wrapped in `data`) and `GET /models/{author}/{slug}`
    (the OpenAI SDK's `models.retrieve`: the bare object, with OpenAI's `object` and `owned_by`)."""
    model_id = f"{request.params['author']}/{request.params['slug']}"
    if model_id == AUTO_MODEL:
        found = auto_model_object(services)
    else:
        model = services.catalogue.get(services.engine.names.canonical(model_id) or "")
        policies = await caller_policies(services, request)
        found = model_object(model) if model is not None and (not policies or visible(model, policies)) else None
    if found is None:
        raise NotFoundError(f"Model {model_id} not found")
    if request.path.startswith("/model/"):
        return json_response({"data": found})
    return json_response({**found, "object": "model", "owned_by": request.params["author"]})


async def model_endpoints(services: Services, request: Request, send: Send) -> Response:
    model_id = f"{request.params['author']}/{request.params['slug']}"
    model = services.catalogue.get(services.engine.names.canonical(model_id) or "")
    auto = auto_model_object(services) if model_id == AUTO_MODEL else None
    if auto is not None:
        data = {key: auto[key] for key in ("id", "name", "created", "description", "architecture")}
        return json_response({"data": {**data, "endpoints": []}})
    policies = await caller_policies(services, request)
    if model is None or (policies and not visible(model, policies)):
        raise NotFoundError(f"Model {model_id} not found")
    data = {
        "id": model.id, "name": model.name, "created": model.created, "description": model.description,
        "architecture": model_object(model)["architecture"],
        "endpoints": [endpoint_object(services, model, e) for e in model.endpoints
                      if not policies or endpoint_allowed(e, policies)],
    }
    return json_response({"data": data})
