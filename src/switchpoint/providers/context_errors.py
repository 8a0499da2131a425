"""Telling an upstream's "the prompt does not fit the context window" from any other rejected request.

Routing treats it as its own kind (errors.CONTEXT): the request is fine, the endpoint's window is too
small, so it fails over to an endpoint with a larger window instead of being returned at once. Only a
few servers give it a structured code, so each provider's error mapper asks `exceeds_context` about the
code and message it read. The wordings, with the recordings they come from (tests/fixtures/INDEX.md):

- OpenAI (and Azure, Groq, ... that copy it): code `context_length_exceeded`, "This model's maximum
  context length is 8192 tokens. However, your messages resulted in 8227 tokens." (the Responses API
  says "Your input exceeds the context window of this model").
- vLLM: "This model's maximum context length is 6048 tokens. However, you requested 6616 tokens (...)"
  with `type: BadRequestError` and no code.
- llama.cpp server: `type: exceed_context_size_error`, "the request exceeds the available context size,
  try increasing it" (older builds: a 500 "Context size has been exceeded.").
- Anthropic: invalid_request_error "prompt is too long: 219898 tokens > 200000 maximum", and "input
  length and `max_tokens` exceed context limit: 199759 + 8192 > 200000".
- Gemini: INVALID_ARGUMENT "The input token count (132478) exceeds the maximum number of tokens allowed
  (131072)."
- Ollama: "the input length exceeds the context length" (chat requests are truncated by Ollama itself
  unless it is told not to)."""

from __future__ import annotations

import re

from ..errors import CONTEXT, INVALID, SERVER, UpstreamError

CODES = frozenset({"context_length_exceeded", "exceed_context_size_error"})
# Only a rejected request or a server error can mean it (a 401 quoting a prompt cannot).
KINDS = frozenset({INVALID, SERVER})
_WORDING = re.compile(
    "|".join((
        r"maximum context length is",                       # OpenAI, vLLM, most OpenAI-compatible servers
        r"exceeds the context window",                      # OpenAI Responses
        r"exceeds? the available context size",             # llama.cpp
        r"context size has been exceeded",                  # llama.cpp, older
        r"prompt is too long",                              # Anthropic
        r"exceed context limit",                            # Anthropic, input + max_tokens
        r"input token count .* exceeds the maximum number of tokens",  # Gemini
        r"input length exceeds the context length",         # Ollama
        r"context length exceeded|context_length_exceeded",  # generic relays (OpenRouter, LiteLLM)
    )),
    re.IGNORECASE,
)


def exceeds_context(message: str | None, code: str | None = None) -> bool:
    """Whether an upstream error says the prompt (plus max_tokens) is larger than the context window."""
    if code is not None and code in CODES:
        return True
    return message is not None and _WORDING.search(message) is not None


def classify(err: UpstreamError, message: str | None = None, code: str | None = None) -> UpstreamError:
    """The error, as CONTEXT when it says the prompt does not fit (else unchanged)."""
    if err.kind in KINDS and exceeds_context(message if message is not None else err.message,
                                             code if code is not None else err.provider_code):
        err.kind = CONTEXT
    return err
