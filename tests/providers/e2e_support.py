"""A gateway wired to the upstream stand-in through every native provider type, for the end-to-end
tests that drive it with the real openai SDK."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import openai

from ..conftest import TEST_KEY, Gateway
from ..upstream import Reply, Upstream

PRICE = {"prompt": "0.000003", "completion": "0.000015"}
KEYS = {"anthropic": "ant-upstream-key", "gemini": "gem-upstream-key", "azure": "az-upstream-key"}
PATHS = {
    "anthropic": "/anthropic/v1/messages",
    "gemini": "/gemini/v1beta/models/gemini-2.5-flash:generateContent",
    "gemini_stream": "/gemini/v1beta/models/gemini-2.5-flash:streamGenerateContent",
    "gemini_embed": "/gemini/v1beta/models/gemini-embedding-2:batchEmbedContents",
    "ollama": "/ollama/api/chat",
    "ollama_embed": "/ollama/api/embed",
    "azure": "/azure/openai/deployments/gpt4o-prod/chat/completions",
}


def _model(model_id: str, provider: str, model: str, **extra: Any) -> dict[str, Any]:
    return {"id": model_id, "name": model_id, "context_length": 200000, "max_completion_tokens": 64000,
            "endpoints": [{"provider": provider, "model": model, "pricing": PRICE}], **extra}


def native_gateway(make_gateway: Callable[..., Gateway], upstream: Upstream) -> Gateway:
    """Providers of every native type at the stand-in, which refuses requests without their credential."""
    common = {"max_retries": 0, "timeout": 5}
    providers = {
        "anthropic": {"type": "anthropic", "base_url": f"{upstream.url}/anthropic", "api_key": KEYS["anthropic"], **common},
        "gemini": {"type": "gemini", "base_url": f"{upstream.url}/gemini", "api_key": KEYS["gemini"], **common},
        "ollama": {"type": "ollama", "base_url": f"{upstream.url}/ollama", **common},
        "azure": {"type": "azure", "base_url": f"{upstream.url}/azure", "api_key": KEYS["azure"],
                  "api_version": "2024-10-21", **common},
    }
    models = [
        _model("test/claude", "anthropic", "claude-sonnet-4-5"),
        _model("test/gemini", "gemini", "gemini-2.5-flash"),
        _model("test/qwen", "ollama", "qwen3:32b"),
        _model("test/azure-gpt", "azure", "gpt4o-prod"),
        _model("test/gemini-embed", "gemini", "gemini-embedding-2", output_modalities=["embeddings"]),
        _model("test/ollama-embed", "ollama", "all-minilm", output_modalities=["embeddings"]),
    ]
    upstream.require("/anthropic/", "x-api-key", KEYS["anthropic"], Reply.json(
        {"type": "error", "error": {"type": "authentication_error", "message": "invalid x-api-key"}}, status=401))
    upstream.require("/gemini/", "x-goog-api-key", KEYS["gemini"], Reply.file("gemini/error_400_api_key_invalid.json", 400))
    upstream.require("/azure/", "api-key", KEYS["azure"], Reply.file("openai/error_401_invalid_api_key.json", 401))
    return make_gateway(providers=providers, models=models)


def client(gateway: Gateway) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{gateway.url}/api/v1", api_key=TEST_KEY, max_retries=0, timeout=20)


def assistant_turn(message: Any) -> dict[str, Any]:
    """The assistant message a client sends back, keeping the extras the gateway returned on tool calls."""
    return message.model_dump(exclude_none=True, exclude={"refusal", "reasoning", "annotations", "audio"})


WEATHER_TOOL = {"type": "function", "function": {
    "name": "get_weather", "description": "Current weather in a city",
    "parameters": {"type": "object", "properties": {"location": {"type": "string"}}, "required": ["location"]}}}
