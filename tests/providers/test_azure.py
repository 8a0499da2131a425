"""Azure OpenAI: the OpenAI translator at deployment URLs with an api-key header."""

from __future__ import annotations

import orjson

from switchpoint.providers.azure import AzureProvider
from switchpoint.providers.base import Connection, Target
from switchpoint.providers.registry import PROVIDER_TYPES
from switchpoint.types import ChatRequest, EmbeddingRequest

from .provider_support import fixture_bytes


def provider(**options: str) -> AzureProvider:
    return AzureProvider(Connection(name="azure", type="azure", base_url="https://acme.openai.azure.test/",
                                    api_key="az-key", options=options))


def test_chat_url_headers_and_body() -> None:
    assert PROVIDER_TYPES["azure"] is AzureProvider
    request = ChatRequest(model="openai/gpt-4o", messages=[{"role": "user", "content": "hi"}], stream=True,
                          params={"temperature": 0.5})
    upstream = provider().build_chat(request, Target("gpt4o-prod"))
    assert upstream.url == ("https://acme.openai.azure.test/openai/deployments/gpt4o-prod/chat/completions"
                            "?api-version=2024-10-21")
    assert upstream.headers["api-key"] == "az-key" and "authorization" not in upstream.headers
    assert orjson.loads(upstream.body) == {"model": "gpt4o-prod", "messages": [{"role": "user", "content": "hi"}],
                                           "temperature": 0.5, "stream": True,
                                           "stream_options": {"include_usage": True}}


def test_configured_api_version_and_embeddings_url() -> None:
    upstream = provider(api_version="2025-04-01-preview").build_embeddings(
        EmbeddingRequest(model="openai/text-embedding-3-small", inputs=["a"]), Target("emb"))
    assert upstream.url == ("https://acme.openai.azure.test/openai/deployments/emb/embeddings"
                            "?api-version=2025-04-01-preview")


def test_responses_parse_as_openai() -> None:
    completion = provider().parse_chat(fixture_bytes("openai/chat_text.response.json"))
    assert completion.choices[0].finish_reason == "stop"
    assert completion.usage.prompt_tokens > 0
