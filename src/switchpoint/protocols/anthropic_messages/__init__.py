"""The Anthropic Messages API (`POST /v1/messages`, `/v1/messages/count_tokens`), as Claude Code and the
anthropic SDKs speak it: request -> ChatRequest (request.py), Completion -> message JSON (response.py),
Deltas -> Anthropic's SSE events (stream.py), errors -> Anthropic's envelope (errors.py), and model names
-> catalogue ids (models.py)."""

from .errors import error_body, error_status, error_type
from .models import ModelNames
from .request import FORMAT, estimate_input_tokens, parse_messages
from .response import message_body, usage_body
from .stream import PING, MessagesStreamRenderer

__all__ = ["FORMAT", "PING", "MessagesStreamRenderer", "ModelNames", "error_body", "error_status", "error_type",
           "estimate_input_tokens", "message_body", "parse_messages", "usage_body"]
