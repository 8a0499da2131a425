"""Prompt-cache stickiness, the pure rules: who may stick, what names a conversation, and when the
remembered endpoint leads. Fake clock, seeded randomness; the TTL is the in-process state's, on a fake
clock too."""

from __future__ import annotations

import random
from dataclasses import replace
from decimal import Decimal

import pytest

from switchpoint.routing import RouteTable, parse_preferences, plan
from switchpoint.routing.breaker import BreakerSettings, MemoryBreakers
from switchpoint.routing.health import Health
from switchpoint.routing.sticky import conversation, may_stick, pin
from switchpoint.state.memory import MemoryState
from switchpoint.types import ChatRequest

from .support import FakeClock, endpoint, live, model, providers

CACHED = Decimal("0.1") / 1_000_000


def cached(provider: str, price: float) -> object:
    e = endpoint(provider, price)
    return replace(e, price=replace(e.price, cache_read=CACHED))


CACHING = model("vendor/model", cached("A", 1), cached("B", 2), endpoint("C", 3))
PLAIN = model("vendor/plain", endpoint("A", 1), endpoint("B", 2))
TABLE = RouteTable()


def chat(*messages: tuple[str, str], session: str | None = None, **params: object) -> ChatRequest:
    return ChatRequest(model="vendor/model", messages=[{"role": r, "content": c} for r, c in messages],
                       session_id=session, params=dict(params))


@pytest.mark.parametrize(("provider", "variant", "sticks"), [
    (None, None, True),
    ({"only": ["A", "B"]}, None, True),                       # filters keep stickiness
    ({"order": ["B"]}, None, False),
    ({"sort": "price"}, None, False),
    ({"sort": {"partition": "none"}}, None, True),           # pooling alone is no sort
    (None, "nitro", False),
    (None, "floor", False),
    (None, "exacto", False),
    (None, "free", True),
])
def test_the_client_s_own_order_opts_out(provider: dict[str, object] | None, variant: str | None,
                                         sticks: bool) -> None:
    assert may_stick(parse_preferences(provider), variant, CACHING, TABLE) is sticks


def test_a_model_without_a_cheaper_cached_price_never_sticks() -> None:
    assert not may_stick(parse_preferences(None), None, PLAIN, TABLE)
    same = endpoint("D", 1)
    no_discount = model("vendor/same", replace(same, price=replace(same.price, cache_read=same.price.prompt)))
    assert not may_stick(parse_preferences(None), None, no_discount, TABLE)


def test_a_conversation_is_its_key_model_and_first_turns() -> None:
    first = chat(("system", "You are terse."), ("user", "Hello"))
    later = chat(("system", "You are terse."), ("user", "Hello"), ("assistant", "Hi"), ("user", "More"))
    name = conversation(first, "key1", "vendor/model")
    assert name is not None and len(name) == 32
    assert conversation(later, "key1", "vendor/model") == name          # the conversation grew: same one
    assert conversation(first, "key2", "vendor/model") != name          # never shared between keys
    assert conversation(first, "key1", "vendor/other") != name
    assert conversation(chat(("system", "You are kind."), ("user", "Hello")), "key1", "vendor/model") != name
    assert conversation(chat(("system", "You are terse."), ("user", "Bye")), "key1", "vendor/model") != name
    assert conversation(chat(("developer", "You are terse."), ("user", "Hello")), "key1", "vendor/model") == name
    assert conversation(chat(("system", "only a system prompt")), "key1", "vendor/model") is None
    # a long prefix is hashed by its length and edges: a change in the middle of a long system prompt
    # keeps the conversation (its cache prefix is the same up to there), a change at either end does not
    long = "x" * 5000
    base = conversation(chat(("system", long), ("user", "Hello")), "key1", "vendor/model")
    assert base == conversation(chat(("system", long[:2500] + "y" + long[2501:]), ("user", "Hello")), "key1",
                                "vendor/model")
    assert base != conversation(chat(("system", long), ("user", "Hellp")), "key1", "vendor/model")
    assert base != conversation(chat(("system", "y" + long[1:]), ("user", "Hello")), "key1", "vendor/model")


def test_a_session_id_names_the_conversation_whatever_its_messages() -> None:
    a = conversation(chat(("user", "one"), session="s-1"), "k", "vendor/model")
    assert a == conversation(chat(("user", "two"), session="s-1"), "k", "vendor/model")
    assert a != conversation(chat(("user", "one"), session="s-2"), "k", "vendor/model")
    # prompt_cache_key when there is no session id (the Responses API's field)
    b = conversation(chat(("user", "one"), prompt_cache_key="pk"), "k", "vendor/model")
    assert b == conversation(chat(("user", "two"), prompt_cache_key="pk"), "k", "vendor/model")
    assert b != a


def test_the_remembered_endpoint_leads_whatever_the_draw() -> None:
    clock = FakeClock()
    for seed in range(30):
        planned = plan([(CACHING, None)], chat(("user", "x")), random.Random(seed), table=TABLE, live=live(clock))
        pinned = pin(planned, "B:B-model", live(clock))
        assert pinned is not None and providers(pinned)[0] == "B"
        assert sorted(providers(pinned)) == ["A", "B", "C"]


def test_an_unhealthy_or_filtered_out_endpoint_is_not_pinned() -> None:
    clock, health = FakeClock(), Health()
    planned = plan([(CACHING, None)], chat(("user", "x")), random.Random(1), table=TABLE, live=live(clock))
    health.observe("B:B-model", False, clock.now)
    assert pin(planned, "B:B-model", live(clock, health=health)) is None   # failed in the healthy window
    clock.advance(31)
    assert pin(planned, "B:B-model", live(clock, health=health)) is not None
    breakers = MemoryBreakers(BreakerSettings(consecutive_failures=1, cooldown=30))
    breakers.record("B:B-model", False, clock.now)
    assert pin(planned, "B:B-model", live(clock, breakers=breakers)) is None  # breaker open
    clock.advance(31)
    assert pin(planned, "B:B-model", live(clock, breakers=breakers)) is not None  # half open: a probe may go
    assert pin(planned[:1] if planned[0].provider != "B" else planned[1:], "B:B-model", live(clock)) is None


async def test_a_conversation_is_remembered_ten_minutes_after_its_last_use() -> None:
    clock = FakeClock()
    state = MemoryState(clock=clock)
    await state.sticky_set("c", "B:B-model", ttl=600)
    clock.advance(599)
    assert await state.sticky_get("c") == "B:B-model"
    await state.sticky_set("c", "B:B-model", ttl=600)  # used again: ten more minutes
    clock.advance(599)
    assert await state.sticky_get("c") == "B:B-model"
    clock.advance(1)
    assert await state.sticky_get("c") is None
