"""Context windows: how many tokens a request needs, and which endpoints can hold it.

The estimate is deliberately a formula, not a tokenizer. Text counts one token per 3 UTF-8 bytes
(English runs ~4.2 bytes a token in OpenAI's o200k and cl100k, code ~3, CJK ~1.5-3: over-counting
English by a third is the price of rarely under-counting code), plus 4 tokens a message, the tool
schemas by the same rule, 1,600 tokens an image (Anthropic's largest; OpenAI's high detail is 765 for
1024x1024, Gemini's 258), audio by its length (~1 token per 1,500 base64 bytes, 25-32 tokens a second)
and a file by its bytes. A wrong guess costs little either way: an under-count is caught by the
upstream's own context error, which fails over to a larger window (errors.CONTEXT); an over-count only
matters for a prompt within a third of the window.

Cost (bench/context_cost.py, min of 7 timeit rounds, one core of the shared 2-core Sapphire Rapids,
CPython 3.11, measured under a load average of 8 from other work, so upper figures): the bench's
one-message chat body 0.4 µs; two tools 0.8 µs (the schemas are serialized to count them); a
40-message 15 kB conversation 6-14 µs (a bare `sum(len(...))` over the same messages took 2-6 µs in
the same runs). A request costs ~150 µs of CPU in all. Planning estimates only for a model with a
known window and compares with the smallest one first (routing.plan for the bench body: 2.0 -> 2.7 µs
with a 128k window, 2.0 -> 2.15 µs for the bench's models, which state none; min of 200 rounds). A real tokenizer was measured and left out:
tiktoken downloads its tables at first use (no network in tests, and a cold start that fetches);
bpe-openai, a wheel shipping o200k/cl100k, costs 5 µs for the one-message body and 27 ns a byte beyond
(120 µs for 4.5 kB), 64 ms to load, 77 MB of resident memory per worker process for o200k and a 41 MB
wheel, and would serve only the OpenAI families.

Which endpoints fit, as OpenRouter documents it (openrouter-api.md §3.2, §12): an endpoint fits when
its window holds the prompt plus max_tokens. Where middle-out applies (asked with `transforms:
["middle-out"]`, or by default on endpoints of 8,192 tokens or less; `transforms: []` turns it off) an
endpoint whose window holds at least half of that is eligible too, and when none does the largest such
window is used; the prompt is then cut to fit it (middle_out.py). `fits` and `window` are what a variant
selecting long-context endpoints reuses."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import orjson

from ..types import ChatRequest
from .candidate import Candidate

MIDDLE_OUT = "middle-out"
TRANSFORMS = (MIDDLE_OUT,)
DEFAULT_MIDDLE_OUT_WINDOW = 8192  # OpenRouter applies middle-out by default up to this window
BYTES_PER_TOKEN = 3
MESSAGE_TOKENS = 4   # role and separators, per message (OpenAI counts 3-4)
REPLY_TOKENS = 3     # the assistant turn the reply is primed with
IMAGE_TOKENS = 1600
AUDIO_BYTES_PER_TOKEN = 1500
ANSWER_SHARE = 8     # without max_tokens, middle-out leaves 1/8 of the window for the answer


def estimate_prompt_tokens(request: ChatRequest) -> int:
    """Prompt tokens of a chat request, estimated (see the module docstring). Plain text messages, the
    common case, are summed in one loop without a call per message."""
    size = 0
    tokens = REPLY_TOKENS + MESSAGE_TOKENS * len(request.messages)
    for message in request.messages:
        content = message.get("content")
        if type(content) is str:
            size += len(content) if content.isascii() else len(content.encode())
        elif content is not None:
            tokens += parts_tokens(content) if type(content) is list else 0
        if len(message) > 2:  # more than role and content: tool calls, reasoning
            tokens += message_tokens(message) - message_tokens({"content": content})
    tools = request.params.get("tools")
    if tools:
        size += len(orjson.dumps(tools))
    return tokens + _ceil(size)


def message_tokens(message: dict[str, Any]) -> int:
    content = message.get("content")
    total = MESSAGE_TOKENS
    if type(content) is str:
        total += text_tokens(content)
    elif type(content) is list:
        total += parts_tokens(content)
    calls = message.get("tool_calls")
    if calls:
        total += _ceil(len(orjson.dumps(calls)))
    for name in ("reasoning", "reasoning_content"):
        text = message.get(name)
        if type(text) is str:
            total += text_tokens(text)
    return total


def text_tokens(text: str) -> int:
    return _ceil(len(text) if text.isascii() else len(text.encode()))


def parts_tokens(parts: Iterable[Any]) -> int:
    total = 0
    for part in parts:
        if type(part) is not dict:
            continue
        kind = part.get("type")
        if kind in ("text", "input_text"):
            text = part.get("text")
            total += text_tokens(text) if type(text) is str else 0
        elif kind in ("image_url", "input_image"):
            total += IMAGE_TOKENS
        elif kind == "input_audio":
            audio = part.get("input_audio")
            data = audio.get("data") if type(audio) is dict else None
            total += len(data) // AUDIO_BYTES_PER_TOKEN + 1 if type(data) is str else IMAGE_TOKENS
        else:  # files, video: by their bytes
            total += _ceil(len(orjson.dumps(part)))
    return total


def _ceil(size: int) -> int:
    return -(-size // BYTES_PER_TOKEN)


def needed_tokens(request: ChatRequest) -> int:
    """The window a request needs: its prompt plus max_tokens (at least one token of answer)."""
    return estimate_prompt_tokens(request) + (request.max_tokens or 1)


def window(c: Candidate) -> int:
    """The endpoint's context window in tokens; 0 when the catalogue does not say."""
    return c.window


def middle_out_applies(transforms: list[str] | None, size: int) -> bool:
    """Whether middle-out cuts prompts for an endpoint of this window: as asked, else by default on
    windows of 8,192 tokens or less."""
    if transforms is None:
        return 0 < size <= DEFAULT_MIDDLE_OUT_WINDOW
    return MIDDLE_OUT in transforms


def fits(c: Candidate, needed: int, transforms: list[str] | None) -> bool:
    """The window holds the request, or holds half of it and middle-out will cut the rest."""
    size = c.window
    if size == 0 or needed <= size:
        return True
    return 2 * size >= needed and middle_out_applies(transforms, size)


def select(candidates: list[Candidate], needed: int, transforms: list[str] | None) -> list[Candidate]:
    """The candidates whose window can take the request; when none can, the largest windows that
    middle-out applies to (OpenRouter's fallback), else nothing."""
    kept = [c for c in candidates if fits(c, needed, transforms)]
    if kept or not candidates:
        return kept
    compressible = [c for c in candidates if middle_out_applies(transforms, c.window)]
    if not compressible:
        return []
    largest = max(c.window for c in compressible)
    return [c for c in compressible if c.window == largest]


def prompt_budget(c: Candidate, request: ChatRequest) -> int:
    """Prompt tokens middle-out cuts to on this endpoint: the window less max_tokens (or, without
    max_tokens, less an eighth of the window)."""
    reserve = request.max_tokens or c.window // ANSWER_SHARE
    return max(0, c.window - reserve)
