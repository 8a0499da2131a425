"""Canonical results -> OpenAI/OpenRouter JSON and SSE bytes. The one place errors become envelopes."""

from __future__ import annotations

import base64
import struct
from typing import Any

import orjson

from ..accounting.pricing import from_nanos
from ..errors import SwitchpointError
from ..generation import GenerationRecord
from ..types import Choice, Completion, Delta, Embeddings, ToolCall, Usage

DONE = b"data: [DONE]\n\n"
KEEPALIVE = b": SWITCHPOINT PROCESSING\n\n"


def error_body(err: SwitchpointError) -> bytes:
    metadata = dict(err.metadata)
    metadata.setdefault("error_type", err.error_type)
    return orjson.dumps({"error": {"code": err.status, "message": err.message, "metadata": metadata}})


def usage_dict(usage: Usage, cost_nanos: int, markup_nanos: int = 0, completion_nanos: int = 0) -> dict[str, Any]:
    cost = from_nanos(cost_nanos)
    return {
        "prompt_tokens": usage.prompt_tokens,
        "completion_tokens": usage.completion_tokens,
        "total_tokens": usage.total_tokens,
        "cost": cost,
        "is_byok": False,
        "prompt_tokens_details": {"cached_tokens": usage.cached_tokens,
                                  "cache_write_tokens": usage.cache_write_tokens},
        "completion_tokens_details": {"reasoning_tokens": usage.reasoning_tokens},
        "cost_details": cost_details(cost_nanos, markup_nanos, completion_nanos),
    }


def cost_details(cost_nanos: int, markup_nanos: int, completion_nanos: int = 0) -> dict[str, float]:
    """`usage.cost` includes the operator's markup; this shows the provider's price, split into the
    prompt's and the completion's shares as OpenRouter does, and the markup apart."""
    upstream = cost_nanos - markup_nanos
    return {"upstream_inference_cost": from_nanos(upstream),
            "upstream_inference_prompt_cost": from_nanos(upstream - completion_nanos),
            "upstream_inference_completions_cost": from_nanos(completion_nanos),
            "markup": from_nanos(markup_nanos)}


def tool_call_dict(tc: ToolCall, index: int | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"id": tc.id, "type": "function", "function": {"name": tc.name, "arguments": tc.arguments}}
    if index is not None:
        out["index"] = index
    if tc.extra:
        out.update(tc.extra)
    return out


def message_dict(choice: Choice) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": choice.content, "refusal": choice.refusal,
                               "reasoning": choice.reasoning}
    if choice.tool_calls:
        message["tool_calls"] = [tool_call_dict(tc) for tc in choice.tool_calls]
    if choice.extra:
        message.update(choice.extra)
    return message


def completion_body(completion: Completion, record: GenerationRecord, usage: Usage, *, created: int,
                    legacy: bool = False) -> bytes:
    choices = []
    for choice in completion.choices:
        item: dict[str, Any] = {"index": choice.index, "logprobs": choice.logprobs,
                                "finish_reason": choice.finish_reason,
                                "native_finish_reason": choice.native_finish_reason}
        if legacy:
            item["text"] = choice.content or ""
        else:
            item["message"] = message_dict(choice)
        choices.append(item)
    body = {
        "id": record.id,
        "object": "text_completion" if legacy else "chat.completion",
        "created": created,
        "model": record.model,
        "provider": record.provider,
        "system_fingerprint": completion.system_fingerprint,
        "choices": choices,
        "usage": usage_dict(usage, record.cost_nanos, record.markup_nanos, record.completion_nanos),
    }
    if completion.service_tier:
        body["service_tier"] = completion.service_tier
    if record.router:
        body["router"] = record.router
    if record.cache_hit:
        body["cache_hit"] = True
    return orjson.dumps(body)


class ChunkRenderer:
    """Renders deltas as `data:` lines. The envelope prefix is built once per stream."""

    __slots__ = ("prefix", "legacy", "_envelope")

    def __init__(self, generation_id: str, created: int, model: str, provider: str | None,
                 legacy: bool = False) -> None:
        self.legacy = legacy
        obj = "text_completion" if legacy else "chat.completion.chunk"
        self._envelope = {"id": generation_id, "object": obj, "created": created, "model": model,
                          "provider": provider}
        head = orjson.dumps(self._envelope)[:-1]
        self.prefix = b"data: " + head + b',"choices":['

    def delta(self, delta: Delta) -> bytes:
        return self.prefix + orjson.dumps(self.choice(delta)) + b"]}\n\n"

    def choice(self, delta: Delta) -> dict[str, Any]:
        if self.legacy:
            return {"index": delta.index, "text": delta.content or "", "logprobs": delta.logprobs,
                    "finish_reason": delta.finish_reason, "native_finish_reason": delta.native_finish_reason}
        body: dict[str, Any] = {}
        if delta.role is not None:
            body["role"] = delta.role
        if delta.content is not None:
            body["content"] = delta.content
        if delta.reasoning is not None:
            body["reasoning"] = delta.reasoning
        if delta.refusal is not None:
            body["refusal"] = delta.refusal
        if delta.tool_calls:
            calls = []
            for tc in delta.tool_calls:
                call: dict[str, Any] = {"index": tc.index}
                if tc.id is not None:
                    call["id"] = tc.id
                    call["type"] = "function"
                fn: dict[str, Any] = {"arguments": tc.arguments}
                if tc.name is not None:
                    fn["name"] = tc.name
                call["function"] = fn
                if tc.extra:
                    call.update(tc.extra)
                calls.append(call)
            body["tool_calls"] = calls
        if delta.extra:
            body.update(delta.extra)
        choice: dict[str, Any] = {"index": delta.index, "delta": body, "finish_reason": delta.finish_reason,
                                  "native_finish_reason": delta.native_finish_reason}
        if delta.logprobs is not None:
            choice["logprobs"] = delta.logprobs
        return choice

    def usage(self, usage: Usage, cost_nanos: int, markup_nanos: int = 0, completion_nanos: int = 0,
              router: dict[str, Any] | None = None, cache_hit: bool = False) -> bytes:
        body: dict[str, Any] = {**self._envelope, "choices": [],
                                "usage": usage_dict(usage, cost_nanos, markup_nanos, completion_nanos)}
        if router:
            body["router"] = router
        if cache_hit:
            body["cache_hit"] = True
        return b"data: " + orjson.dumps(body) + b"\n\n"

    def error(self, err: SwitchpointError) -> bytes:
        metadata = dict(err.metadata)
        metadata.setdefault("error_type", err.error_type)
        chunk = {**self._envelope,
                 "error": {"code": err.status, "message": err.message, "metadata": metadata},
                 "choices": [{"index": 0, "delta": {"content": ""}, "finish_reason": "error",
                              "native_finish_reason": None}]}
        return b"data: " + orjson.dumps(chunk) + b"\n\n"


def embeddings_body(result: Embeddings, record: GenerationRecord, encoding: str) -> bytes:
    data = []
    for index, vector in enumerate(result.vectors):
        embedding: Any = vector
        if encoding == "base64":
            embedding = base64.b64encode(struct.pack(f"<{len(vector)}f", *vector)).decode()
        data.append({"object": "embedding", "index": index, "embedding": embedding})
    usage = result.usage
    return orjson.dumps({
        "id": record.id, "object": "list", "model": record.model, "provider": record.provider, "data": data,
        "usage": {"prompt_tokens": usage.prompt_tokens, "total_tokens": usage.prompt_tokens,
                  "cost": from_nanos(record.cost_nanos), "is_byok": False,
                  "cost_details": cost_details(record.cost_nanos, record.markup_nanos)},
    })
