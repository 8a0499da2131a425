"""Provider type name (config `type`) -> translator class: the one list of provider types.
Adding a provider adds one line here (docs/contributing-providers.md).

Importing this module also tells the config loader which types exist and the model of each one's
own settings (config/provider_types.py), since config sits below providers and cannot import it."""

from __future__ import annotations

from ..config.provider_types import register_provider_types
from .anthropic import AnthropicProvider
from .azure import AzureProvider
from .base import Provider
from .gemini import GeminiProvider
from .ollama import OllamaProvider
from .openai import OpenAIProvider
from .openrouter import OpenRouterProvider

PROVIDER_TYPES: dict[str, type[Provider]] = {
    "openai": OpenAIProvider,
    "openrouter": OpenRouterProvider,
    "anthropic": AnthropicProvider,
    "gemini": GeminiProvider,
    "ollama": OllamaProvider,
    "azure": AzureProvider,
}

register_provider_types({name: cls.Options for name, cls in PROVIDER_TYPES.items()})
