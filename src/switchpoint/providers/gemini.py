"""Google Gemini Developer API (type `gemini`): POST {base_url}/v1beta/models/{model}:generateContent,
:streamGenerateContent?alt=sse and :batchEmbedContents, authenticated with x-goog-api-key.

Requests are built in gemini_request.py, whole responses read in gemini_response.py and streams in
gemini_stream.py."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson

from ..errors import BadRequestError, UpstreamError
from ..types import ChatRequest, Completion, EmbeddingRequest, Embeddings, UpstreamRequest, Usage
from .base import Provider, ProviderOptions, StreamParser, Target, error_from_status, load_json, retry_after
from .gemini_request import generate_body
from .gemini_response import parse_response, status_error
from .gemini_stream import GeminiStreamParser
from .native import error_json, json_headers


class GeminiOptions(ProviderOptions):
    """`providers.<name>` settings of the `gemini` type, beside the common ones: none yet."""


class GeminiProvider(Provider):
    type = "gemini"
    Options = GeminiOptions

    def headers(self) -> dict[str, str]:
        return json_headers(self.connection, "x-goog-api-key")

    def url(self, model: str, method: str) -> str:
        base = self.connection.base_url.rstrip("/")
        if not base.endswith(("/v1beta", "/v1")):
            base += "/v1beta"
        return f"{base}/models/{model.removeprefix('models/')}:{method}"

    def build_chat(self, request: ChatRequest, target: Target) -> UpstreamRequest:
        method = "streamGenerateContent?alt=sse" if request.stream else "generateContent"
        body = generate_body(request, target)
        return UpstreamRequest("POST", self.url(target.model, method), self.headers(), orjson.dumps(body))

    def parse_chat(self, body: bytes) -> Completion:
        data = load_json(body)
        if isinstance(data, list):  # tolerate the JSON-array framing
            data = data[0] if data else {}
        if "error" in data:
            raise status_error(data["error"] or {}, body)
        return parse_response(data)

    def stream_parser(self, request: ChatRequest, target: Target) -> StreamParser:
        return GeminiStreamParser()

    def parse_error(self, status: int, headers: Mapping[str, str], body: bytes) -> UpstreamError:
        error = (error_json(body) or {}).get("error")
        if not isinstance(error, dict):
            return error_from_status(status, headers, body)
        err = status_error(error, body, status)
        if err.retry_after is None:
            err.retry_after = retry_after(headers)
        return err

    # -- embeddings -------------------------------------------------------------------------------

    def build_embeddings(self, request: EmbeddingRequest, target: Target) -> UpstreamRequest:
        model = "models/" + target.model.removeprefix("models/")
        items = []
        for i, text in enumerate(request.inputs):
            if not isinstance(text, str):
                raise BadRequestError(f"input[{i}]: Gemini embeds text only, not token arrays",
                                      metadata={"param": "input"})
            item: dict[str, Any] = {"model": model, "content": {"parts": [{"text": text}]}}
            if request.dimensions is not None:
                item["outputDimensionality"] = request.dimensions
            items.append(item)
        body = {"requests": items}
        return UpstreamRequest("POST", self.url(target.model, "batchEmbedContents"), self.headers(),
                               orjson.dumps(body))

    def parse_embeddings(self, body: bytes) -> Embeddings:
        data = load_json(body)
        if "error" in data:
            raise status_error(data["error"] or {}, body)
        vectors = [list(e.get("values") or ()) for e in data.get("embeddings") or ()]
        meta = data.get("usageMetadata") or {}
        return Embeddings(vectors=vectors, usage=Usage(prompt_tokens=meta.get("promptTokenCount") or 0))
