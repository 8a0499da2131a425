"""Azure OpenAI through the whole gateway: deployment URLs, api-version and the api-key header."""

from __future__ import annotations

from typing import Any

from ..conftest import Gateway
from ..upstream import Reply, Upstream
from .e2e_support import KEYS, PATHS, assistant_turn, client

PATH = PATHS["azure"]
COUNTRY: list[Any] = [{"type": "function", "function": {"name": "get_user_country", "parameters": {"type": "object", "properties": {}}}}]


def test_text_completion(gateway: Gateway, upstream: Upstream) -> None:
    upstream.queue(PATH, Reply.file("openai/chat_text.response.json"))
    response = client(gateway).chat.completions.create(model="test/azure-gpt",
                                                       messages=[{"role": "user", "content": "What's the weather like in SF?"}])
    assert response.choices[0].finish_reason == "stop" and response.choices[0].message.content
    [received] = upstream.hits(PATH)
    assert received.query == {"api-version": "2024-10-21"}
    assert received.headers["api-key"] == KEYS["azure"] and "authorization" not in received.headers
    assert received.json["model"] == "gpt4o-prod"


def test_streaming_text(gateway: Gateway, upstream: Upstream) -> None:
    upstream.queue(PATH, Reply.events("openai/chat_stream_text_usage.sse"))
    chunks = list(client(gateway).chat.completions.create(model="test/azure-gpt", stream=True,
                                                          messages=[{"role": "user", "content": "hi"}]))
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert chunks[-1].usage is not None
    assert upstream.hits(PATH)[0].json["stream_options"] == {"include_usage": True}


def test_tool_round_trip(gateway: Gateway, upstream: Upstream) -> None:
    upstream.queue(PATH, Reply.file("openai/chat_tools.response.json"), Reply.file("openai/chat_tool_result.response.json"))
    sdk = client(gateway)
    messages: list[Any] = [{"role": "user", "content": "What is the largest city in the user country?"}]
    first = sdk.chat.completions.create(model="test/azure-gpt", messages=messages, tools=COUNTRY, tool_choice="required")
    [call] = first.choices[0].message.tool_calls
    assert (call.id, call.function.name) == ("call_iXFttys57ap0o16JSlC8yhYo", "get_user_country")
    messages += [assistant_turn(first.choices[0].message), {"role": "tool", "tool_call_id": call.id, "content": "Mexico"}]
    second = sdk.chat.completions.create(model="test/azure-gpt", messages=messages, tools=COUNTRY)
    assert second.choices[0].message.tool_calls[0].function.name == "final_result"
    sent = upstream.hits(PATH)[1].json["messages"]
    assert sent[1]["tool_calls"][0]["id"] == call.id and sent[2] == {"role": "tool", "tool_call_id": call.id, "content": "Mexico"}
