"""`switchpoint/auto`: a transparent router model. It reads the prompt, picks a tier (cheap fast
models for simple prompts, strong ones for long, code-heavy or reasoning prompts) and serves the
tier's models in order, as a `models` fallback list. Pure: the classification is a function of the
request and the thresholds, table-tested."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from ..config.catalogue import Catalogue
from ..config.schema import Config
from ..types import ChatRequest

AUTO_MODEL = "switchpoint/auto"
TIERS = ("simple", "standard", "complex", "reasoning")
# Where a tier that has no models borrows from, nearest first.
_BORROW = {
    "simple": ("standard", "complex", "reasoning"),
    "standard": ("complex", "simple", "reasoning"),
    "complex": ("reasoning", "standard", "simple"),
    "reasoning": ("complex", "standard", "simple"),
}
SCAN_CHARS = 20_000  # text looked at for code and reasoning cues (bounds the cost on huge prompts)
CHARS_PER_TOKEN = 4

_CODE_LINE = re.compile(
    r"^(?:\s{4,}\S|\t|\s*(?:def |class |import |from \S+ import|function\b|const |let |var |return\b|"
    r"#include|public |private |fn |func |package |SELECT\b|INSERT\b|UPDATE\b|CREATE\b)|.*(?:[;{}]|=>|\):)\s*$)",
    re.MULTILINE)
_FENCE = re.compile(r"```")
_REASONING = re.compile(
    r"\b(prove|proof|theorem|lemma|derive|derivation|step[- ]by[- ]step|think (?:carefully|hard)|"
    r"reason(?:ing)? through|formally|rigorous(?:ly)?|optimal (?:strategy|solution)|"
    r"time complexity|integral|differential equation|puzzle|riddle)\b",
    re.IGNORECASE)
_LIGHT_EFFORTS = frozenset({"none", "minimal", "low"})


@dataclass(frozen=True, slots=True)
class Thresholds:
    short_prompt_tokens: int = 300
    long_prompt_tokens: int = 6000
    code_lines: int = 6


@dataclass(frozen=True, slots=True)
class Features:
    prompt_tokens: int = 0
    messages: int = 1
    code_lines: int = 0
    reasoning_cue: str | None = None
    reasoning_requested: bool = False
    tools: bool = False
    media: bool = False


@dataclass(frozen=True, slots=True)
class AutoChoice:
    tier: str
    reason: str
    models: tuple[str, ...]

    def describe(self, served_model: str | None) -> dict[str, Any]:
        """The `router` object of the response and the generation."""
        return {"router": AUTO_MODEL, "model": served_model, "tier": self.tier, "reason": self.reason}


def features(request: ChatRequest) -> Features:
    chars = 0
    media = False
    texts: list[str] = []
    last_user = ""
    for message in request.messages:
        content = message.get("content")
        text = ""
        if isinstance(content, str):
            text = content
        elif isinstance(content, list):
            text = " ".join(p.get("text", "") for p in content if isinstance(p, dict) and p.get("type") == "text")
            media = media or any(isinstance(p, dict) and p.get("type") != "text" for p in content)
        chars += len(text)
        texts.append(text)
        if message.get("role") == "user":
            last_user = text
    scanned = "\n".join(texts)[-SCAN_CHARS:]
    fenced = len(_FENCE.findall(scanned)) >= 2
    code = len(_CODE_LINE.findall(scanned))
    cue = _REASONING.search(last_user[-SCAN_CHARS:])
    reasoning = request.reasoning or {}
    requested = bool(reasoning) and not reasoning.get("exclude") and (
        reasoning.get("enabled") is True or bool(reasoning.get("max_tokens"))
        or (reasoning.get("effort") is not None and reasoning["effort"] not in _LIGHT_EFFORTS))
    return Features(prompt_tokens=chars // CHARS_PER_TOKEN, messages=len(request.messages),
                    code_lines=code + (2 if fenced else 0), reasoning_cue=cue.group(1).lower() if cue else None,
                    reasoning_requested=requested, tools=bool(request.tools), media=media)


def classify(f: Features, t: Thresholds) -> tuple[str, str]:
    """(tier, reason): the first rule that matches wins."""
    if f.reasoning_requested:
        return "reasoning", "reasoning was requested"
    if f.reasoning_cue:
        return "reasoning", f"the prompt asks for reasoning ('{f.reasoning_cue}')"
    if f.code_lines >= t.code_lines:
        return "complex", f"code-heavy prompt ({f.code_lines} code lines)"
    if f.prompt_tokens >= t.long_prompt_tokens:
        return "complex", f"long prompt (~{f.prompt_tokens} tokens)"
    if f.tools:
        return "standard", "tool use"
    if f.media:
        return "standard", "image or file input"
    if f.prompt_tokens <= t.short_prompt_tokens and f.messages <= 4:
        return "simple", f"short prompt (~{f.prompt_tokens} tokens)"
    if f.prompt_tokens <= t.short_prompt_tokens:
        return "standard", f"multi-turn conversation ({f.messages} messages)"
    return "standard", f"medium prompt (~{f.prompt_tokens} tokens)"


@dataclass(frozen=True, slots=True)
class ModelInfo:
    """What the default tiers are derived from: a servable chat model and its cheapest price."""

    id: str
    price: float
    reasoning: bool


def default_tiers(models: list[ModelInfo], per_tier: int = 2) -> dict[str, tuple[str, ...]]:
    """Tiers from the catalogue when the config names none: the cheapest models are `simple`, the
    dearest `complex`, the middle `standard`; `reasoning` is the dearest models that accept a
    reasoning setting (else `complex`)."""
    if not models:
        return {}
    ranked = sorted(models, key=lambda m: (m.price, m.id))
    ids = [m.id for m in ranked]
    middle = max(0, len(ids) // 2 - per_tier // 2)
    complex_ = tuple(reversed(ids[-per_tier:]))
    thinkers = [m.id for m in ranked if m.reasoning]
    return {
        "simple": tuple(ids[:per_tier]),
        "standard": tuple(ids[middle:middle + per_tier]),
        "complex": complex_,
        "reasoning": tuple(reversed(thinkers[-per_tier:])) or complex_,
    }


class AutoRouter:
    def __init__(self, tiers: dict[str, tuple[str, ...]], thresholds: Thresholds) -> None:
        self.tiers = {name: models for name, models in tiers.items() if models}
        self.thresholds = thresholds

    def choose(self, request: ChatRequest) -> AutoChoice | None:
        """None when no tier has any model."""
        tier, reason = classify(features(request), self.thresholds)
        for name in (tier, *_BORROW[tier]):
            models = self.tiers.get(name)
            if models:
                if name != tier:
                    reason = f"{reason}; no '{tier}' tier, using '{name}'"
                return AutoChoice(name, reason, models)
        return None

    def all_models(self) -> list[str]:
        return list(dict.fromkeys(m for tier in TIERS for m in self.tiers.get(tier, ())))


def build_auto(config: Config, catalogue: Catalogue) -> AutoRouter | None:
    """The router for `switchpoint/auto` from the `auto:` config; with no tiers configured, tiers
    derived from the catalogue's servable chat models. None when disabled."""
    auto = config.auto
    if not auto.enabled:
        return None
    tiers: dict[str, tuple[str, ...]]
    if auto.tiers:  # ids the catalogue does not know are left out; missing tiers borrow the nearest
        tiers = {name: tuple(m for m in tier.models if catalogue.get(m) is not None)
                 for name, tier in auto.tiers.items()}
    else:
        servable = [m for m in catalogue.servable() if "text" in m.output_modalities and not m.is_embedding]
        tiers = default_tiers([ModelInfo(m.id, min(float(e.price.prompt + e.price.completion) for e in m.endpoints),
                                         "reasoning" in m.supported_parameters) for m in servable])
    return AutoRouter(tiers, Thresholds(auto.short_prompt_tokens, auto.long_prompt_tokens, auto.code_lines))
