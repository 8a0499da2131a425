"""What context windows cost a request, in process: the prompt estimate (routing/context.py) for the
bench's one-message chat body, a 40-message 15 kB conversation and a two-tool request, and the whole
planning step (`routing.plan`) plus the per-attempt middle-out check for the bench body, on a model
without a known window (the bench's own config) and with one (128k). µs a call, best of 7 rounds.

    PYTHONPATH=src python bench/context_cost.py

Run it with another tree on PYTHONPATH to compare planning before and after a change (the estimate
lines need routing/context.py and are left out where it does not exist)."""

from __future__ import annotations

import random
import timeit
from decimal import Decimal
from typing import Any

from switchpoint import routing
from switchpoint.config.catalogue import DEFAULT_PARAMETERS, Endpoint, Model, Price
from switchpoint.types import ChatRequest

ROUNDS = 7
CHAT = {"model": "bench/gpt", "messages": [{"role": "user", "content": "Tell me about a fox."}], "max_tokens": 16}
TOOL = {"type": "function", "function": {"name": "get_weather", "description": "Weather for a city",
                                         "parameters": {"type": "object", "properties": {"city": {"type": "string"}},
                                                        "required": ["city"]}}}


def model(window: int | None) -> Model:
    price = Price(Decimal("0.000001"), Decimal("0.000002"), Decimal(0))
    endpoint = Endpoint(model_id="bench/gpt", provider="bench", provider_type="openai", model="gpt-bench",
                        price=price, context_length=window, max_output_tokens=None,
                        supported_parameters=frozenset(DEFAULT_PARAMETERS))
    return Model(id="bench/gpt", name="bench", description="", context_length=window, max_output_tokens=None,
                 input_modalities=("text",), output_modalities=("text",), supported_parameters=DEFAULT_PARAMETERS,
                 tokenizer="Other", created=0, hugging_face_id=None, endpoints=(endpoint,))


def request(body: dict[str, Any]) -> ChatRequest:
    params = {k: v for k, v in body.items() if k not in ("model", "messages")}
    return ChatRequest(model=body["model"], messages=body["messages"], params=params)


def best_us(fn: Any, number: int) -> float:
    return min(timeit.repeat(fn, number=number, repeat=ROUNDS)) / number * 1e6


def main() -> None:
    chat = request(CHAT)
    conversation = request({"model": "bench/gpt", "messages": [
        {"role": "user" if i % 2 == 0 else "assistant", "content": "word " * 75} for i in range(40)]})
    tools = request({**CHAT, "tools": [TOOL, {**TOOL, "function": {**TOOL["function"], "name": "get_time"}}]})
    try:
        from switchpoint.routing.context import estimate_prompt_tokens
        from switchpoint.routing.middle_out import fit
    except ImportError:
        estimate_prompt_tokens = fit = None  # type: ignore[assignment]
    if estimate_prompt_tokens is not None:
        for name, req in (("one-message chat body", chat), ("40 messages, 15 kB", conversation),
                          ("two tools", tools)):
            print(f"estimate, {name}: {best_us(lambda r=req: estimate_prompt_tokens(r), 20_000):.2f} µs")
    rng = random.Random(1)
    prefs = routing.parse_preferences(None)
    for window in (None, 128_000):
        m = model(window)
        table = routing.RouteTable()
        models = [(m, None)]
        live = routing.Live()
        cost = best_us(lambda ms=models, t=table, lv=live: routing.plan(ms, chat, rng, prefs=prefs, table=t, live=lv),
                       20_000)
        print(f"plan, one-message chat body, window {window}: {cost:.2f} µs")
        if fit is not None:
            cand = table.candidates(m)[0]
            print(f"middle-out check per attempt, window {window}: {best_us(lambda c=cand: fit(chat, c), 50_000):.2f} µs")


if __name__ == "__main__":
    main()
