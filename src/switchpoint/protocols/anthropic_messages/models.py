"""Model names a Messages client sends -> catalogue model ids.

Tried in order: the operator's aliases for this API (`messages.model_aliases`: an exact id or a glob
such as `claude-*`, first match wins), then the top-level `aliases` every API shares, a catalogue id as given (`anthropic/claude-sonnet-4.5`), then Anthropic's
own ids, dated or not: `claude-sonnet-4-5-20250929`, `claude-sonnet-4-5`, `claude-3-5-haiku-latest` ->
`anthropic/claude-sonnet-4.5`, `anthropic/claude-3.5-haiku` (version digits joined by a dot), or the
catalogue model one of whose endpoints serves that provider model name. Anything else is returned as
given, so the engine reports it as an unknown model."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from fnmatch import fnmatchcase

_DATE = re.compile(r"-(\d{8}|latest)$")
_VERSION = re.compile(r"-(\d+)-(\d{1,2})(?=-|$)")


class ModelNames:
    """Resolves model names; `known(id)` says whether the catalogue has an id, `served` maps a provider
    model name (e.g. `claude-sonnet-4-5`) to the catalogue id one of whose endpoints serves it."""

    def __init__(self, aliases: Mapping[str, str], known: Callable[[str], bool], served: Mapping[str, str],
                 shared: Callable[[str], str | None] | None = None) -> None:
        self.exact = {k: v for k, v in aliases.items() if not _is_glob(k)}
        self.globs = [(k, v) for k, v in aliases.items() if _is_glob(k)]
        self.known = known
        self.served = served
        self.shared = shared  # the top-level aliases: name -> target, or None

    def resolve(self, name: str) -> str:
        target = self.exact.get(name)
        if target is None:
            target = next((v for k, v in self.globs if fnmatchcase(name, k)), None)
        if target is None and self.shared is not None:
            target = self.shared(name)
        if target is not None:
            return target
        if self.known(name):
            return name
        for candidate in anthropic_candidates(name):
            if self.known(candidate):
                return candidate
        bare = name.removeprefix("anthropic/")
        return self.served.get(bare) or self.served.get(_DATE.sub("", bare)) or name


def anthropic_candidates(name: str) -> list[str]:
    """Catalogue ids an Anthropic model id may stand for, most specific first."""
    bare = name.removeprefix("anthropic/")
    if not bare.startswith("claude"):
        return []
    undated = _DATE.sub("", bare)
    dotted = _VERSION.sub(r"-\1.\2", undated)
    return list(dict.fromkeys(f"anthropic/{n}" for n in (bare, dotted, undated)))


def served_names(models: Iterable[tuple[str, Iterable[tuple[str, str]]]]) -> dict[str, str]:
    """(model id, [(provider type, provider model name)]) -> {Anthropic model name: model id}."""
    out: dict[str, str] = {}
    for model_id, endpoints in models:
        for provider_type, upstream in endpoints:
            if provider_type == "anthropic":
                out.setdefault(upstream, model_id)
    return out


def _is_glob(pattern: str) -> bool:
    return any(c in pattern for c in "*?[")
