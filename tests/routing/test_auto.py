"""switchpoint/auto: the prompt classification table and the tiers it maps to."""

from __future__ import annotations

from typing import Any

import pytest

from switchpoint.routing.auto import (
    AutoRouter,
    Features,
    ModelInfo,
    Thresholds,
    classify,
    default_tiers,
    features,
)
from switchpoint.types import ChatRequest

T = Thresholds(short_prompt_tokens=300, long_prompt_tokens=6000, code_lines=6)
CODE = "```python\ndef add(a, b):\n    return a + b\n\nclass Point:\n    x: int = 0\n```\nWhy does this fail?"
SQL = ("SELECT id, name\nFROM users\nWHERE id = 3;\nUPDATE users SET x = 1;\nINSERT INTO t VALUES (1);\n"
       "CREATE TABLE t (id int);\nDELETE FROM t WHERE x = 1;\nfix it")


def chat(*contents: Any, roles: tuple[str, ...] | None = None, **extra: Any) -> ChatRequest:
    roles = roles or tuple("user" if i % 2 == 0 else "assistant" for i in range(len(contents)))
    messages = [{"role": r, "content": c} for r, c in zip(roles, contents, strict=True)]
    return ChatRequest(model="switchpoint/auto", messages=messages, reasoning=extra.pop("reasoning", None),
                       params=extra)


@pytest.mark.parametrize(("request_", "tier", "reason"), [
    (chat("What is the capital of France?"), "simple", "short prompt (~7 tokens)"),
    (chat("hi", "hello", "how are you?"), "simple", "short prompt (~4 tokens)"),
    (chat("a", "b", "c", "d", "e"), "standard", "multi-turn conversation (5 messages)"),
    (chat("x" * 4000), "standard", "medium prompt (~1000 tokens)"),
    (chat("x" * 24_000), "complex", "long prompt (~6000 tokens)"),
    (chat(CODE), "complex", "code-heavy prompt (6 code lines)"),
    (chat(SQL), "complex", "code-heavy prompt (6 code lines)"),
    (chat("Prove that there are infinitely many primes."), "reasoning",
     "the prompt asks for reasoning ('prove')"),
    (chat("Solve this step by step: 3x + 5 = 20"), "reasoning", "the prompt asks for reasoning ('step by step')"),
    (chat("Prove it", "ok", "now say thanks"), "simple", "short prompt (~6 tokens)"),  # only the last user turn
    (chat("hi", reasoning={"effort": "high"}), "reasoning", "reasoning was requested"),
    (chat("hi", reasoning={"enabled": True}), "reasoning", "reasoning was requested"),
    (chat("hi", reasoning={"max_tokens": 2000}), "reasoning", "reasoning was requested"),
    (chat("hi", reasoning={"effort": "low"}), "simple", "short prompt (~0 tokens)"),
    (chat("hi", reasoning={"effort": "high", "exclude": True}), "simple", "short prompt (~0 tokens)"),
    (chat("What's the weather?", tools=[{"type": "function", "function": {"name": "w"}}]), "standard", "tool use"),
    (chat([{"type": "text", "text": "what is this"}, {"type": "image_url", "image_url": {"url": "data:,"}}]),
     "standard", "image or file input"),
])
def test_classify(request_: ChatRequest, tier: str, reason: str) -> None:
    assert classify(features(request_), T) == (tier, reason)


def test_thresholds_are_configurable() -> None:
    f = Features(prompt_tokens=500)
    assert classify(f, T)[0] == "standard"
    assert classify(f, Thresholds(short_prompt_tokens=600))[0] == "simple"
    assert classify(f, Thresholds(long_prompt_tokens=400))[0] == "complex"
    assert classify(Features(code_lines=3), Thresholds(code_lines=3))[0] == "complex"


def test_huge_prompts_are_scanned_in_bounded_time() -> None:
    f = features(chat("word " * 2_000_000 + "\nprove it"))
    assert f.prompt_tokens == 2_500_002 and f.reasoning_cue == "prove"


def test_default_tiers_from_prices() -> None:
    models = [ModelInfo("a/cheap", 0.1, False), ModelInfo("b/tiny", 0.05, False), ModelInfo("c/mid", 1.0, False),
              ModelInfo("d/big", 10.0, False), ModelInfo("e/think", 5.0, True), ModelInfo("f/huge", 20.0, False)]
    assert default_tiers(models) == {
        "simple": ("b/tiny", "a/cheap"), "standard": ("c/mid", "e/think"), "complex": ("f/huge", "d/big"),
        "reasoning": ("e/think",),
    }
    assert default_tiers([ModelInfo("only/one", 1, False)]) == {
        "simple": ("only/one",), "standard": ("only/one",), "complex": ("only/one",), "reasoning": ("only/one",)}
    assert default_tiers([]) == {}


def test_missing_tiers_borrow_the_nearest_and_say_so() -> None:
    router = AutoRouter({"simple": ("s/1",), "complex": ("c/1", "c/2"), "standard": ()}, T)
    choice = router.choose(chat("Prove it"))
    assert choice is not None
    assert (choice.tier, choice.models) == ("complex", ("c/1", "c/2"))
    assert choice.reason == "the prompt asks for reasoning ('prove'); no 'reasoning' tier, using 'complex'"
    assert choice.describe("c/2") == {"router": "switchpoint/auto", "model": "c/2", "tier": "complex",
                                      "reason": choice.reason}
    assert router.choose(chat("x" * 4000)).tier == "complex"  # type: ignore[union-attr]
    assert router.all_models() == ["s/1", "c/1", "c/2"]
    assert AutoRouter({}, T).choose(chat("hi")) is None
