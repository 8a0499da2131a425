"""OpenRouter's `middle-out` transform: drop or truncate messages from the middle of a conversation
until its prompt fits the endpoint's window (openrouter-api.md §3.2, §12).

What is kept: every system and developer message, the first turn (usually the task) and the most
recent one; what goes first is the turn nearest the middle, then outward, so the beginning and the
end of the conversation survive. An assistant message that calls tools and the tool messages that
answer it are one turn, dropped together: a tool result without its call (or the reverse) is
rejected by every provider. When dropping every middle turn (and then the first) is not enough, the
text of the remaining non-system messages is cut in its middle, longest first, marked with "...".
Pure: a new list, the request's own messages untouched."""

from __future__ import annotations

import dataclasses
from typing import Any

import orjson

from ..types import ChatRequest
from .candidate import Candidate
from .context import REPLY_TOKENS, message_tokens, middle_out_applies, prompt_budget, text_tokens

SYSTEM_ROLES = ("system", "developer")
# Message-count limits of provider types (system prompts aside): Anthropic takes at most 1,000 messages,
# and OpenRouter's middle-out then keeps half from the start and half from the end (openrouter-api.md §12).
MAX_MESSAGES = {"anthropic": 1000}
ELLIPSIS = "\n...\n"
Message = dict[str, Any]


def fit(request: ChatRequest, cand: Candidate) -> ChatRequest:
    """The request as it is sent to this endpoint: cut with middle-out where it applies and the prompt
    does not fit, else the request itself. A cut request loses its native body (the client's own wire
    format, which still holds every message): the provider translates the cut messages instead."""
    if not cand.window or not middle_out_applies(request.transforms, cand.window):
        return request
    tools = request.params.get("tools")
    extra = -(-len(orjson.dumps(tools)) // 3) if tools else 0
    messages = middle_out(request.messages, prompt_budget(cand, request), extra,
                          MAX_MESSAGES.get(cand.endpoint.provider_type))
    if messages is request.messages:
        return request
    return dataclasses.replace(request, messages=messages, native=None)


def middle_out(messages: list[Message], budget: int, extra_tokens: int = 0,
               max_messages: int | None = None) -> list[Message]:
    """`messages` cut to at most `budget` estimated prompt tokens (`extra_tokens`, e.g. tool schemas,
    count against it) and at most `max_messages` non-system messages. The same list when it fits."""
    sizes = [message_tokens(m) for m in messages]
    total = sum(sizes) + REPLY_TOKENS + extra_tokens
    count = sum(1 for m in messages if not _is_system(m))
    limit = count if max_messages is None else max_messages
    if total <= budget and count <= limit:
        return messages
    turns = _turns(messages)
    chat = [t for t in turns if not _is_system(messages[t[0]])]
    dropped: set[int] = set()
    for turn in _drop_order(chat):
        if total <= budget and count <= limit:
            break
        dropped.add(turn[0])
        total -= sum(sizes[turn[0]:turn[1]])
        count -= turn[1] - turn[0]
    kept = [i for start, end in turns if start not in dropped for i in range(start, end)]
    out = [messages[i] for i in kept]
    if total > budget:
        out = _truncate(out, total - budget)
    return out


def _turns(messages: list[Message]) -> list[tuple[int, int]]:
    """[start, end) index ranges: one message each, except an assistant's tool calls with their results."""
    turns: list[tuple[int, int]] = []
    i, n = 0, len(messages)
    while i < n:
        end = i + 1
        message = messages[i]
        if message.get("role") == "assistant" and message.get("tool_calls"):
            ids = {c.get("id") for c in message["tool_calls"] if isinstance(c, dict)}
            while end < n and messages[end].get("role") == "tool" and messages[end].get("tool_call_id") in ids:
                end += 1
        turns.append((i, end))
        i = end
    return turns


def _drop_order(chat: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """The middle turns nearest the middle first, then outward; then the first turn. The last stays."""
    if len(chat) < 2:
        return []
    middle = chat[1:-1]
    centre = (len(middle) - 1) / 2
    order = sorted(range(len(middle)), key=lambda k: (abs(k - centre), k))
    return [middle[k] for k in order] + [chat[0]]


def _is_system(message: Message) -> bool:
    return message.get("role") in SYSTEM_ROLES


def _truncate(messages: list[Message], excess: int) -> list[Message]:
    """Cut `excess` estimated tokens from the middle of the longest non-system texts."""
    out = list(messages)
    order = sorted((i for i, m in enumerate(out) if not _is_system(m) and isinstance(m.get("content"), str)),
                   key=lambda i: -len(out[i]["content"]))
    for i in order:
        if excess <= 0:
            break
        text: str = out[i]["content"]
        tokens = text_tokens(text)
        cut = min(tokens, excess + text_tokens(ELLIPSIS))
        keep_chars = max(0, len(text) - _chars_for(text, cut))
        head = keep_chars // 2
        shorter = text[:head] + ELLIPSIS + text[len(text) - (keep_chars - head):] if keep_chars else ""
        excess -= tokens - text_tokens(shorter)
        out[i] = {**out[i], "content": shorter}
    return out


def _chars_for(text: str, tokens: int) -> int:
    """Characters that make up about `tokens` estimated tokens of this text."""
    bytes_per_char = len(text.encode()) / len(text) if text and not text.isascii() else 1.0
    return int(tokens * 3 / bytes_per_char) + 1

