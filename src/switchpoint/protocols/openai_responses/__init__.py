"""The OpenAI Responses API (`POST /v1/responses`, `GET`/`DELETE /v1/responses/{id}`), as Codex, the
OpenAI Agents SDK and the openai SDKs' `responses` speak it: request -> ChatRequest (request.py, the
conversation items in items.py), Completion -> Response object (response.py), Deltas -> the semantic
stream events (stream.py), errors -> OpenAI's envelope (errors.py); a provider's opaque reasoning rides in
reasoning items' `encrypted_content` (opaque.py)."""

from .errors import error_body
from .request import FORMAT, load_body, parse_responses
from .response import completion_response
from .stream import ResponsesStreamRenderer

__all__ = ["FORMAT", "ResponsesStreamRenderer", "completion_response", "error_body", "load_body", "parse_responses"]
