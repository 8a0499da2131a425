"""The `provider` object: every field parsed, every mistake a 400 naming the field."""

from __future__ import annotations

from typing import Any

import pytest

from switchpoint.errors import BadRequestError
from switchpoint.routing.preferences import DEFAULT, Hedge, MaxPrice, Preferences, parse_preferences


@pytest.mark.parametrize(("raw", "expected"), [
    (None, DEFAULT),
    ({}, DEFAULT),
    ({"order": ["Groq", "openai", "groq"]}, Preferences(order=("groq", "openai"))),
    ({"allow_fallbacks": False}, Preferences(allow_fallbacks=False)),
    ({"only": ["OpenAI"], "ignore": ["Local"]}, Preferences(only=frozenset({"openai"}), ignore=frozenset({"local"}))),
    ({"sort": "throughput"}, Preferences(sort="throughput")),
    ({"sort": {"by": "latency", "partition": "none"}}, Preferences(sort="latency", partition="none")),
    ({"sort": {"partition": "none"}}, Preferences(partition="none")),
    ({"sort": "exacto"}, Preferences(sort="exacto")),
    ({"max_price": {"prompt": 1, "completion": "2.5", "request": 0.01}},
     Preferences(max_price=MaxPrice(prompt=1e-6, completion=2.5e-6, request=0.01))),
    ({"max_price": {"audio": 3}}, Preferences(max_price=MaxPrice())),
    ({"require_parameters": True}, Preferences(require_parameters=True)),
    ({"data_collection": "deny"}, Preferences(deny_data_collection=True)),
    ({"data_collection": "allow"}, DEFAULT),
    ({"zdr": True}, Preferences(deny_data_collection=True)),
    ({"enforce_distillable_text": True}, DEFAULT),
    ({"quantizations": ["FP8", "bf16"]}, Preferences(quantizations=frozenset({"fp8", "bf16"}))),
    ({"preferred_min_throughput": 50}, Preferences(min_throughput={"p50": 50.0})),
    ({"preferred_max_latency": {"p90": 2}}, Preferences(max_latency={"p90": 2.0})),
    ({"hedge": True}, Preferences(hedge=Hedge())),
    ({"hedge": False}, DEFAULT),
    ({"hedge": {"after_ms": 250}}, Preferences(hedge=Hedge(250.0))),
    ({"order": None, "sort": None}, DEFAULT),
])
def test_valid(raw: Any, expected: Preferences) -> None:
    assert parse_preferences(raw) == expected


@pytest.mark.parametrize(("raw", "field"), [
    ("openai", "provider"),
    ({"orders": ["a"]}, "provider.orders"),
    ({"order": "openai"}, "provider.order"),
    ({"order": [1]}, "provider.order"),
    ({"only": [""]}, "provider.only"),
    ({"ignore": {"a": 1}}, "provider.ignore"),
    ({"allow_fallbacks": "no"}, "provider.allow_fallbacks"),
    ({"require_parameters": 1}, "provider.require_parameters"),
    ({"data_collection": "never"}, "provider.data_collection"),
    ({"zdr": "yes"}, "provider.zdr"),
    ({"sort": "cheapest"}, "provider.sort"),
    ({"sort": {"by": "speed"}}, "provider.sort.by"),
    ({"sort": {"by": "price", "partition": "all"}}, "provider.sort.partition"),
    ({"sort": {"by": "price", "order": 1}}, "provider.sort.order"),
    ({"sort": 3}, "provider.sort"),
    ({"max_price": 5}, "provider.max_price"),
    ({"max_price": {"prompt": -1}}, "provider.max_price.prompt"),
    ({"max_price": {"prompt": "cheap"}}, "provider.max_price.prompt"),
    ({"max_price": {"completion": True}}, "provider.max_price.completion"),
    ({"max_price": {"tokens": 1}}, "provider.max_price.tokens"),
    ({"quantizations": ["fp3"]}, "provider.quantizations"),
    ({"preferred_min_throughput": {"p95": 1}}, "provider.preferred_min_throughput.p95"),
    ({"preferred_max_latency": "fast"}, "provider.preferred_max_latency"),
    ({"hedge": "yes"}, "provider.hedge"),
    ({"hedge": {"after_ms": 0}}, "provider.hedge.after_ms"),
    ({"hedge": {"delay": 10}}, "provider.hedge.delay"),
])
def test_invalid_names_the_field(raw: Any, field: str) -> None:
    with pytest.raises(BadRequestError) as info:
        parse_preferences(raw)
    assert info.value.status == 400
    assert info.value.message.startswith(f"{field}:")
    assert info.value.metadata == {"param": field}


def test_deterministic_when_ordered_or_sorted() -> None:
    assert not DEFAULT.deterministic
    assert Preferences(order=("a",)).deterministic
    assert Preferences(sort="price").deterministic
