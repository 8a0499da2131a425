from __future__ import annotations

import json

from .conftest import PATHS, answer_everywhere

PRICE_IN, PRICE_OUT = 0.00000015, 0.0000006


def test_compare_json_runs_models_concurrently(invoke, upstream) -> None:
    answer_everywhere(upstream, pause=0.05)  # ~1.5 s per stream: sequential would take 3x longer
    # `:floor` orders by price, so up (the cheaper) serves: default routing is a price-weighted draw
    result = invoke("compare", "Capital of the UK?", "-m", "test/gpt", "-m", "test/routed", "-m",
                    "test/fallback:floor", "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert [a["model"] for a in data["answers"]] == ["test/gpt", "test/routed", "test/fallback:floor"]
    for answer in data["answers"]:
        assert answer["text"] == "The capital of the UK is London."
        assert answer["error"] is None
        assert (answer["prompt_tokens"], answer["completion_tokens"]) == (78, 9)
        assert abs(answer["cost"] - (78 * PRICE_IN + 9 * PRICE_OUT)) < 1e-12
        assert answer["ttft_s"] <= answer["latency_s"]
    assert {a["provider"] for a in data["answers"]} == {"up", "router"}
    total = sum(a["latency_s"] for a in data["answers"])
    assert max(a["latency_s"] for a in data["answers"]) < total * 0.6
    assert len(upstream.hits(PATHS["up"])) == 2 and len(upstream.hits(PATHS["router"])) == 1


def test_compare_side_by_side_and_failures(invoke, upstream) -> None:
    answer_everywhere(upstream)
    result = invoke("compare", "Capital of the UK?", "-m", "test/gpt", "-m", "nope/missing")
    assert result.exit_code == 0, result.output
    assert "London" in result.output and "test/gpt" in result.output
    assert "400:" in result.output and "failed" in result.output
    failed = invoke("compare", "hi", "-m", "nope/missing", "--json")
    assert failed.exit_code == 1
    assert json.loads(failed.output)["answers"][0]["status"] == 400
