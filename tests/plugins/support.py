"""Upstream answers for the plugin tests, made from recorded OpenAI payloads with only the text changed."""

from __future__ import annotations

import json
from typing import Any

from ..upstream import Reply, fixture

CHAT = "/v1/chat/completions"
SEARCH = "/exa/search"
EXA_URL = "https://arxiv.org/pdf/2307.06435.pdf"
EXA_TITLE = "A Comprehensive Overview of Large Language Models"


def search_config(upstream: Any, **extra: Any) -> dict[str, Any]:
    return {"base_url": f"{upstream.url}/exa", "api_key": "exa-test-key", **extra}


def answer(text: str) -> Reply:
    """The recorded chat completion (openai/chat_text.response.json) saying `text`."""
    body = json.loads(fixture("openai/chat_text.response.json"))
    body["choices"][0]["message"]["content"] = text
    return Reply.json(body)


def streamed(*pieces: str) -> Reply:
    """The recorded stream (openai/chat_stream_text_usage.sse): its role chunk, one content chunk per
    piece, its finishing chunk and its usage chunk, as sent."""
    events = [e for e in fixture("openai/chat_stream_text_usage.sse").decode().split("\n\n") if e.strip()]
    chunks = [json.loads(e[len("data: "):]) for e in events if e != "data: [DONE]"]
    role = chunks[0]
    content = next(c for c in chunks if c["choices"] and c["choices"][0]["delta"].get("content"))
    finish = next(c for c in chunks if c["choices"] and c["choices"][0]["finish_reason"])
    usage = chunks[-1]
    out = [role]
    for piece in pieces:
        chunk = json.loads(json.dumps(content))
        chunk["choices"][0]["delta"]["content"] = piece
        out.append(chunk)
    out += [finish, usage]
    raw = "".join(f"data: {json.dumps(c)}\n\n" for c in out) + "data: [DONE]\n\n"
    return Reply.sse(raw.encode())


def sse_chunks(raw: bytes) -> list[dict[str, Any]]:
    out = []
    for line in raw.decode().splitlines():
        if line.startswith("data: ") and line != "data: [DONE]":
            out.append(json.loads(line[len("data: "):]))
    return out
