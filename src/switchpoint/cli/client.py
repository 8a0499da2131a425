"""An async client for a running gateway, for the commands that send many requests at once or stream
(compare, chat, status, mcp). One request = one `Answer` with text, usage, cost and timings."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

import orjson

from .common import api_key, gateway_url

if TYPE_CHECKING:
    import aiohttp


def _aiohttp() -> Any:
    """aiohttp, imported on first use: the CLI loads this module, and `switchpoint serve` never needs it."""
    import aiohttp  # noqa: PLC0415

    return aiohttp


@dataclass(slots=True)
class Answer:
    model: str
    text: str = ""
    served_model: str | None = None
    provider: str | None = None
    generation_id: str | None = None
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost: float = 0.0
    latency_s: float | None = None
    ttft_s: float | None = None
    finish_reason: str | None = None
    error: str | None = None
    status: int | None = None
    error_type: str | None = None        # the error's metadata.error_type
    error_provider: str | None = None    # the provider that failed; None when the gateway itself refused
    chunks: int = field(default=0, repr=False)

    @property
    def ok(self) -> bool:
        return self.error is None

    def as_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out.pop("chunks")
        return out


class Gateway:
    """`async with Gateway() as gw:` — base URL and key default to SWITCHPOINT_URL and SWITCHPOINT_API_KEY."""

    def __init__(self, url: str | None = None, key: str | None = None, timeout: float = 600) -> None:
        self.url = (url or gateway_url()).rstrip("/")
        self.key = key if key is not None else api_key(required=False)
        self.timeout = timeout
        self._session: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> Gateway:
        aiohttp = _aiohttp()
        self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=self.timeout))
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._session is not None:
            await self._session.close()

    def headers(self, key: str | None = None) -> dict[str, str]:
        headers = {"content-type": "application/json"}
        if key or self.key:
            headers["authorization"] = f"Bearer {key or self.key}"
        return headers

    async def get(self, path: str, key: str | None = None) -> Any:
        assert self._session is not None
        try:
            async with self._session.get(self.url + path, headers=self.headers(key)) as response:
                body = await response.read()
        except (_aiohttp().ClientError, TimeoutError) as exc:
            raise GatewayError(0, f"cannot reach the gateway at {self.url}: {exc}. Is `switchpoint serve` "
                                  "running? (set SWITCHPOINT_URL)") from None
        if response.status >= 400:
            raise GatewayError(response.status, error_message(body, response.status))
        return orjson.loads(body)

    async def chat(self, body: dict[str, Any], on_text: Callable[[str], None] | None = None) -> Answer:
        """Stream one chat completion; `on_text` sees each piece of text as it arrives. Errors are
        returned in the Answer, not raised, so concurrent requests report side by side."""
        assert self._session is not None
        answer = Answer(model=body["model"])
        started = time.perf_counter()
        try:
            async with self._session.post(self.url + "/api/v1/chat/completions", headers=self.headers(),
                                          data=orjson.dumps({**body, "stream": True})) as response:
                answer.status = response.status
                if response.status >= 400:
                    body = await response.read()
                    answer.error = error_message(body, response.status)
                    answer.error_type, answer.error_provider = error_origin(body)
                else:
                    answer.generation_id = response.headers.get("x-generation-id")
                    await self._read_stream(response, answer, started, on_text)
        except (_aiohttp().ClientError, TimeoutError) as exc:
            answer.error = f"cannot reach the gateway at {self.url}: {exc.__class__.__name__}: {exc}"
        answer.latency_s = time.perf_counter() - started
        return answer

    async def _read_stream(self, response: aiohttp.ClientResponse, answer: Answer, started: float,
                           on_text: Callable[[str], None] | None) -> None:
        async for raw in response.content:
            line = raw.strip()
            if not line.startswith(b"data:"):
                continue
            data = line[5:].strip()
            if data == b"[DONE]":
                return
            chunk = orjson.loads(data)
            answer.served_model = chunk.get("model") or answer.served_model
            answer.provider = chunk.get("provider") or answer.provider
            answer.generation_id = chunk.get("id") or answer.generation_id
            if chunk.get("error"):
                answer.error = chunk["error"].get("message", "the stream failed")
            if chunk.get("usage"):
                usage = chunk["usage"]
                answer.prompt_tokens = usage.get("prompt_tokens") or 0
                answer.completion_tokens = usage.get("completion_tokens") or 0
                answer.cost = float(usage.get("cost") or 0)
            for choice in chunk.get("choices") or []:
                answer.finish_reason = choice.get("finish_reason") or answer.finish_reason
                text = (choice.get("delta") or {}).get("content")
                if text:
                    if answer.ttft_s is None:
                        answer.ttft_s = time.perf_counter() - started
                    answer.text += text
                    answer.chunks += 1
                    if on_text is not None:
                        on_text(text)


class GatewayError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def error_origin(body: bytes) -> tuple[str | None, str | None]:
    """An error body's metadata.error_type and metadata.provider_name (set only when a provider failed)."""
    try:
        metadata = (orjson.loads(body).get("error") or {}).get("metadata") or {}
        return metadata.get("error_type"), metadata.get("provider_name")
    except (orjson.JSONDecodeError, AttributeError):
        return None, None


def error_message(body: bytes, status: int) -> str:
    try:
        error = orjson.loads(body).get("error") or {}
        return f"{status}: {error.get('message') or 'error'}"
    except (orjson.JSONDecodeError, AttributeError):
        return f"HTTP {status}"
