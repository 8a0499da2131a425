"""The middle-out transform, pure: what it keeps (system prompts, the first and latest turns, tool
calls with their results), what it drops first (the middle), truncation as a last resort, and when it
applies to an endpoint."""

from __future__ import annotations

from typing import Any

from switchpoint.config.catalogue import Endpoint
from switchpoint.routing.candidate import Candidate
from switchpoint.routing.context import estimate_prompt_tokens
from switchpoint.routing.middle_out import fit, middle_out
from switchpoint.types import ChatRequest, NativeBody

from .support import endpoint, model

TURN = "x" * 300  # ~100 estimated tokens, 104 with the message overhead


def msg(role: str, text: str = TURN, **extra: Any) -> dict[str, Any]:
    return {"role": role, "content": text, **extra}


def names(messages: list[dict[str, Any]]) -> list[str]:
    return [m.get("name") or m.get("tool_call_id") or m["role"] for m in messages]


def conversation(turns: int) -> list[dict[str, Any]]:
    out = [msg("system", "be brief", name="sys")]
    for i in range(turns):
        out.append(msg("user" if i % 2 == 0 else "assistant", name=f"t{i}"))
    return out


def test_a_prompt_that_fits_is_returned_as_it_is() -> None:
    messages = conversation(4)
    assert middle_out(messages, 10_000) is messages


def test_turns_go_from_the_middle_outward_keeping_system_first_and_latest() -> None:
    messages = conversation(9)  # sys + t0..t8, each turn 104 tokens
    assert names(middle_out(messages, 3 + 7 + 104 * 9 - 104)) == \
        ["sys", "t0", "t1", "t2", "t3", "t5", "t6", "t7", "t8"]          # one dropped: the middle one
    assert names(middle_out(messages, 3 + 7 + 104 * 5)) == ["sys", "t0", "t1", "t6", "t7", "t8"]
    assert names(middle_out(messages, 3 + 7 + 104 * 2)) == ["sys", "t0", "t8"]
    assert names(middle_out(messages, 3 + 7 + 104)) == ["sys", "t8"]    # then even the first turn
    assert names(messages) == ["sys", *[f"t{i}" for i in range(9)]]     # the input is untouched


def test_every_system_and_developer_message_is_kept_wherever_it_is() -> None:
    messages = [msg("system", "a", name="s1"), msg("user", name="u0"), msg("developer", "b", name="d1"),
                msg("assistant", name="a1"), msg("user", name="u2"), msg("user", name="u3")]
    assert names(middle_out(messages, 3 + 5 + 4 + 104 * 2 + 4)) == ["s1", "u0", "d1", "u3"]


def test_a_tool_call_and_its_results_are_dropped_together_never_split() -> None:
    call = {"role": "assistant", "content": None, "name": "call",
            "tool_calls": [{"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{}"}},
                           {"id": "c2", "type": "function", "function": {"name": "g", "arguments": "{}"}}]}
    messages = [msg("user", name="u0"), msg("assistant", name="a0"), call,
                msg("tool", TURN, tool_call_id="c1"), msg("tool", TURN, tool_call_id="c2"),
                msg("user", name="u1"), msg("assistant", name="a1"), msg("user", name="u2")]
    for budget in range(100, 1200, 7):
        kept = names(middle_out(messages, budget))
        assert ("call" in kept) == ("c1" in kept) == ("c2" in kept), (budget, kept)
        assert kept[-1] == "u2"
    assert names(middle_out(messages, 3 + 104 * 6 + 20)) == ["u0", "a0", "u1", "a1", "u2"]


def test_when_dropping_turns_is_not_enough_the_longest_text_is_cut_in_its_middle() -> None:
    system = msg("system", "rules")
    last = msg("user", "A" * 1500 + "B" * 1500)  # ~1000 tokens
    out = middle_out([system, msg("user"), last], 400)
    assert out[0] is system and len(out) == 2
    text = out[1]["content"]
    assert text.startswith("AAA") and text.endswith("BBB") and "\n...\n" in text
    assert estimate_prompt_tokens(ChatRequest(model="m", messages=out)) <= 400
    assert last["content"] == "A" * 1500 + "B" * 1500


def test_a_message_count_limit_keeps_half_from_the_start_and_half_from_the_end() -> None:
    messages = [msg("system", "s", name="sys"), *[msg("user", "hi", name=f"t{i}") for i in range(1200)]]
    kept = names(middle_out(messages, 10**9, max_messages=1000))
    assert len(kept) == 1001 and kept[0] == "sys"
    assert kept[1:501] == [f"t{i}" for i in range(500)]
    assert kept[501:] == [f"t{i}" for i in range(700, 1200)]


def _cand(window: int, provider_type: str = "openai") -> Candidate:
    e = endpoint("p", context=window)
    m = model("vendor/model", Endpoint(**{**{f: getattr(e, f) for f in Endpoint.__dataclass_fields__},
                                          "provider_type": provider_type}), context=None)
    return Candidate(m, m.endpoints[0])


def test_fit_keeps_an_anthropic_endpoint_under_its_1000_messages() -> None:
    messages = [msg("user", "hi") for _ in range(1001)]
    asked = ChatRequest(model="vendor/model", messages=messages, transforms=["middle-out"])
    assert len(fit(asked, _cand(200000, "anthropic")).messages) == 1000
    assert fit(asked, _cand(200000)) is asked


def test_fit_applies_by_default_on_small_windows_only_and_never_with_transforms_off() -> None:
    messages = conversation(200)  # ~20k tokens
    native = NativeBody("anthropic-messages", {"messages": []})
    request = ChatRequest(model="vendor/model", messages=messages, params={"max_tokens": 500}, native=native)
    cut = fit(request, _cand(8192))
    assert cut is not request and cut.native is None
    assert estimate_prompt_tokens(cut) <= 8192 - 500
    assert names(cut.messages)[:2] == ["sys", "t0"] and names(cut.messages)[-1] == "t199"
    assert fit(request, _cand(32000)) is request                          # above 8k: not by default
    off = ChatRequest(model="vendor/model", messages=messages, params={"max_tokens": 500}, transforms=[])
    assert fit(off, _cand(8192)) is off
    asked = ChatRequest(model="vendor/model", messages=messages, params={"max_tokens": 500},
                        transforms=["middle-out"])
    assert estimate_prompt_tokens(fit(asked, _cand(16000))) <= 16000 - 500
    small = ChatRequest(model="vendor/model", messages=conversation(3))
    assert fit(small, _cand(4096)) is small                               # fits: untouched
