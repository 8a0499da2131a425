"""Anthropic Messages API (type `anthropic`): POST {base_url}/v1/messages with x-api-key and
anthropic-version. Requests are built in anthropic_request.py, whole responses read in
anthropic_response.py and streams in anthropic_stream.py."""

from __future__ import annotations

from collections.abc import Mapping

import orjson

from ..errors import OVERLOADED, UpstreamError
from ..types import ChatRequest, Completion, UpstreamRequest
from .anthropic_request import client_betas, messages_body
from .anthropic_response import error_event, parse_message
from .anthropic_stream import AnthropicStreamParser
from .base import Provider, ProviderOptions, StreamParser, Target, error_from_status, load_json, retry_after
from .native import error_json, json_headers

API_VERSION = "2023-06-01"


class AnthropicOptions(ProviderOptions):
    """`providers.<name>` settings of the `anthropic` type, beside the common ones: none yet."""


class AnthropicProvider(Provider):
    type = "anthropic"
    Options = AnthropicOptions

    def headers(self, betas: list[str]) -> dict[str, str]:
        headers = {"anthropic-version": API_VERSION, **json_headers(self.connection, "x-api-key")}
        if betas:
            headers["anthropic-beta"] = ",".join(dict.fromkeys(betas))
        return headers

    def build_chat(self, request: ChatRequest, target: Target) -> UpstreamRequest:
        body, betas = messages_body(request, target)
        url = self.connection.base_url.rstrip("/") + "/v1/messages"
        return UpstreamRequest("POST", url, self.headers(client_betas(request) + betas), orjson.dumps(body))

    def parse_chat(self, body: bytes) -> Completion:
        data = load_json(body)
        if not isinstance(data, dict) or data.get("type") == "error":
            raise error_event(data if isinstance(data, dict) else {}, body)
        return parse_message(data)

    def stream_parser(self, request: ChatRequest, target: Target) -> StreamParser:
        return AnthropicStreamParser()

    def parse_error(self, status: int, headers: Mapping[str, str], body: bytes) -> UpstreamError:
        data = error_json(body)
        if data is None or not isinstance(data.get("error"), dict):
            return error_from_status(status, headers, body)
        err = error_event(data, body, status)
        err.retry_after = retry_after(headers)
        if status == 529:
            err.kind = OVERLOADED
        return err
