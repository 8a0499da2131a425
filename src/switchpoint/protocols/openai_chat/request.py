"""Request bodies -> canonical requests. Every problem is a 400 that names the field.

Every field a body may carry is typed by body_fields.py before anything reads it; fields the gateway
does not know pass through untouched. Nesting is bounded for the whole body at once (MAX_DEPTH):
orjson reads up to 1,024 levels but writes only 254, and the upstream body is written with it.

Cost of parse_chat (load, depth bound, every field typed), min of 40 timeit rounds on one core of the
shared 2-core Sapphire Rapids, CPython 3.11, against the earlier partial checks: one-message body
3.4 µs (3.4 before), a typical body with sampling fields 6.4 µs (4.9), two messages and two tools
10.1 µs (6.6), a 40-message 15 kB conversation 42 µs (22); a request costs ~150 µs of CPU in all.
The depth bound is one orjson.dumps of the body inside a fixed chain of lists (~1 µs for a small body).
A schema library would have to walk the same values; pydantic is kept off this path (design.md §6)."""

from __future__ import annotations

from typing import Any

import orjson

from ...errors import BadRequestError
from ...plugins import parse_plugins
from ...routing.context import TRANSFORMS
from ...types import ROUTING_KEYS, ChatRequest, EmbeddingRequest
from ..fields import bad, check_fields
from .body_fields import CHAT, COMPLETIONS, EMBEDDINGS, MAX_FALLBACK_MODELS

ATTRIBUTION = ("http-referer", "x-title", "x-openrouter-title", "x-openrouter-categories", "x-anthropic-beta")
MAX_DEPTH = 128  # levels of nesting in a request body; translators add a few levels under orjson's 254


def _depth_probe() -> tuple[list[Any], list[Any]]:
    """A chain of 254 - MAX_DEPTH nested lists and its innermost list: a body put in the slot can be
    written by orjson only if it nests MAX_DEPTH levels or fewer."""
    slot: list[Any] = [None]
    chain = slot
    for _ in range(254 - MAX_DEPTH - 1):
        chain = [chain]
    return chain, slot


_CHAIN, _SLOT = _depth_probe()


def load_object(body: bytes) -> dict[str, Any]:
    if not body:
        raise BadRequestError("The request body is empty; send a JSON object.")
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        if "depth" in str(exc):
            raise BadRequestError(f"The request body nests deeper than the {MAX_DEPTH} levels allowed.") from None
        raise BadRequestError(f"The request body is not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise BadRequestError("The request body must be a JSON object.")
    bound_depth(body, data)
    return data


def bound_depth(body: bytes, data: dict[str, Any]) -> None:
    """A 400 naming the top-level field when a body nests deeper than MAX_DEPTH (every JSON body)."""
    if len(body) > MAX_DEPTH and _too_deep(data):
        raise bad(_deep_path(data), f"nested deeper than the {MAX_DEPTH} levels a request body may have")


def _too_deep(data: dict[str, Any]) -> bool:
    _SLOT[0] = data
    try:
        orjson.dumps(_CHAIN)
    except orjson.JSONEncodeError:  # what orjson raises past 254 levels (loads gave no other unwritable value)
        return True
    finally:
        _SLOT[0] = None
    return False


def _deep_path(data: dict[str, Any]) -> str:
    """The top-level field that nests too deep (only looked for in a rejected body)."""
    for key, member in data.items():
        if (type(member) is dict or type(member) is list) and _too_deep({key: member}):
            return key
    return "body"


def parse_chat(body: bytes, headers: dict[str, str], *, legacy: bool = False) -> ChatRequest:
    data = load_object(body)
    check_fields(COMPLETIONS if legacy else CHAT, data)
    model, models = _models(data)
    prompt = data.get("prompt")
    messages = data.get("messages")
    if legacy or (messages is None and prompt is not None):
        if prompt is None:
            raise bad("prompt", "required: a string")
        messages = [{"role": "user", "content": prompt if type(prompt) is str else prompt[0]}]
    elif messages is None:
        raise bad("messages", "required: a non-empty array of messages")
    params = {k: v for k, v in data.items() if k not in ROUTING_KEYS and k != "prompt"}
    plugins = data.get("plugins") or []
    if plugins:
        parse_plugins(plugins)  # a plugin that cannot be honoured is a 400 naming it, before anything runs
    return ChatRequest(
        model=model, messages=messages, stream=data.get("stream") or False, models=models,
        provider=_route(data), reasoning=_reasoning(data), params=params, legacy_prompt=legacy,
        headers={k: v for k, v in headers.items() if k in ATTRIBUTION}, plugins=plugins,
        session_id=data.get("session_id") or headers.get("x-session-id") or None,
        transforms=transforms(data),
    )


def transforms(data: dict[str, Any]) -> list[str] | None:
    """`transforms` (typed already), or OpenRouter's newer spelling of it, the `context-compression`
    plugin (`enabled: false` turns middle-out off). None leaves the default: middle-out on endpoints of
    8,192 tokens or less. Shared by every inbound API that accepts OpenRouter's extras."""
    found = data.get("transforms")
    if found is not None:
        return list(found)
    for plugin in data.get("plugins") or ():
        if isinstance(plugin, dict) and plugin.get("id") == "context-compression":
            return [] if plugin.get("enabled") is False else ["middle-out"]
    return None


def check_transforms(data: dict[str, Any]) -> None:
    """`transforms` on an API without a typed body: an array of known transform names."""
    found = data.get("transforms")
    if found is None:
        return
    if not isinstance(found, list):
        raise bad("transforms", f"must be an array of transform names ({', '.join(TRANSFORMS)})")
    for i, name in enumerate(found):
        if name not in TRANSFORMS:
            raise bad(f"transforms[{i}]", f"unknown transform {name!r}: must be {' or '.join(repr(t) for t in TRANSFORMS)}")


def _route(data: dict[str, Any]) -> dict[str, Any] | None:
    """The deprecated `route` is an alias for `provider.sort.partition` ("fallback" -> "model",
    "sort" -> "none"); a partition given in `provider.sort` wins."""
    provider, route = data.get("provider"), data.get("route")
    if route is None:
        return provider
    sort = (provider or {}).get("sort")
    if isinstance(sort, dict):
        if sort.get("partition") is not None:
            return provider
        sort = {**sort, "partition": _ROUTES[route]}
    elif isinstance(sort, str):
        sort = {"by": sort, "partition": _ROUTES[route]}
    elif sort is None:
        sort = {"partition": _ROUTES[route]}
    else:
        return provider  # a malformed sort is reported by the provider preferences
    return {**(provider or {}), "sort": sort}


_ROUTES = {"fallback": "model", "sort": "none"}


def parse_embeddings(body: bytes) -> EmbeddingRequest:
    data = load_object(body)
    check_fields(EMBEDDINGS, data)
    model = data.get("model")
    if model is None:
        raise bad("model", "required: an embedding model id such as openai/text-embedding-3-small")
    raw = data.get("input")
    if raw is None:
        raise bad("input", "required: a string, an array of strings, or token arrays (non-empty)")
    inputs: list[Any] = [raw] if type(raw) is str or type(raw[0]) is int else raw
    params = {k: v for k, v in data.items()
              if k not in ("model", "input", "encoding_format", "dimensions", "provider", "models")}
    return EmbeddingRequest(model=model, inputs=inputs, encoding_format=data.get("encoding_format") or "float",
                            dimensions=data.get("dimensions"), provider=data.get("provider"), params=params)


def _models(data: dict[str, Any]) -> tuple[str, list[str]]:
    """The model and the fallback models (both typed already)."""
    models = data.get("models") or []
    if len(models) > MAX_FALLBACK_MODELS:
        raise bad("models", f"'models' array must have {MAX_FALLBACK_MODELS} items or fewer.")
    model = data.get("model")
    if model is None and models:
        model = models[0]
    return model or "", models  # none: the configured default model (the engine says when there is none)


def _reasoning(data: dict[str, Any]) -> dict[str, Any] | None:
    """`reasoning`, with the `reasoning_effort` and `include_reasoning` aliases folded in (all typed already)."""
    reasoning = dict(data.get("reasoning") or {})
    effort = data.get("reasoning_effort")
    if effort is not None:
        if reasoning.get("effort") not in (None, effort):
            raise bad("reasoning_effort", "conflicts with reasoning.effort")
        reasoning["effort"] = effort
    if data.get("include_reasoning") is False:
        reasoning.setdefault("exclude", True)
    return reasoning or None
