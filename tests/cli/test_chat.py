from __future__ import annotations

from ..upstream import Reply
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
    upstream.queue(PATHS["up"], Reply.file("openai/error_500_server_error.json", status=500))
    result = invoke("chat", "-m", "test/gpt", input="hello\nhello\n")
    assert result.exit_code == 0, result.output
    assert "error 502" in result.output
    assert "London" in result.output and "1 turns" in result.output


def test_chat_checks_model_ids(invoke, upstream) -> None:
    answer_everywhere(upstream)
    result = invoke("chat", "-m", "test/gpt", input="/model test/gtp\nhello\n/model test/routed:free\n")
    assert result.exit_code == 0, result.output
    assert "no model test/gtp on the gateway (did you mean test/gpt" in result.output
    assert "still talking to test/gpt" in result.output
    assert len(upstream.hits(PATHS["up"])) == 1  # the answer came from the model kept
    assert "now talking to test/routed:free" in result.output  # a variant of a known model
    result = invoke("chat", "-m", "nope/missing", input="hello\n")
    assert result.exit_code == 1 and "no model nope/missing on the gateway" in result.output
    assert not upstream.hits(PATHS["router"])
