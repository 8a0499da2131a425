from __future__ import annotations

from .conftest import PATHS, answer_everywhere


def test_chat_keeps_history_switches_model_and_shows_cost(invoke, upstream) -> None:
    answer_everywhere(upstream)
    result = invoke("chat", "-m", "test/gpt", "-s", "Be brief.",
                    input="Capital of the UK?\n/model test/routed\nAnd of France?\n/cost\n/history\n/exit\n")
    assert result.exit_code == 0, result.output
    assert result.output.count("The capital of the UK is London.") >= 2
    assert "now talking to test/routed" in result.output
    assert "$0.000017 this turn" in result.output  # 78 * 0.00000015 + 9 * 0.0000006
    assert "2 turns · $0.000034" in result.output
    assert "assistant: The capital" in result.output
    first, second = upstream.hits(PATHS["up"])[0].json, upstream.hits(PATHS["router"])[0].json
    assert [m["role"] for m in first["messages"]] == ["system", "user"]
    assert [m["content"] for m in second["messages"]] == [
        "Be brief.", "Capital of the UK?", "The capital of the UK is London.", "And of France?"]


def test_chat_reports_errors_and_goes_on(invoke, upstream) -> None:
    answer_everywhere(upstream)
    result = invoke("chat", "-m", "nope/missing", input="hello\n/model test/gpt\nhello\n")
    assert result.exit_code == 0, result.output
    assert "not a valid model ID" in result.output
    assert "London" in result.output and "1 turns" in result.output
