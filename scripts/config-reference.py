"""Print docs/reference.md: every setting of switchpoint.yaml and every environment variable, made from
the config schema itself (src/switchpoint/config/schema.py), each provider type's own settings
(providers/registry.py) and the loader's environment tables (config/load.py).

    make reference        (python scripts/config-reference.py > docs/reference.md)

tests/config/test_reference.py fails when the committed page and the schema disagree, so a new
setting is documented by giving its Field a `description` and running `make reference`. Settings
whose Field has no description take their meaning from NOTES below."""

from __future__ import annotations

import enum
import json
import types
import typing
from typing import Any

from pydantic import BaseModel
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

from switchpoint.config import load
from switchpoint.config.schema import Config
from switchpoint.providers.registry import PROVIDER_TYPES

# Meanings of settings whose Field carries no description (a Field's own description wins).
NOTES = {
    "listen": "`host:port` to serve on (`serve --host/--port` override it)",
    "database": "`sqlite:///path` (a relative path is beside the config file) or `postgresql://user@host:5432/db` "
                "for a cluster",
    "state": "`memory` (in-process, shared by `--workers`) or `redis://host:port/db` for counters shared by "
             "replicas",
    "state_failure": "when Redis is unreachable: `closed` answers 503, `open` falls back to each process's own "
                     "counters",
    "admin_key": "the management key: provisioning API, admin pages, dashboard",
    "providers": "the providers, each under a name you choose (the `provider` of endpoints, in the ledger)",
    "free_models": "limits of `:free` models (and endpoints priced at zero), as OpenRouter applies them",
    "providers.<name>.base_url": "where it is reached (defaults per type: openai, anthropic, gemini, ollama, "
                                 "openrouter)",
    "providers.<name>.api_key": "its credential",
    "providers.<name>.headers": "extra headers sent upstream (e.g. `HTTP-Referer` for OpenRouter)",
    "providers.<name>.data_collection": "`deny` marks its endpoints as not retaining data",
    "models[].id": "public id, `vendor/model`",
    "models[].name": "display name",
    "models[].endpoints[].provider": "a configured provider's name",
    "models[].endpoints[].model": "the provider's own name for the model",
    "models[].endpoints[].pricing.prompt": "USD per prompt token, as a string",
    "models[].endpoints[].pricing.completion": "USD per completion token, as a string",
    "models[].endpoints[].pricing.request": "USD per request",
    "models[].endpoints[].pricing.image": "USD per input image",
    "models[].endpoints[].pricing.input_cache_read": "USD per cached prompt token read",
    "models[].endpoints[].pricing.input_cache_write": "USD per prompt token written to the cache",
    "keys[].name": "the key's name (unique)",
    "keys[].key": "the key itself (at least 16 characters; usually `${VAR}`)",
    "keys[].limit": "USD the key may spend; null for no limit",
    "keys[].limit_reset": "when the limit starts again: `daily`, `weekly`, `monthly`, or null (never)",
    "keys[].rate_limit.requests": "requests allowed per interval",
    "keys[].rate_limit.interval": "the window, in seconds or like `1m`",
    "keys[].token_limit.tokens": "tokens allowed per interval",
    "keys[].token_limit.interval": "the window, in seconds or like `1m`",
    "keys[].cache": "serve repeated identical requests from the response cache",
    "keys[].user_rate_limit.requests": "requests each end user (the requests' `user`) may make per interval",
    "keys[].user_rate_limit.interval": "the window, in seconds or like `1m`",
    "server.max_body_bytes": "largest request body accepted; 413 past it",
    "server.ledger_flush_interval": "seconds between the ledger writer's batches",
    "server.ledger_batch_size": "rows written per batch at most",
    "server.login_window": "seconds over which failed dashboard logins are counted",
    "routing.retry.base_delay": "seconds: the first retry's backoff bound, doubling each try (full jitter)",
    "routing.retry.max_delay": "seconds: the longest backoff; a longer Retry-After moves to the next endpoint",
    "routing.breaker.consecutive_failures": "failures in a row that open an endpoint's circuit",
    "routing.breaker.error_rate": "share of failed attempts in the window that opens it",
    "routing.breaker.min_requests": "attempts in the window before the error rate counts",
    "routing.breaker.window": "seconds of attempts the error rate looks at",
    "routing.breaker.cooldown": "seconds open before one probe request is let through",
    "routing.hedge.models": "model ids (or globs) whose streams are hedged",
    "routing.hedge.models.<model>.after_ms": "fixed delay before the second endpoint starts, instead of the "
                                             "observed p95",
    "routing.hedge.min_delay_ms": "never hedge sooner than this",
    "routing.hedge.default_delay_ms": "delay until `min_samples` streams were measured",
    "routing.hedge.min_samples": "streams measured before the observed p95 is used",
    "auto.enabled": "serve the `switchpoint/auto` model",
    "auto.tiers.<tier>.models": "the tier's models, in order (model fallback); tiers: simple, standard, "
                                "complex, reasoning",
    "telemetry.service_name": "the service name on traces",
    "free_models.requests_per_minute": "requests per minute a key may make to `:free` models",
    "free_models.requests_per_day": "requests per day a key may make to `:free` models",
    "models": "models merged over the bundled catalogue: the same id replaces an entry, a new id extends it",
    "models[].description": "shown in `/api/v1/models`",
    "models[].context_length": "tokens of context (for every endpoint without its own)",
    "models[].max_completion_tokens": "largest output (for every endpoint without its own)",
    "models[].input_modalities": "`text`, `image`, `file`, `audio`",
    "models[].output_modalities": "`text`, `image`, or `embeddings` for an embedding model",
    "models[].supported_parameters": "request parameters the model accepts (OpenRouter's list)",
    "models[].tokenizer": "shown in `/api/v1/models` (`architecture.tokenizer`)",
    "models[].created": "Unix time shown in `/api/v1/models`",
    "models[].hugging_face_id": "shown in `/api/v1/models`",
    "models[].endpoints": "the providers that serve the model, each with its own name and price",
    "models[].endpoints[].context_length": "this endpoint's context, when it differs from the model's",
    "models[].endpoints[].max_completion_tokens": "this endpoint's largest output",
    "models[].endpoints[].supported_parameters": "this endpoint's parameters, when they differ from the model's",
    "models[].endpoints[].data_collection": "overrides the provider's `data_collection` for this endpoint",
    "models[].endpoints[].quantization": "shown in the model's endpoints (`fp8`, `int4`, ...) and matched by "
                                         "`provider.quantizations`",
    "keys": "static keys (the provisioning API and `switchpoint keys create` add more)",
    "auto.tiers": "the tiers' models; a tier left out borrows the nearest configured one",
}

# Settings an environment variable provides, beyond ENV_SETTINGS and PROXY_VARS of config/load.py.
ENV_NOTES = {
    "providers": "with no `providers:` in the config, one provider per key variable that is set: "
                 + ", ".join(f"`{var}`" for _, _, var in load.ENV_PROVIDERS.values())
                 + "; and `ollama` at `OLLAMA_HOST` (default `127.0.0.1:11434`)",
}

SKIP = {"warnings", "providers.<name>.options"}  # internal


def annotation_args(annotation: Any) -> tuple[Any, ...]:
    return typing.get_args(annotation)


def without_none(annotation: Any) -> tuple[Any, bool]:
    """The annotation with None removed from a union, and whether None was allowed."""
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        rest = [arg for arg in annotation_args(annotation) if arg is not type(None)]
        inner = rest[0] if len(rest) == 1 else typing.Union[tuple(rest)]  # noqa: UP007
        return inner, len(rest) != len(annotation_args(annotation))
    return annotation, False


def model_in(annotation: Any) -> type[BaseModel] | None:
    inner, _ = without_none(annotation)
    return inner if isinstance(inner, type) and issubclass(inner, BaseModel) else None


def type_name(annotation: Any) -> str:
    inner, optional = without_none(annotation)
    origin = typing.get_origin(inner)
    if origin is typing.Literal:
        name = " \\| ".join(f"`{value}`" for value in annotation_args(inner))
    elif origin in (typing.Union, types.UnionType):
        name = " or ".join(type_name(arg) for arg in annotation_args(inner))
    elif origin is list:
        name = f"list of {type_name(annotation_args(inner)[0])}"
    elif origin is dict:
        name = f"map of {type_name(annotation_args(inner)[1])}"
    elif isinstance(inner, type) and issubclass(inner, BaseModel):
        name = "mapping"
    elif isinstance(inner, type) and issubclass(inner, enum.Enum):
        name = " \\| ".join(f"`{member.value}`" for member in inner)
    else:
        name = {str: "string", int: "integer", float: "number", bool: "boolean"}.get(inner, str(inner))
    return f"{name} or null" if optional else name


def kind_of(field: FieldInfo) -> str:
    """The type, with its bounds (`integer, > 0`)."""
    bounds = constraints(field)
    return f"{type_name(field.annotation)}, {bounds}" if bounds else type_name(field.annotation)


def constraints(field: FieldInfo) -> str:
    symbols = {"gt": ">", "ge": "≥", "lt": "<", "le": "≤", "min_length": "length ≥", "max_length": "length ≤"}
    found = []
    for item in field.metadata:
        for attribute, symbol in symbols.items():
            value = getattr(item, attribute, None)
            if value is not None:
                found.append(f"{symbol} {value}")
    return ", ".join(found)


def default_of(field: FieldInfo) -> str:
    if field.is_required():
        return "required"
    value = field.default_factory() if field.default_factory is not None else field.default  # type: ignore[call-arg]
    if value is PydanticUndefined:
        return ""
    if isinstance(value, BaseModel):
        return ""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict | list):
        return f"`{json.dumps(value)}`"
    if value == "":
        return '`""`'
    if isinstance(value, int | float) and not isinstance(value, bool) and abs(value) >= 1024 * 1024:
        return f"{value:,}"
    return f"`{value}`" if isinstance(value, str) else str(value)


def key_name(path: str, annotation: Any) -> str:
    """The placeholder for a map's keys: <name> for providers, <tier>, <model>, <key>."""
    key = annotation_args(without_none(annotation)[0])[0]
    if typing.get_origin(key) is typing.Literal:
        return "<tier>"
    return {"providers": "<name>", "routing.hedge.models": "<model>"}.get(path, "<key>")


def rows(model: type[BaseModel], prefix: str = "") -> list[tuple[str, str, str, str]]:
    """(setting, type, default, meaning) for every field of `model`, nested models expanded."""
    out = []
    for name, field in model.model_fields.items():
        path = f"{prefix}{name}"
        if path in SKIP:
            continue
        annotation = field.annotation
        inner, _ = without_none(annotation)
        origin = typing.get_origin(inner)
        meaning = field.description or NOTES.get(path, "")
        nested = model_in(annotation)
        if nested is not None:
            doc = (nested.__doc__ or "").strip()
            if field.description or path in NOTES or (doc and nested.__doc__ != BaseModel.__doc__):
                out.append((path, type_name(annotation), default_of(field), meaning or first_sentence(doc)))
            out += rows(nested, f"{path}.")
            continue
        element = annotation_args(inner)[-1] if origin in (list, dict) else None
        element_model = model_in(element) if element is not None else None
        out.append((path, kind_of(field), default_of(field), meaning))
        if element_model is not None:
            below = f"{path}[]." if origin is list else f"{path}.{key_name(path, inner)}."
            out += rows(element_model, below)
    return out


def first_sentence(doc: str) -> str:
    text = " ".join(doc.split())
    end = text.find(". ")
    return text if end < 0 else text[:end + 1]


def provider_type_rows() -> list[tuple[str, str, str, str]]:
    out = []
    for type_, cls in sorted(PROVIDER_TYPES.items()):
        for path, kind, default, meaning in rows(cls.Options, "providers.<name>."):
            out.append((path, kind, default, f"`{type_}` only: {meaning}"))
    return out


def environment() -> dict[str, str]:
    """setting -> its environment variables, as the loader reads them."""
    env = {key: f"`{var}`" for key, var in load.ENV_SETTINGS.items()}
    for key, names in load.PROXY_VARS.items():
        env[f"proxy.{key}"] = ", ".join(f"`{name}`" for name in names)
    return env


def cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ") if "\\|" not in text else text.replace("\n", " ")


def main() -> None:
    env = environment()
    table = rows(Config)
    position = next(i for i, row in enumerate(table) if row[0].startswith("models"))  # after providers.*
    table[position:position] = provider_type_rows()
    print("""# Configuration reference

<!-- Generated by scripts/config-reference.py from src/switchpoint/config/schema.py: do not edit by
hand; run `make reference`. tests/config/test_reference.py checks it matches the schema. -->

Every setting of `switchpoint.yaml`, its type, its default and the environment variable that gives
it when the file does not. For what the settings do together, see the [README](../README.md#configuration)
and the page of each area ([routing](routing.md), [accounting](accounting.md), [cluster](cluster.md),
[deployment](deployment.md)).

## Where the configuration comes from

- **The file**: `--config PATH`, else `$SWITCHPOINT_CONFIG`, else `./switchpoint.yaml`; with none, the
  defaults below (and providers from the environment, below) apply. `switchpoint config check`
  prints every problem with its field path and exits 1.
- **`${VAR}` and `${VAR:-default}`** are expanded from the environment anywhere in the file (inside
  flow mappings too). A variable that is unset, with no default, is an error naming it, except in a
  provider that no configured model routes to: that provider is skipped with a warning. A value that
  is only a variable keeps its YAML type after expansion (`${PORT}` -> a number).
- **Environment variables** give the settings in the table's last column when the file does not set
  them (the file wins). There is no general override of every setting: the rest are set in the file,
  with `${VAR}` where a value should come from the environment.
- **A `.env` file** in the working folder is read by the `switchpoint` command: its `KEY=value` lines
  are added to the environment where a variable is unset or empty.

## Environment variables

| variable | used for |
|---|---|
| `SWITCHPOINT_CONFIG` | the config file's path, when `--config` is not given |""")
    for key, var in load.ENV_SETTINGS.items():
        print(f"| `{var}` | `{key}`, when the file does not set it |")
    for key, names in load.PROXY_VARS.items():
        print(f"| {', '.join(f'`{name}`' for name in names)} | `proxy.{key}` (the first that is set), when the file "
              "does not set it |")
    for _, (_, _, var) in sorted(load.ENV_PROVIDERS.items(), key=lambda item: item[1][2]):
        print(f"| `{var}` | with no `providers:` in the file, enables the provider of that name |")
    print("| `OLLAMA_HOST` | with no `providers:` in the file, where the `ollama` provider is reached (default "
          "`127.0.0.1:11434`) |")
    print("| `SWITCHPOINT_LOG_LEVEL` | `serve`'s log level (default `INFO`) |")
    print("| `SWITCHPOINT_URL`, `SWITCHPOINT_API_KEY` | the gateway and key that `switchpoint query`, `chat`, "
          "`compare` and `status` use (default `http://127.0.0.1:8080`) |")
    print("| `SWITCHPOINT_ADMIN_KEY` | also the admin key `switchpoint status` sends to read circuit states |")
    print("""
## Settings

`<name>` is a name you choose (a provider's), `[]` an item of a list. Durations marked as seconds
also take strings such as `30s`, `1m`, `500ms` where the type says so.

| setting | type | default | environment | meaning |
|---|---|---|---|---|""")
    for path, kind, default, meaning in table:
        variables = env.get(path, "")
        if path in ENV_NOTES:
            meaning = f"{meaning}; {ENV_NOTES[path]}" if meaning else ENV_NOTES[path]
        print(f"| `{path}` | {cell(kind)} | {default} | {variables} | {cell(meaning)} |")


if __name__ == "__main__":
    main()
