"""An upstream's "the prompt does not fit the context window" is its own error kind, for every wording
the providers use (recorded bodies, sources in tests/fixtures/INDEX.md); other rejections are not."""

from __future__ import annotations

import pytest

from switchpoint.errors import CONTEXT, INVALID, SERVER
from switchpoint.providers.anthropic import AnthropicProvider
from switchpoint.providers.base import Connection, Provider
from switchpoint.providers.gemini import GeminiProvider
from switchpoint.providers.ollama import OllamaProvider
from switchpoint.providers.openai import OpenAIProvider

from .provider_support import fixture_bytes

OPENAI = OpenAIProvider(Connection(name="oai", type="openai", base_url="https://api.openai.test/v1"))
ANTHROPIC = AnthropicProvider(Connection(name="anthropic", type="anthropic", base_url="https://api.anthropic.test"))
GEMINI = GeminiProvider(Connection(name="gemini", type="gemini", base_url="https://gemini.test", api_key="k"))
OLLAMA = OllamaProvider(Connection(name="local", type="ollama", base_url="http://127.0.0.1:11434/"))


@pytest.mark.parametrize(("provider", "status", "name", "kind", "starts"), [
    (OPENAI, 400, "openai/error_400_context_length_exceeded.json", CONTEXT, "This model's maximum context length"),
    (OPENAI, 400, "vllm/error_400_max_context_length.json", CONTEXT, "This model's maximum context length is 6048"),
    (OPENAI, 400, "llamacpp/error_400_exceed_context_size.json", CONTEXT, "the request exceeds the available"),
    (OPENAI, 500, "llamacpp/error_500_context_size_exceeded.json", CONTEXT, "Context size has been exceeded."),
    (ANTHROPIC, 400, "anthropic/error_400_prompt_too_long.json", CONTEXT, "prompt is too long"),
    (ANTHROPIC, 400, "anthropic/error_400_context_limit_max_tokens.json", CONTEXT, "input length and `max_tokens`"),
    (GEMINI, 400, "gemini/error_400_input_token_count.json", CONTEXT, "The input token count (132478)"),
    (OLLAMA, 400, "ollama/api_error_400_context_length.json", CONTEXT, "the input length exceeds"),
    # Not context errors: they keep their kinds.
    (OPENAI, 400, "openai/error_400_unsupported_value.json", INVALID, ""),
    (OPENAI, 500, "openai/error_500_server_error.json", SERVER, ""),
    (ANTHROPIC, 400, "anthropic/error_400_invalid_request.json", INVALID, ""),
    (GEMINI, 400, "gemini/error_400_api_key_invalid.json", "auth", ""),
])
def test_context_errors_are_classified_by_each_provider(provider: Provider, status: int, name: str, kind: str,
                                                        starts: str) -> None:
    err = provider.parse_error(status, {}, fixture_bytes(name))
    assert (err.kind, err.status) == (kind, status)
    assert err.message.startswith(starts)


def test_openai_stream_error_object_with_the_code_is_a_context_error() -> None:
    err = OPENAI.error_object({"message": "Your input exceeds the context window of this model.",
                               "type": "invalid_request_error", "code": "context_length_exceeded"}, b"{}")
    assert err.kind == CONTEXT
