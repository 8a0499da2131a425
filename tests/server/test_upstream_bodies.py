"""Large upstream answers through the whole gateway: an embeddings answer of several MB arrives
whole, and one past the provider's `max_body_bytes` is a clear 502 in the OpenRouter envelope."""

from __future__ import annotations

import random

import orjson

from ..conftest import TEST_KEY
from ..upstream import Reply
from .test_errors import assert_envelope, post

INPUTS = 300


def embeddings_answer(dimensions: int) -> Reply:
    rng = random.Random(7)
    return Reply(body=orjson.dumps({
        "object": "list", "model": "text-embedding-3-small",
        "data": [{"object": "embedding", "index": i, "embedding": [rng.uniform(-1, 1) for _ in range(dimensions)]}
                 for i in range(INPUTS)],
        "usage": {"prompt_tokens": INPUTS, "total_tokens": INPUTS},
    }))


def test_an_embeddings_answer_of_several_megabytes_arrives_whole(gateway, upstream):
    reply = embeddings_answer(1536)
    assert len(reply.body) > 8 << 20  # far past the upstream client's 256 KiB flow-control mark
    upstream.always("/v1/embeddings", reply)
    status, _, body = post(gateway, {"model": "test/embed", "input": [f"text {i}" for i in range(INPUTS)],
                                     "encoding_format": "float"}, path="/api/v1/embeddings")
    assert status == 200, body
    sent = orjson.loads(reply.body)["data"]
    assert [row["embedding"] for row in body["data"]] == [row["embedding"] for row in sent]


def test_an_answer_past_the_providers_max_body_bytes_is_a_502_naming_the_limit(make_gateway, upstream):
    limit = 1 << 20
    gateway = make_gateway(providers={"up": {"type": "openai", "base_url": f"{upstream.url}/v1", "api_key": "k",
                                             "max_retries": 0, "timeout": 5, "max_body_bytes": limit}})
    upstream.always("/v1/embeddings", embeddings_answer(256))  # ~1.7 MB
    status, _, body = post(gateway, {"model": "test/embed", "input": ["a"] * INPUTS}, key=TEST_KEY,
                           path="/api/v1/embeddings")
    error = assert_envelope(status, body, 502)
    assert f"max_body_bytes ({limit} bytes)" in error["message"]
    assert error["metadata"]["provider_name"] == "up"
    # below the limit the same provider serves
    upstream.always("/v1/embeddings", embeddings_answer(16))
    status, _, body = post(gateway, {"model": "test/embed", "input": ["a"] * INPUTS}, path="/api/v1/embeddings")
    assert status == 200 and len(body["data"]) == INPUTS


def test_a_streamed_line_past_the_limit_is_a_502_not_memory(make_gateway, upstream):
    """A broken upstream that streams one endless SSE line: refused at 16 MiB (providers/framing.py),
    before anything was sent to the client, so it is a 502 in the envelope."""
    gateway = make_gateway(server={"keepalive_interval": 30})
    block = b"x" * (1 << 20)
    upstream.always("/v1/chat/completions", Reply(chunks=[b"data: ", *[block] * 20], content_type="text/event-stream"))
    status, _, body = post(gateway, {"model": "test/gpt", "stream": True, "messages": [{"role": "user", "content": "hi"}]})
    error = assert_envelope(status, body, 502)
    assert "a line longer than 16777216 bytes" in error["message"]
