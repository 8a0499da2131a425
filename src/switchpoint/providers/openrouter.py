"""OpenRouter as an upstream: the OpenAI format plus its extras, passed through as they are
(reasoning objects, cache_control parts, provider preferences of its own), and the app
attribution headers it uses for rankings."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from ..types import ChatRequest, UpstreamRequest
from .base import ProviderOptions, Target
from .openai import OpenAIProvider

ATTRIBUTION_HEADERS = ("http-referer", "x-title", "x-openrouter-title", "x-openrouter-categories")


class OpenRouterOptions(ProviderOptions):
    """`providers.<name>` settings of the `openrouter` type, beside the common ones."""

    responses_api: bool = Field(True, description="Responses API requests pass through to {base_url}/responses "
                                                  "(false: translated to chat completions)")


class OpenRouterProvider(OpenAIProvider):
    type = "openrouter"
    Options = OpenRouterOptions  # its own: a setting added to OpenAIOptions does not apply here unasked

    def build_chat(self, request: ChatRequest, target: Target) -> UpstreamRequest:
        upstream = super().build_chat(request, target)
        for name, value in request.headers.items():
            if name in ATTRIBUTION_HEADERS:
                upstream.headers[name] = value
        return upstream

    def messages(self, messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return messages  # OpenRouter understands its own message extensions

    def apply_reasoning(self, body: dict[str, Any], reasoning: dict[str, Any]) -> None:
        body["reasoning"] = reasoning
