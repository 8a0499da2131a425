"""Cost in Decimal, charged in whole nano-USD, with the operator's markup kept apart."""

from __future__ import annotations

import random
from decimal import Decimal

from switchpoint.accounting.pricing import Charge, Pricer, cost, has_media, prompt_bound, to_nanos
from switchpoint.config.catalogue import Price
from switchpoint.types import Usage

PRICE = Price(prompt=Decimal("0.000003"), completion=Decimal("0.000015"), request=Decimal("0.001"),
              cache_read=Decimal("0.0000003"), cache_write=Decimal("0.00000375"))


def test_every_kind_of_token_at_its_own_rate() -> None:
    usage = Usage(prompt_tokens=1000, completion_tokens=500, cached_tokens=600, cache_write_tokens=100,
                  reasoning_tokens=200)
    # 300 fresh prompt, 600 cached reads, 100 cache writes, 500 completion (reasoning included), 1 request
    expected = (300 * Decimal("0.000003") + 600 * Decimal("0.0000003") + 100 * Decimal("0.00000375")
                + 500 * Decimal("0.000015") + Decimal("0.001"))
    assert cost(PRICE, usage) == expected == Decimal("0.009955")


def test_cache_rates_default_to_the_prompt_rate() -> None:
    price = Price(prompt=Decimal("0.000001"), completion=Decimal("0.000002"))
    usage = Usage(prompt_tokens=100, completion_tokens=10, cached_tokens=40, cache_write_tokens=20)
    assert cost(price, usage) == Decimal("0.00012")


def test_nanos_round_up_and_stay_exact() -> None:
    assert to_nanos(Decimal("0.0000000001")) == 1
    assert to_nanos(Decimal("0.1") + Decimal("0.2")) == 300_000_000
    assert to_nanos(Decimal("12345.678901234")) == 12_345_678_901_234


def test_markup_global_and_per_provider() -> None:
    pricer = Pricer(10, {"groq": 2.5, "local": None})
    usage = Usage(prompt_tokens=1000, completion_tokens=1000)
    price = Price(prompt=Decimal("0.000001"), completion=Decimal("0.000002"))
    assert pricer.charge(price, usage, "openai") == Charge(3_300_000, 300_000, 2_000_000)
    assert pricer.charge(price, usage, "groq") == Charge(3_075_000, 75_000, 2_000_000)
    assert pricer.charge(price, usage, "local") == Charge(3_300_000, 300_000, 2_000_000)  # unset = the global markup
    assert pricer.charge(price, usage, "groq").upstream_nanos == 3_000_000
    assert Pricer().charge(price, usage, "openai") == Charge(3_000_000, 0, 2_000_000)
    # the completion's share of the upstream cost (shown in usage.cost_details); none without completion tokens
    assert Pricer().charge(price, Usage(prompt_tokens=7), "openai") == Charge(7000, 0, 0)
    fine = Price(prompt=Decimal("0.000001"), completion=Decimal("0.0000000375"))  # 37.5 nano-USD a token
    assert Pricer().charge(fine, Usage(completion_tokens=3), "openai") == Charge(113, 0, 113)  # rounded up


def test_worst_case_covers_every_charge_within_its_bounds() -> None:
    rng = random.Random(3)
    pricer = Pricer(7.3, {"b": 0.1})
    for _ in range(500):
        prompt, output = rng.randint(0, 5000), rng.randint(0, 5000)
        usage = Usage(prompt_tokens=rng.randint(0, prompt), completion_tokens=rng.randint(0, output))
        usage.cached_tokens = rng.randint(0, usage.prompt_tokens)
        usage.cache_write_tokens = rng.randint(0, usage.prompt_tokens - usage.cached_tokens)
        provider = rng.choice("ab")
        assert pricer.charge(PRICE, usage, provider).cost_nanos <= pricer.worst_case(PRICE, prompt, output, provider)


def test_affordable_output_tokens() -> None:
    price = Price(prompt=Decimal("0.000001"), completion=Decimal("0.00001"))
    pricer = Pricer(0)
    # $0.001 left; 100 prompt tokens cost $0.0001; the rest buys 90 output tokens
    assert pricer.affordable_output(price, 100, "x", 1_000_000) == 90
    assert Pricer(100).affordable_output(price, 100, "x", 1_000_000) == 40
    assert pricer.affordable_output(price, 10_000, "x", 1_000_000) == 0


def test_prompt_bound() -> None:
    text = [{"role": "user", "content": "hello"}]
    image = [{"role": "user", "content": [{"type": "text", "text": "what is this"},
                                          {"type": "image_url", "image_url": {"url": "https://x/y.png"}}]}]
    assert prompt_bound(500, text, 128000) == 500
    assert prompt_bound(500_000, text, 128000) == 128000
    assert prompt_bound(500, image, 128000) == 128000
    assert prompt_bound(500, image, None) == 500
    assert has_media(image) and not has_media(text) and not has_media([{"role": "user", "content": [
        {"type": "text", "text": "x"}]}])
