"""OpenRouter's plugins (web search and `:online`, response healing, PDF parsing), run around a
generation by the engine: routing and providers never see them (docs/plugins.md)."""

from .run import PluginRun, Plugins, StreamEdit
from .spec import PluginSet, parse_plugins

__all__ = ["PluginRun", "PluginSet", "Plugins", "StreamEdit", "parse_plugins"]
