"""The provider types switchpoint.yaml may name, each with the model of its own settings.

A provider type declares its settings itself (an `Options` model on its class in providers/) and
providers/registry.py is the one list of types. Config sits below providers in the layers, so it
cannot import that list; instead it holds this table, which the registry fills from its own dict
when it is imported, and `load_config` consults it. Entry points that load a config (the CLI, the
server, the test harness) import the registry first; an empty table is a programming error and
raises rather than letting any `type` through.

In switchpoint.yaml a type's own settings sit beside the common ones (`api_version` next to
`base_url` for azure), as they always have. `split_options` moves them under the provider's
`options` and validates them with the type's model, reporting problems with their field paths."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ValidationError

_TYPES: dict[str, type[BaseModel]] = {}


def register_provider_types(types: Mapping[str, type[BaseModel]]) -> None:
    """Called by providers/registry.py: type name -> the model of that type's own settings."""
    _TYPES.update(types)


def provider_types() -> Mapping[str, type[BaseModel]]:
    if not _TYPES:
        raise RuntimeError("no provider types are registered: import switchpoint.providers.registry "
                           "before loading a config")
    return _TYPES


def split_options(name: str, raw: dict[str, Any], common: frozenset[str]) -> list[tuple[str, str]]:
    """Move the settings of `providers.<name>` that are not `common` under `options`, validated by
    the type's model (in place, as dumped by it: only what was written). Returns the problems."""
    path = f"providers.{name}"
    own = {key: raw.pop(key) for key in list(raw) if key not in common}
    kind = raw.get("type")
    if not isinstance(kind, str):
        return []  # missing or not a string: the schema reports it
    types = provider_types()
    if kind not in types:
        return [(f"{path}.type", f"unknown provider type '{kind}' (known: {', '.join(sorted(types))})")]
    try:
        raw["options"] = types[kind].model_validate(own).model_dump(exclude_unset=True)
    except ValidationError as exc:
        return [(path + "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in err["loc"]),
                 "unknown setting" if err["type"] == "extra_forbidden" else err["msg"].removeprefix("Value error, "))
                for err in exc.errors()]
    return []


__all__ = ["provider_types", "register_provider_types", "split_options"]
