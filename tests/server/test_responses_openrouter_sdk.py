"""OpenRouter's Python SDK (`openrouter`) on the Responses API: `beta.responses.send`, run and streamed,
validated against OpenRouter's published schema by the SDK itself."""

from __future__ import annotations

from openrouter import OpenRouter

from ..conftest import TEST_KEY, Gateway
from ..upstream import Upstream
from .scripted_models import TEXT, USAGE, ScriptedModel
from .test_openrouter_sdk import NO_RETRY, loopback_only


def test_responses_send_and_stream(gateway: Gateway, upstream: Upstream) -> None:
    ScriptedModel().install(upstream)
    client = OpenRouter(api_key=TEST_KEY, server_url=f"{gateway.url}/api/v1", retry_config=NO_RETRY,
                        client=loopback_only(gateway))
    result = client.beta.responses.send(model="test/gpt", input="Say hello")
    texts = [part.text for item in result.output if item.type == "message" for part in item.content]
    assert texts == [TEXT]
    assert result.usage is not None and (result.usage.input_tokens, result.usage.output_tokens) == USAGE
    events = list(client.beta.responses.send(model="test/gpt", input="Say hello", stream=True))
    kinds = [event.type for event in events]
    assert kinds[0] == "response.created" and kinds[-1] == "response.completed"
    assert "".join(e.delta for e in events if e.type == "response.output_text.delta") == TEXT
    rows = gateway.ledger()
    assert [(r["api_type"], r["streamed"]) for r in rows] == [("responses", False), ("responses", True)]
