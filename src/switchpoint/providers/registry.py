"""Provider type name (config `type`) -> translator class. Adding a provider adds one line here."""

from __future__ import annotations

from .base import Provider
from .openai import OpenAIProvider
from .openrouter import OpenRouterProvider

PROVIDER_TYPES: dict[str, type[Provider]] = {
    "openai": OpenAIProvider,
    "openrouter": OpenRouterProvider,
}
