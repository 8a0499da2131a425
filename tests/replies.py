"""Upstream replies with chosen usage, for the accounting and cluster tests."""

from __future__ import annotations

import json
from typing import Any

from .upstream import Reply


def usage(prompt: int, completion: int, **details: int) -> dict[str, Any]:
    out: dict[str, Any] = {"prompt_tokens": prompt, "completion_tokens": completion,
                           "total_tokens": prompt + completion}
    if "cached" in details or "cache_write" in details:
        out["prompt_tokens_details"] = {"cached_tokens": details.get("cached", 0),
                                        "cache_write_tokens": details.get("cache_write", 0)}
    if "reasoning" in details:
        out["completion_tokens_details"] = {"reasoning_tokens": details["reasoning"]}
    return out


def chat(prompt: int = 10, completion: int = 20, content: str = "Hello there.", **details: int) -> Reply:
    return Reply.json({
        "id": "chatcmpl-test", "object": "chat.completion", "created": 1727346142, "model": "gpt-4o-mini",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}],
        "usage": usage(prompt, completion, **details),
    })


def stream_body(pieces: list[str], prompt: int = 10, completion: int = 20) -> bytes:
    def event(data: dict[str, Any]) -> bytes:
        return b"data: " + json.dumps(data).encode() + b"\n\n"

    base = {"id": "chatcmpl-s", "object": "chat.completion.chunk", "created": 1, "model": "gpt-4o-mini"}
    out = [event({**base, "choices": [{"index": 0, "delta": {"role": "assistant", "content": ""},
                                        "finish_reason": None}]})]
    out += [event({**base, "choices": [{"index": 0, "delta": {"content": p}, "finish_reason": None}]})
            for p in pieces]
    out.append(event({**base, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}))
    out.append(event({**base, "choices": [], "usage": usage(prompt, completion)}))
    return b"".join(out) + b"data: [DONE]\n\n"


def stream(pieces: list[str], prompt: int = 10, completion: int = 20, pause: float = 0.0) -> Reply:
    return Reply.sse(stream_body(pieces, prompt, completion), pause=pause)


def embeddings(prompt: int = 8, vectors: int = 1) -> Reply:
    return Reply.json({"object": "list", "model": "text-embedding-3-small",
                       "data": [{"object": "embedding", "index": i, "embedding": [0.1, 0.2]} for i in range(vectors)],
                       "usage": {"prompt_tokens": prompt, "total_tokens": prompt}})
