"""OpenAI's Responses API as an outbound wire format, for passthrough only: an endpoint that serves
POST {base}/responses itself (OpenAI with `responses_api: true`, Azure, OpenRouter) receives a Responses
request as the client sent it (model replaced, the conversation of previous_response_id expanded by the
gateway), and its answer is relayed byte for byte. This module reads that answer for accounting and for
the gateway's stored state: the whole Response object (`parse_response`) or its stream
(`ResponsesStreamParser`), usage from `usage.input_tokens` / `output_tokens` and their details."""

from __future__ import annotations

import hashlib
from typing import Any

from ..errors import SERVER, UpstreamError
from ..types import Choice, Completion, Delta, NativeBody, ToolCall, ToolCallDelta, Usage
from .base import load_json
from .relay import RelayingSSEParser

# OpenRouter's own request extras: only an OpenRouter endpoint takes them.
OPENROUTER_EXTRAS = ("models", "provider", "plugins", "usage", "transforms", "route")
FAILURES = (b"event: error", b"event: response.failed")


def passthrough_body(native: NativeBody, model: str, *, openrouter: bool) -> dict[str, Any]:
    body = dict(native.body)
    body["model"] = model
    if not openrouter:
        for name in OPENROUTER_EXTRAS:
            body.pop(name, None)
    user = body.get("user")
    if isinstance(user, str):  # an end-user id is hashed, never forwarded raw (as for chat)
        body["user"] = hashlib.sha256(user.encode()).hexdigest()[:32]
    return body


def parse_usage(data: Any) -> Usage | None:
    if not isinstance(data, dict):
        return None
    cached = (data.get("input_tokens_details") or {}).get("cached_tokens") or 0
    reasoning = (data.get("output_tokens_details") or {}).get("reasoning_tokens") or 0
    return Usage(prompt_tokens=data.get("input_tokens") or 0, completion_tokens=data.get("output_tokens") or 0,
                 cached_tokens=cached, reasoning_tokens=reasoning)


def response_error(error: Any, body: bytes) -> UpstreamError:
    error = error if isinstance(error, dict) else {}
    return UpstreamError(SERVER, str(error.get("message") or "upstream response failed"),
                         raw=body[:4000].decode("utf-8", "replace"), provider_code=error.get("code"))


def parse_response(body: bytes) -> Completion:
    data = load_json(body)
    if not isinstance(data, dict):
        raise UpstreamError(SERVER, "upstream sent a non-object body", raw=body[:2000].decode("utf-8", "replace"))
    if data.get("error"):
        raise response_error(data["error"], body)
    choice = Choice()
    texts: list[str] = []
    reasoning: list[str] = []
    for item in data.get("output") or ():
        kind = item.get("type") if isinstance(item, dict) else None
        if kind == "message":
            for part in item.get("content") or ():
                if part.get("type") == "output_text":
                    texts.append(part.get("text") or "")
                elif part.get("type") == "refusal":
                    choice.refusal = part.get("refusal")
        elif kind == "function_call":
            choice.tool_calls.append(ToolCall(item.get("call_id") or "", item.get("name") or "",
                                              item.get("arguments") or ""))
        elif kind == "reasoning":
            reasoning.extend(s.get("text") or "" for s in item.get("summary") or ())
    choice.content = "".join(texts) or None
    choice.reasoning = "\n\n".join(reasoning) or None
    choice.finish_reason = finish_reason(data, bool(choice.tool_calls))
    return Completion([choice], usage=parse_usage(data.get("usage")), upstream_id=data.get("id"),
                      upstream_model=data.get("model"), service_tier=data.get("service_tier"))


def finish_reason(response: dict[str, Any], called: bool) -> str:
    if response.get("status") == "incomplete":
        reason = (response.get("incomplete_details") or {}).get("reason")
        return "content_filter" if reason == "content_filter" else "length"
    return "tool_calls" if called else "stop"


class ResponsesStreamParser(RelayingSSEParser):
    """The semantic events of a Responses stream -> canonical deltas (for accounting and the generation
    log); with `relay`, each read also yields the raw bytes of the whole events it completed, as
    `Delta(raw=...)` ahead of the deltas parsed from them (an upstream failure event is cut: the gateway
    reports the failure itself). The final event's response rides on a Delta's extra "response"."""

    terminal = "response.completed"
    failure_events = FAILURES

    def __init__(self, relay: bool = False) -> None:
        super().__init__(relay)
        self._calls: dict[int, int] = {}  # output_index -> tool call index
        self._called = False

    def item(self, item: tuple[str | None, bytes], out: list[Delta]) -> None:
        _, raw = item
        if raw.strip() == b"[DONE]":
            return
        event = load_json(raw)
        if not isinstance(event, dict):
            return
        kind = event.get("type")
        if kind in ("response.output_text.delta",):
            out.append(Delta(content=event.get("delta") or ""))
        elif kind in ("response.reasoning_summary_text.delta", "response.reasoning_text.delta"):
            out.append(Delta(reasoning=event.get("delta") or ""))
        elif kind == "response.refusal.delta":
            out.append(Delta(refusal=event.get("delta") or ""))
        elif kind == "response.output_item.added":
            self._item_added(event, out)
        elif kind == "response.function_call_arguments.delta":
            index = self._calls.get(event.get("output_index", -1))
            if index is not None:
                out.append(Delta(tool_calls=[ToolCallDelta(index, arguments=event.get("delta") or "")]))
        elif kind == "response.created":
            response = event.get("response") or {}
            self.upstream_id, self.upstream_model = response.get("id"), response.get("model")
        elif kind in ("response.completed", "response.incomplete"):
            response = event.get("response") or {}
            self.usage = parse_usage(response.get("usage")) or self.usage
            self.done = True
            out.append(Delta(finish_reason=finish_reason(response, self._called), extra={"response": response}))
        elif kind == "response.failed":
            raise response_error((event.get("response") or {}).get("error"), raw)
        elif kind == "error":
            raise response_error(event, raw)

    def _item_added(self, event: dict[str, Any], out: list[Delta]) -> None:
        item = event.get("item") or {}
        if item.get("type") != "function_call":
            return
        index = len(self._calls)
        self._calls[event.get("output_index", index)] = index
        self._called = True
        out.append(Delta(tool_calls=[ToolCallDelta(index, id=item.get("call_id"), name=item.get("name"),
                                                   arguments=item.get("arguments") or "")]))
