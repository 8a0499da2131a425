"""Anthropic Messages API (type `anthropic`): POST {base_url}/v1/messages with x-api-key and
anthropic-version. Requests are built in anthropic_request.py, whole responses read in
anthropic_response.py and streams in anthropic_stream.py.

A request that came in on the Messages API (`native.format == "anthropic-messages"`) is passed through:
the client's body with only `model` replaced, its anthropic-version and anthropic-beta headers kept, and
the answer kept raw for the inbound renderer to relay byte for byte (usage is still parsed from it)."""

from __future__ import annotations

from collections.abc import Mapping

import orjson

from ..errors import OVERLOADED, UpstreamError
from ..types import ANTHROPIC_MESSAGES, ChatRequest, Completion, NativeBody, UpstreamRequest
from .anthropic_request import client_betas, messages_body
from .anthropic_response import error_event, parse_message
from .anthropic_stream import AnthropicStreamParser
from .base import Provider, ProviderOptions, StreamParser, Target, error_from_status, load_json, retry_after
from .native import error_json, json_headers

API_VERSION = "2023-06-01"
MESSAGES_FORMAT = ANTHROPIC_MESSAGES


class AnthropicOptions(ProviderOptions):
    """`providers.<name>` settings of the `anthropic` type, beside the common ones: none yet."""


class AnthropicProvider(Provider):
    type = "anthropic"
    Options = AnthropicOptions
    native_format = MESSAGES_FORMAT

    def headers(self, betas: list[str]) -> dict[str, str]:
        headers = {"anthropic-version": API_VERSION, **json_headers(self.connection, "x-api-key")}
        if betas:
            headers["anthropic-beta"] = ",".join(dict.fromkeys(betas))
        return headers

    def build_chat(self, request: ChatRequest, target: Target) -> UpstreamRequest:
        url = self.connection.base_url.rstrip("/") + "/v1/messages"
        if request.native is not None and self.passes_through(request):
            return UpstreamRequest("POST", url, self.native_headers(request.native),
                                   orjson.dumps(passthrough_body(request.native, target)))
        body, betas = messages_body(request, target)
        return UpstreamRequest("POST", url, self.headers(client_betas(request) + betas), orjson.dumps(body))

    def native_headers(self, native: NativeBody) -> dict[str, str]:
        headers = self.headers(beta_list(native.headers.get("anthropic-beta")))
        version = native.headers.get("anthropic-version")
        if version:
            headers["anthropic-version"] = version
        return headers

    def build_count_tokens(self, native: NativeBody, target: Target) -> UpstreamRequest:
        """POST /v1/messages/count_tokens with the client's body (model replaced; fields the counting
        endpoint does not take removed)."""
        body = {k: v for k, v in native.body.items() if k in COUNT_FIELDS}
        body["model"] = target.model
        url = self.connection.base_url.rstrip("/") + "/v1/messages/count_tokens"
        return UpstreamRequest("POST", url, self.native_headers(native), orjson.dumps(body))

    def parse_chat(self, body: bytes) -> Completion:
        data = load_json(body)
        if not isinstance(data, dict) or data.get("type") == "error":
            raise error_event(data if isinstance(data, dict) else {}, body)
        return parse_message(data)

    def read_chat(self, request: ChatRequest, body: bytes) -> Completion:
        completion = self.parse_chat(body)
        if self.passes_through(request):
            completion.native = body
        return completion

    def stream_parser(self, request: ChatRequest, target: Target) -> StreamParser:
        return AnthropicStreamParser(relay=self.passes_through(request))

    def parse_error(self, status: int, headers: Mapping[str, str], body: bytes) -> UpstreamError:
        data = error_json(body)
        if data is None or not isinstance(data.get("error"), dict):
            return error_from_status(status, headers, body)
        err = error_event(data, body, status)
        err.retry_after = retry_after(headers)
        if status == 529:
            err.kind = OVERLOADED
        return err


# The fields POST /v1/messages/count_tokens accepts (it rejects max_tokens, stream, metadata, ...).
COUNT_FIELDS = frozenset({"model", "messages", "system", "tools", "tool_choice", "thinking", "mcp_servers",
                          "context_management", "output_config", "output_format"})


def passthrough_body(native: NativeBody, target: Target) -> dict[str, object]:
    """The client's Messages body for this endpoint: only `model` replaced."""
    body = dict(native.body)
    body["model"] = target.model
    return body


def beta_list(value: str | None) -> list[str]:
    return [v.strip() for v in value.split(",") if v.strip()] if value else []
