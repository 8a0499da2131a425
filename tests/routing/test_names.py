"""Model names -> (catalogue model, variant): default model, aliases and globs, bare provider ids, the
`openrouter/` prefix, and variants known and unknown. Pure table tests."""

from __future__ import annotations

import pytest

from switchpoint.config.catalogue import Catalogue
from switchpoint.errors import BadRequestError
from switchpoint.routing.names import ModelResolver

from .support import endpoint, model

CATALOGUE = Catalogue({m.id: m for m in (
    model("openai/gpt-4o-mini", endpoint("openai")),
    model("google/gemini-2.5-flash", endpoint("gemini")),
    model("google/gemini-2.5-pro", endpoint("gemini")),
    model("anthropic/claude-3-haiku", endpoint("anthropic")),
    model("vendor/llama", endpoint("groq")),
    model("other/llama", endpoint("groq")),
    model("vendor/qwen", endpoint("groq")),
    model("dormant/qwen"),                       # listed, no configured endpoint
    model("vendor/tagged:70b", endpoint("groq")),  # a colon that is part of the id
)})
ALIASES = {"mini": "openai/gpt-4o-mini", "google/*": "google/gemini-2.5-flash", "fast": "vendor/llama:nitro",
           "claude-*": "anthropic/claude-3-haiku"}
NAMES = ModelResolver(CATALOGUE, ALIASES, default_model="mini")


def resolved(name: str) -> tuple[str, str | None]:
    found, variant = NAMES.lookup(NAMES.name(name))
    return found.id, variant


@pytest.mark.parametrize(("name", "expected"), [
    ("openai/gpt-4o-mini", ("openai/gpt-4o-mini", None)),
    ("", ("openai/gpt-4o-mini", None)),                              # default_model, through its alias
    ("mini", ("openai/gpt-4o-mini", None)),                          # exact alias
    ("mini:floor", ("openai/gpt-4o-mini", "floor")),                 # an alias keeps the variant asked for
    ("google/gemini-2.5-pro", ("google/gemini-2.5-flash", None)),    # a glob wins over the catalogue id
    ("google/anything", ("google/gemini-2.5-flash", None)),
    ("fast", ("vendor/llama", "nitro")),                             # a target may carry a variant
    ("claude-3-5-sonnet-latest", ("anthropic/claude-3-haiku", None)),
    ("gpt-4o-mini", ("openai/gpt-4o-mini", None)),                   # bare provider id, one match
    ("gpt-4o-mini:nitro", ("openai/gpt-4o-mini", "nitro")),
    ("qwen", ("vendor/qwen", None)),                                 # two matches, one servable
    ("openrouter/anthropic/claude-3-haiku", ("anthropic/claude-3-haiku", None)),
    ("openrouter/openai/gpt-4o-mini:free", ("openai/gpt-4o-mini", "free")),
    ("openrouter/gpt-4o-mini", ("openai/gpt-4o-mini", None)),
    ("vendor/tagged:70b", ("vendor/tagged:70b", None)),
    ("vendor/llama:thinking", ("vendor/llama", "thinking")),
    ("vendor/llama:extended", ("vendor/llama", "extended")),
    ("vendor/llama:exacto", ("vendor/llama", "exacto")),
    ("vendor/llama:online", ("vendor/llama", "online")),
    ("vendor/llama:free:online", ("vendor/llama", "free")),            # web search on top of a variant
    ("fast:online", ("vendor/llama", "nitro")),
])
def test_names_resolve(name: str, expected: tuple[str, str | None]) -> None:
    assert resolved(name) == expected


@pytest.mark.parametrize(("name", "message", "metadata"), [
    ("vendor/llama:bogus", "vendor/llama:bogus: unknown model variant ':bogus'",
     {"param": "model", "variant": "bogus"}),
    ("llama", "llama is ambiguous: it may be other/llama, vendor/llama; send the full id",
     {"candidates": ["other/llama", "vendor/llama"]}),
    ("vendor/nope", "vendor/nope is not a valid model ID", {"model": "vendor/nope"}),
    ("nope:free", "nope:free is not a valid model ID", {"model": "nope:free"}),
    ("openrouter/vendor/nope", "openrouter/vendor/nope is not a valid model ID", {}),
])
def test_bad_names_are_400s_that_say_why(name: str, message: str, metadata: dict[str, object]) -> None:
    with pytest.raises(BadRequestError) as caught:
        resolved(name)
    assert caught.value.message.startswith(message)
    assert metadata.items() <= caught.value.metadata.items()


def test_without_a_default_model_a_missing_model_is_a_400_naming_the_field() -> None:
    with pytest.raises(BadRequestError) as caught:
        ModelResolver(CATALOGUE).name("")
    assert caught.value.metadata == {"param": "model"}
    assert "default_model" in caught.value.message


def test_an_alias_is_applied_once() -> None:
    names = ModelResolver(CATALOGUE, {"google/*": "google/gemini-2.5-flash", "a": "b/c", "b/*": "vendor/llama"})
    assert names.name("google/gemini-2.5-flash") == "google/gemini-2.5-flash"
    assert names.name("a") == "b/c"  # not chained on to vendor/llama
