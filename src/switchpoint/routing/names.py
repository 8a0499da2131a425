"""Model names a client sends -> (catalogue model, variant). Pure: built once per catalogue.

In order:
1. no model: `default_model` (else a 400 naming `model`);
2. the operator's `aliases` (config/aliases.py), exact then globs, applied once; a name with a variant
   suffix whose base is aliased keeps its variant (`fast:nitro` -> `vendor/model:nitro`);
3. a catalogue id, with an optional variant suffix (`vendor/model:free`); a suffix that is not a variant
   is a 400 naming it, unless the whole id is a model;
4. the `openrouter/` prefix LiteLLM-style clients send (`openrouter/anthropic/claude-3-haiku`);
5. a bare provider id (`gpt-4o-mini`) when exactly one catalogue model has that name after its slash
   (among several, the one that has endpoints); several: a 400 listing them.
Anything else is `<id> is not a valid model ID` (400), as OpenRouter answers."""

from __future__ import annotations

from collections.abc import Mapping

from ..config.aliases import AliasTable
from ..config.catalogue import VARIANTS, Catalogue, Model
from ..errors import BadRequestError

OPENROUTER_PREFIX = "openrouter/"
ONLINE = "online"  # web search (the web plugin), combinable with another variant


class ModelResolver:
    def __init__(self, catalogue: Catalogue, aliases: Mapping[str, str] | None = None,
                 default_model: str | None = None) -> None:
        self.catalogue = catalogue
        self.aliases = AliasTable(aliases or {})
        self.default_model = default_model
        self._bare: dict[str, list[str]] = {}
        for model_id in catalogue.models:
            self._bare.setdefault(model_id.rpartition("/")[2], []).append(model_id)

    def name(self, requested: str) -> str:
        """The default model for an empty name, else the alias target (with the name's variant), else
        the name as given."""
        if not requested:
            if not self.default_model:
                raise BadRequestError("model: required (no default_model is configured)",
                                      metadata={"param": "model"})
            requested = self.default_model
        return self.alias(requested) or requested

    def alias(self, requested: str) -> str | None:
        """The target of the alias `requested` matches (keeping its variant suffix), or None."""
        if not self.aliases:
            return None
        target = self.aliases.lookup(requested)
        if target is not None:
            return target
        base, sep, variant = requested.rpartition(":")
        if sep and variant in VARIANTS:
            target = self.aliases.lookup(base)
            if target is not None and (variant == ONLINE or ":" not in target.rpartition("/")[2]):
                return f"{target}:{variant}"
        return None

    def lookup(self, name: str) -> tuple[Model, str | None]:
        """The catalogue model and variant a (de-aliased) name stands for."""
        model = self.catalogue.models.get(name)
        if model is not None:
            return model, None
        base, sep, variant = name.rpartition(":")
        if sep and variant == ONLINE and ":" in base.rpartition("/")[2] and base not in self.catalogue.models:
            return self.lookup(base)  # `vendor/model:free:online`: web search on top of another variant
        if sep and "/" not in variant:
            model = self._find(base)
            if model is not None:
                if variant not in VARIANTS:
                    raise BadRequestError(
                        f"{name}: unknown model variant ':{variant}' (variants: "
                        f"{', '.join(':' + v for v in VARIANTS)})",
                        metadata={"param": "model", "model": name, "variant": variant})
                return model, variant
        model = self._find(name)
        if model is None:
            raise BadRequestError(f"{name} is not a valid model ID", metadata={"model": name})
        return model, None

    def _find(self, name: str) -> Model | None:
        model = self.catalogue.models.get(name)
        if model is not None:
            return model
        if name.startswith(OPENROUTER_PREFIX):
            return self._find(name.removeprefix(OPENROUTER_PREFIX))
        if "/" in name:
            return None
        ids = self._bare.get(name)
        if not ids:
            return None
        if len(ids) > 1:
            servable = [i for i in ids if self.catalogue.models[i].endpoints]
            if len(servable) != 1:
                choices = servable or ids
                raise BadRequestError(f"{name} is ambiguous: it may be {', '.join(sorted(choices))}; "
                                      "send the full id", metadata={"model": name, "candidates": sorted(choices)})
            ids = servable
        return self.catalogue.models[ids[0]]

    def canonical(self, requested: str) -> str | None:
        """The catalogue id `requested` stands for (aliases, bare and prefixed ids), or None. For listings
        and the Messages API's own naming; never raises."""
        try:
            model, _ = self.lookup(self.name(requested))
        except BadRequestError:
            return None
        return model.id
