"""Context windows, pure: the token estimate, which endpoints can hold a request (and OpenRouter's
middle-out eligibility), the 404 that names context_length, and the failover policy for an upstream's
"context length exceeded"."""

from __future__ import annotations

import random
from typing import Any

import pytest

from switchpoint.errors import CONTEXT, INVALID, BadRequestError, NotFoundError, UpstreamError
from switchpoint.routing import RouteTable, explain, parse_preferences, plan
from switchpoint.routing.candidate import Candidate
from switchpoint.routing.context import (
    IMAGE_TOKENS,
    estimate_prompt_tokens,
    fits,
    middle_out_applies,
    needed_tokens,
    prompt_budget,
    select,
)
from switchpoint.routing.policy import Decision, breaker_outcome, decide
from switchpoint.types import ChatRequest

from .support import FakeClock, endpoint, live, model, providers


def chat(*messages: dict[str, Any], transforms: list[str] | None = None, **params: Any) -> ChatRequest:
    return ChatRequest(model="vendor/model", messages=list(messages), params=params, transforms=transforms)


def user(text: str) -> dict[str, Any]:
    return {"role": "user", "content": text}


def cand(window: int | None, provider: str = "p") -> Candidate:
    m = model("vendor/model", endpoint(provider, context=window), context=None)
    return Candidate(m, m.endpoints[0])


# -- the estimate -------------------------------------------------------------------------------------

@pytest.mark.parametrize(("messages", "params", "expected"), [
    ([user("hi")], {}, 3 + 4 + 1),                                    # reply priming + message + 2 bytes / 3
    ([user("x" * 300)], {}, 3 + 4 + 100),                             # one token per 3 bytes
    ([user("é" * 30)], {}, 3 + 4 + 20),                               # UTF-8 bytes, not characters
    ([user("a"), user("b")], {}, 3 + 2 * 4 + 1),                      # per-message overhead, bytes summed
    ([{"role": "user", "content": [{"type": "text", "text": "x" * 30},
                                   {"type": "image_url", "image_url": {"url": "https://x/y.png"}}]}],
     {}, 3 + 4 + 10 + IMAGE_TOKENS),                                  # an image costs its fixed share
    ([user("hi")], {"tools": [{"type": "function", "function": {"name": "f" * 45}}]}, 3 + 4 + 1 + 30),  # 90 bytes of schema
])
def test_estimate_counts_text_bytes_messages_images_and_tools(messages: list[dict[str, Any]],
                                                               params: dict[str, Any], expected: int) -> None:
    assert estimate_prompt_tokens(chat(*messages, **params)) == expected


def test_tool_calls_and_their_arguments_are_counted() -> None:
    call = {"role": "assistant", "content": None,
            "tool_calls": [{"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{}" * 100}}]}
    assert estimate_prompt_tokens(chat(user("hi"), call)) > estimate_prompt_tokens(chat(user("hi"))) + 60


def test_needed_is_the_prompt_plus_max_tokens_or_max_completion_tokens() -> None:
    base = estimate_prompt_tokens(chat(user("hi")))
    assert needed_tokens(chat(user("hi"))) == base + 1
    assert needed_tokens(chat(user("hi"), max_tokens=500)) == base + 500
    assert needed_tokens(chat(user("hi"), max_completion_tokens=700)) == base + 700


# -- which windows fit -------------------------------------------------------------------------------

@pytest.mark.parametrize(("window", "needed", "transforms", "expected"), [
    (16000, 16000, None, True),        # exactly full
    (16000, 16001, None, False),       # one over, above 8k: middle-out is not on by default
    (8192, 16000, None, True),         # 8k or less: middle-out by default, half of it fits
    (8192, 16385, None, False),        # ... but not less than half
    (8192, 16000, [], False),          # transforms: [] turns the default off
    (16000, 30000, ["middle-out"], True),  # asked for: any window holding half
    (16000, 33000, ["middle-out"], False),
    (None, 10**9, [], True),           # an unknown window is never excluded
])
def test_fits(window: int | None, needed: int, transforms: list[str] | None, expected: bool) -> None:
    assert fits(cand(window), needed, transforms) is expected


def test_middle_out_applies_by_default_only_up_to_8192_tokens() -> None:
    assert [middle_out_applies(None, w) for w in (4096, 8192, 8193, 0)] == [True, True, False, False]
    assert middle_out_applies([], 4096) is False
    assert middle_out_applies(["middle-out"], 200000) is True


def test_select_falls_back_to_the_largest_compressible_window_when_none_holds_half() -> None:
    small, smaller, big = cand(4096, "a"), cand(2048, "b"), cand(32000, "c")
    assert select([small, smaller, big], 20000, None) == [big]
    assert select([small, smaller], 20000, None) == [small]          # OpenRouter: the largest window
    assert select([small, smaller], 20000, []) == []                  # middle-out off: nothing fits
    assert select([big], 100000, None) == []                          # 32k: no default middle-out


def test_prompt_budget_leaves_max_tokens_or_an_eighth_of_the_window() -> None:
    assert prompt_budget(cand(8192), chat(user("hi"), max_tokens=1000)) == 7192
    assert prompt_budget(cand(8192), chat(user("hi"))) == 8192 - 1024


# -- planning ------------------------------------------------------------------------------------------

WINDOWS = model("vendor/model", endpoint("small", 1, context=16000), endpoint("large", 2, context=200000))


def route(req: ChatRequest, models: list[Any] | None = None) -> list[str]:
    return providers(plan(models or [(WINDOWS, None)], req, random.Random(1), prefs=parse_preferences({"sort": "price"}),
                          live=live(FakeClock()), table=RouteTable()))


def test_plan_skips_endpoints_whose_window_cannot_hold_prompt_plus_max_tokens() -> None:
    assert route(chat(user("hi"))) == ["small", "large"]
    assert route(chat(user("x" * 30000), max_tokens=8000)) == ["large"]      # ~10k + 8k > 16k
    assert route(chat(user("x" * 30000), max_tokens=5000)) == ["small", "large"]


def test_the_404_names_context_length_when_no_window_fits() -> None:
    req = chat(user("x" * 900000))
    assert route(req) == []
    err = explain([(WINDOWS, None)], req, parse_preferences(None), live(FakeClock()), RouteTable())
    assert isinstance(err, NotFoundError)
    assert err.metadata["excluded_by"] == ["context_length"]
    assert err.metadata["requested_tokens"] == needed_tokens(req)
    assert "context window" in err.message


def test_a_model_fallback_with_a_larger_window_is_still_planned() -> None:
    other = model("vendor/long", endpoint("long", 5, context=1_000_000, model_id="vendor/long"))
    assert route(chat(user("x" * 900000)), [(WINDOWS, None), (other, None)]) == ["long"]


# -- the upstream's own "context length exceeded" -----------------------------------------------------

def test_context_errors_fail_over_count_as_healthy_and_become_a_400() -> None:
    err = UpstreamError(CONTEXT, "prompt is too long: 205429 tokens > 200000 maximum", status=400)
    assert decide(err, 0, 3) is Decision.NEXT
    assert decide(UpstreamError(INVALID, "bad", status=400), 0, 3) is Decision.STOP
    assert breaker_outcome(err) is True
    client = err.to_client_error("anthropic")
    assert isinstance(client, BadRequestError) and client.status == 400
    assert client.metadata["error_type"] == "context_length_exceeded"
    assert client.message == "prompt is too long: 205429 tokens > 200000 maximum"
