"""Model aliases: names or globs a client may send -> model ids of the catalogue, and their checks at load.

An alias maps an exact name (`gpt-4o-mini`) or a glob (`google/*`, `claude-*`) to a model id, optionally
with a variant (`openai/gpt-4o-mini:nitro`). Exact names are looked up first, then globs in the order
written; the first match wins, and a match is applied once (a target is never aliased again, so
`google/*: google/gemini-2.5-flash` is not a loop). An alias is checked when the config is loaded: its
target must be a model of the catalogue (bundled or configured), so a typo is a config error, not a 400
on the first request that uses it."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from fnmatch import fnmatchcase
from typing import Any

AUTO_MODEL = "switchpoint/auto"  # the router model: a valid target although it is not in the catalogue


def is_glob(pattern: str) -> bool:
    return any(c in pattern for c in "*?[")


class AliasTable:
    """`lookup(name)`: the target of the first alias matching `name`, or None."""

    __slots__ = ("exact", "globs")

    def __init__(self, aliases: Mapping[str, str]) -> None:
        self.exact = {k: v for k, v in aliases.items() if not is_glob(k)}
        self.globs = [(k, v) for k, v in aliases.items() if is_glob(k)]

    def __bool__(self) -> bool:
        return bool(self.exact or self.globs)

    def lookup(self, name: str) -> str | None:
        target = self.exact.get(name)
        if target is not None:
            return target
        for pattern, target in self.globs:
            if fnmatchcase(name, pattern):
                return target
        return None


def alias_problems(models: Iterable[Any], aliases: Any, default_model: Any, messages_aliases: Any) -> list[str]:
    """Config lines ("path: message") for aliases and a default model that name no catalogue model."""
    from .catalogue import VARIANTS, bundled_models

    known = {m.id for m in bundled_models()}
    for m in models:
        mid = m.get("id") if isinstance(m, dict) else getattr(m, "id", None)
        if isinstance(mid, str):
            known.add(mid)

    def exists(target: str) -> bool:
        if target in known or target == AUTO_MODEL:
            return True
        base, _, variant = target.rpartition(":")
        return bool(base) and variant in VARIANTS and base in known

    problems: list[str] = []
    for path, table in (("aliases", aliases), ("messages.model_aliases", messages_aliases)):
        if not isinstance(table, dict):
            continue
        for name, target in table.items():
            if not isinstance(target, str) or not target:
                problems.append(f"{path}.{name}: must be a model id")
            elif not exists(target):
                problems.append(f"{path}.{name}: '{target}' is not a model of the catalogue "
                                "(add it under models:, or alias to an existing id)")
    if isinstance(default_model, str) and default_model:
        table = AliasTable(aliases if isinstance(aliases, dict) else {})
        target = table.lookup(default_model) or default_model
        if not exists(target):
            problems.append(f"default_model: '{default_model}' is not a model of the catalogue or an alias")
    return problems
