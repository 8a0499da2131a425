"""Anthropic Messages responses: the parts the non-streaming and streaming paths share (blocks, stop
reasons, usage, error objects, citations) and the parser of a whole message.

Only `tool_use` blocks are client tool calls. Server tools run by Anthropic (web search, web fetch,
code execution, MCP connector tools) arrive as `server_tool_use` / `mcp_tool_use` blocks and their
`*_tool_result` blocks; they are never shown as tool calls. What they contribute reaches the client as
OpenRouter does it: the citations on text blocks become `annotations` of type `url_citation`, with
start/end offsets into the message content."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..errors import AUTH, ENDPOINT, INVALID, OVERLOADED, QUOTA, RATE_LIMIT, SERVER, UpstreamError
from ..types import Choice, Completion, ToolCall, Usage
from . import context_errors
from .anthropic_request import REASONING_FORMAT
from .base import error_from_status
from .native import dump_arguments

STOP_REASONS = {
    "end_turn": "stop", "stop_sequence": "stop", "pause_turn": "stop", "max_tokens": "length",
    "model_context_window_exceeded": "length", "tool_use": "tool_calls", "refusal": "content_filter",
}
ERROR_KINDS = {
    "invalid_request_error": INVALID, "authentication_error": AUTH, "permission_error": AUTH,
    "not_found_error": ENDPOINT, "request_too_large": INVALID, "rate_limit_error": RATE_LIMIT,
    "api_error": SERVER, "overloaded_error": OVERLOADED, "billing_error": QUOTA, "timeout_error": SERVER,
}


def parse_message(data: Mapping[str, Any]) -> Completion:
    choice = Choice(index=0)
    details: list[dict[str, Any]] = []
    texts: list[str] = []
    reasoning: list[str] = []
    annotations: list[dict[str, Any]] = []
    documents: list[dict[str, Any]] = []
    offset = 0
    for block in data.get("content") or ():
        kind = block.get("type")
        if kind == "text":
            text = block.get("text") or ""
            texts.append(text)
            for citation in block.get("citations") or ():
                annotation = url_citation(citation, offset, offset + len(text), documents)
                if annotation is not None:
                    annotations.append(annotation)
            offset += len(text)
        elif kind in FETCH_RESULTS:
            documents.extend(fetched_documents(block))
        elif kind == "tool_use":
            choice.tool_calls.append(ToolCall(block.get("id") or "", block.get("name") or "",
                                              dump_arguments(block.get("input"))))
        elif kind in ("thinking", "redacted_thinking"):
            if block.get("thinking"):
                reasoning.append(block["thinking"])
            details.append(reasoning_detail(block, len(details)))
    text = "".join(texts)
    choice.content = text if text or not choice.tool_calls else None
    choice.reasoning = "".join(reasoning) or None
    extra: dict[str, Any] = {}
    if details:
        extra["reasoning_details"] = details
    if annotations:
        extra["annotations"] = annotations
    choice.extra = extra or None
    stop = data.get("stop_reason")
    choice.finish_reason = finish_reason(stop)
    choice.native_finish_reason = stop
    choice.refusal = refusal(stop, data.get("stop_details"))
    return Completion(choices=[choice], usage=parse_usage(data.get("usage")), upstream_id=data.get("id"),
                      upstream_model=data.get("model"))


FETCH_RESULTS = frozenset({"web_fetch_tool_result"})


def fetched_documents(block: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The pages a web_fetch_tool_result holds ({url, title}), in order: `char_location` and
    `page_location` citations point at them by document_index."""
    content = block.get("content")
    if not isinstance(content, dict) or content.get("type") != "web_fetch_result":
        return []
    inner = content.get("content")
    document: dict[str, Any] = inner if isinstance(inner, dict) else {}
    return [{"url": content.get("url"), "title": document.get("title")}]


def url_citation(citation: Mapping[str, Any], start: int, end: int,
                 documents: list[dict[str, Any]]) -> dict[str, Any] | None:
    """An Anthropic citation as an OpenRouter `url_citation` annotation over content[start:end], or
    None for a citation with no URL (a passage of a document the client sent)."""
    kind = citation.get("type")
    url = title = None
    if kind == "web_search_result_location":
        url, title = citation.get("url"), citation.get("title")
    elif kind == "search_result_location":
        url, title = citation.get("source"), citation.get("title")
    elif kind in ("char_location", "page_location", "content_block_location"):
        index = citation.get("document_index")
        if isinstance(index, int) and 0 <= index < len(documents):
            url = documents[index].get("url")
            title = citation.get("document_title") or documents[index].get("title")
    if not isinstance(url, str) or not url:
        return None
    found: dict[str, Any] = {"url": url, "title": title or "", "start_index": start, "end_index": end}
    if citation.get("cited_text"):
        found["content"] = citation["cited_text"]
    return {"type": "url_citation", "url_citation": found}


def finish_reason(stop_reason: str | None) -> str | None:
    if stop_reason is None:
        return None
    return STOP_REASONS.get(stop_reason, "stop")


def refusal(stop_reason: str | None, details: Any) -> str | None:
    if stop_reason != "refusal":
        return None
    explanation = details.get("explanation") if isinstance(details, dict) else None
    return explanation or "The model refused to answer."


def reasoning_detail(block: Mapping[str, Any], index: int) -> dict[str, Any]:
    """A thinking block as an OpenRouter reasoning_details item (the client echoes it back)."""
    if block.get("type") == "redacted_thinking":
        return {"type": "reasoning.encrypted", "data": block.get("data") or "", "format": REASONING_FORMAT,
                "index": index}
    return {"type": "reasoning.text", "text": block.get("thinking") or "", "signature": block.get("signature"),
            "format": REASONING_FORMAT, "index": index}


def parse_usage(raw: Any, previous: Usage | None = None) -> Usage | None:
    """Anthropic usage -> canonical. `input_tokens` excludes cache reads and writes; counters a
    (cumulative) message_delta omits keep their earlier values."""
    if not isinstance(raw, dict):
        return previous
    base = previous or Usage()
    fresh = raw.get("input_tokens")
    read = raw.get("cache_read_input_tokens")
    write = raw.get("cache_creation_input_tokens")
    cached = base.cached_tokens if read is None else read or 0
    written = base.cache_write_tokens if write is None else write or 0
    uncached = base.prompt_tokens - base.cached_tokens - base.cache_write_tokens if fresh is None else fresh or 0
    output = raw.get("output_tokens")
    return Usage(prompt_tokens=uncached + cached + written,
                 completion_tokens=base.completion_tokens if output is None else output or 0,
                 cached_tokens=cached, cache_write_tokens=written)


def error_event(data: Mapping[str, Any], body: bytes, status: int | None = None) -> UpstreamError:
    """An Anthropic error object (HTTP error body or `event: error` in a stream) -> UpstreamError."""
    found = data.get("error")
    error: dict[str, Any] = found if isinstance(found, dict) else {}
    code = error.get("type")
    message = error.get("message") or f"Anthropic returned {code or 'an error'}"
    kind = ERROR_KINDS.get(code or "")
    if kind is None:
        kind = error_from_status(status, {}, body).kind if status else SERVER
    if kind == INVALID and "credit balance" in message.lower():
        kind = QUOTA  # Anthropic reports an empty prepaid balance as invalid_request_error
    return context_errors.classify(UpstreamError(kind, message, status=status,
                                                 raw=body[:4000].decode("utf-8", "replace"), provider_code=code))
