"""The one upstream HTTP client pool (aiohttp). The only module that opens connections upstream."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass

import aiohttp
from yarl import URL

from .errors import CONNECT, TIMEOUT, UpstreamError
from .observability.context import current_scope
from .types import UpstreamRequest


@dataclass(slots=True)
class UpstreamResponse:
    status: int
    headers: Mapping[str, str]
    response: aiohttp.ClientResponse

    async def read(self) -> bytes:
        try:
            return await self.response.read()
        except TimeoutError:
            raise UpstreamError(TIMEOUT, "the provider stopped sending the response") from None
        except (aiohttp.ClientError, ConnectionError) as exc:
            raise UpstreamError(CONNECT, f"connection lost while reading the response: {exc}") from None

    async def chunks(self) -> AsyncIterator[bytes]:
        """Body bytes as they arrive."""
        try:
            async for chunk in self.response.content.iter_any():
                yield chunk
        except TimeoutError:
            raise UpstreamError(TIMEOUT, "the provider went silent mid-stream") from None
        except (aiohttp.ClientPayloadError, aiohttp.ClientConnectionError, ConnectionError) as exc:
            raise UpstreamError(CONNECT, f"upstream connection broke mid-stream: {exc}") from None

    def close(self) -> None:
        """Drop the connection (used when we abandon a response: cancels the upstream generation)."""
        self.response.close()

    def release(self) -> None:
        self.response.release()


class Transport:
    def __init__(self, *, limit: int = 0, limit_per_host: int = 0) -> None:
        self._limit = limit
        self._limit_per_host = limit_per_host
        self._session: aiohttp.ClientSession | None = None
        self._urls: dict[str, URL] = {}
        self._timeouts: dict[tuple[float, float], aiohttp.ClientTimeout] = {}

    def session(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            connector = aiohttp.TCPConnector(limit=self._limit, limit_per_host=self._limit_per_host,
                                             ttl_dns_cache=300, keepalive_timeout=30)
            self._session = aiohttp.ClientSession(connector=connector, auto_decompress=True,
                                                  skip_auto_headers=("User-Agent",),
                                                  cookie_jar=aiohttp.DummyCookieJar())  # no cookies between users
        return self._session

    async def send(self, request: UpstreamRequest, *, first_byte_timeout: float,
                   read_timeout: float | None = None) -> UpstreamResponse:
        """Send and wait for the status line and headers. `read_timeout` bounds each later read."""
        timeout = self._timeout(first_byte_timeout, read_timeout or first_byte_timeout)
        headers = request.headers
        scope = current_scope()
        if scope is not None:
            headers = {**headers, "x-request-id": scope.request_id}
        try:
            # sock_read bounds the wait for the status line as well as every later read.
            response = await self.session().request(
                request.method, self._url(request.url), headers=headers, data=request.body,
                timeout=timeout, allow_redirects=False,
            )
        except TimeoutError:
            raise UpstreamError(TIMEOUT, f"no response within {first_byte_timeout:g}s") from None
        except (aiohttp.ClientError, OSError) as exc:
            raise UpstreamError(CONNECT, f"could not reach the provider: {exc.__class__.__name__}: {exc}") from None
        return UpstreamResponse(response.status, response.headers, response)  # case-insensitive mapping

    def _timeout(self, first_byte: float, read: float) -> aiohttp.ClientTimeout:
        """Timeout settings are shared per (first byte, read) pair rather than built per request."""
        timeout = self._timeouts.get((first_byte, read))
        if timeout is None:
            if len(self._timeouts) > 1000:
                self._timeouts.clear()
            timeout = self._timeouts[(first_byte, read)] = aiohttp.ClientTimeout(
                total=None, sock_connect=min(first_byte, 10.0), sock_read=read)
        return timeout

    def _url(self, url: str) -> URL:
        """Parsed URLs are cached: upstream URLs repeat, and parsing one costs more than sending."""
        parsed = self._urls.get(url)
        if parsed is None:
            if len(self._urls) > 10_000:
                self._urls.clear()
            parsed = self._urls[url] = URL(url)
        return parsed

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None
