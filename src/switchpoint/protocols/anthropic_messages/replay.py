"""A cached Messages answer replayed under a new generation id, billed 0.

What the gateway rendered (translated answers) carries the original generation id and its cost: the id is
renamed and `usage.cost` set to 0. A passed-through answer is Anthropic's own bytes and is replayed as is."""

from __future__ import annotations

import orjson


def replay_body(body: str, stored_id: str, generation_id: str) -> bytes:
    data = orjson.loads(body)
    if not isinstance(data, dict) or data.get("id") != stored_id:
        return body.encode()  # passed through: Anthropic's own message
    data["id"] = generation_id
    if isinstance(data.get("usage"), dict):
        data["usage"]["cost"] = 0
    return orjson.dumps(data)


def replay_stream(chunks: list[str], stored_id: str, generation_id: str) -> list[bytes]:
    old, new = b'"id":"' + stored_id.encode() + b'"', b'"id":"' + generation_id.encode() + b'"'
    return [_free(chunk.encode().replace(old, new)) for chunk in chunks]


def _free(chunk: bytes) -> bytes:
    """The message_delta frame of a rendered stream with its cost set to 0."""
    if b"event: message_delta\n" not in chunk or b'"cost":' not in chunk:
        return chunk
    frames = []
    for frame in chunk.split(b"\n\n"):
        if frame.startswith(b"event: message_delta\ndata: "):
            head, _, payload = frame.partition(b"data: ")
            data = orjson.loads(payload)
            data.get("usage", {})["cost"] = 0
            frame = head + b"data: " + orjson.dumps(data)
        frames.append(frame)
    return b"\n\n".join(frames)
