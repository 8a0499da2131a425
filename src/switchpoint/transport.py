"""The one upstream HTTP client pool. The only module that opens connections upstream.

HTTP/1.1 with keep-alive, TLS from the standard library, gzip and deflate bodies, a DNS cache,
timeouts on the connect, the wait for the response head and every later read, and a bound on the
size of a body read whole. Built on asyncio's protocols and httptools (see http1.py) because a
general-purpose client's per-request machinery cost more CPU than the rest of a gateway request
together. What it does not do is listed in docs/upstream-client.md."""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import ssl
import zlib
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, replace
from urllib.parse import urlsplit

from .errors import CONNECT, MALFORMED, TIMEOUT, UpstreamError
from .http1 import Connection, Deadlines
from .observability.context import current_scope
from .outbox import Outbox, outbox_for
from .proxy import Proxies, Proxy, Tunnel, connect_head
from .types import UpstreamRequest
from .upstream_settings import DEFAULT, UpstreamSettings, tls_context

KEEPALIVE = 30.0   # seconds an idle connection is kept for reuse
DNS_TTL = 300.0    # seconds a resolved host name is reused
MAX_CONNECT = 10.0  # the longest wait for a TCP (and TLS) connection, whatever the attempt's timeout
_OWN_HEADERS = frozenset({"host", "content-length", "transfer-encoding", "connection", "proxy-authorization"})
_DECODERS = {"gzip": 16 + zlib.MAX_WBITS, "x-gzip": 16 + zlib.MAX_WBITS, "deflate": zlib.MAX_WBITS}
INFLATE_STEP = 1 << 20  # the most a streamed compressed body inflates to in one piece (bounds a zip bomb)


@dataclass(slots=True, frozen=True)
class Origin:
    """Where a URL's requests go, parsed once per URL."""

    key: tuple                  # scheme, host, port (and the proxy): connections are pooled per key
    host: str
    port: int
    tls: bool
    literal: bool               # the host is an IP address (no DNS)
    host_header: str
    target: str                 # path and query (the whole URL when sent to a proxy)
    proxy: Proxy | None = None
    extra_head: str = ""        # head lines every request carries (Proxy-Authorization)
    settings: UpstreamSettings = DEFAULT


class UpstreamResponse:
    """The status and head of an upstream response; its body is read with `read` or `chunks`, then
    the response is `release`d (the connection returns to the pool if it can) or `close`d."""

    __slots__ = ("status", "headers", "_conn", "_pool", "_timeout", "_max_body")

    def __init__(self, conn: Connection, pool: Transport, read_timeout: float, max_body: int) -> None:
        self.status = conn.status
        self.headers: Mapping[str, str] = conn.headers
        self._conn: Connection | None = conn
        self._pool = pool
        self._timeout = read_timeout
        self._max_body = max_body

    async def read(self) -> bytes:
        """The whole body, decoded. Bytes are taken from the connection as they arrive, so the socket,
        paused while unread bytes pile up past http1.HIGH_WATER, reads on; past the provider's
        `max_body_bytes` (before or after decompression) the read fails and the connection is dropped,
        having held at most that much and one read-ahead."""
        conn = self._live()
        limit = self._max_body
        declared = dict.get(conn.headers, "content-length")  # names are stored lower-cased
        if declared is not None and declared.isdigit() and int(declared) > limit:
            raise self._too_large()
        parts: list[bytes] = []
        size = 0
        while True:
            if conn.chunks:
                data = conn.take()
                size += len(data)
                if size > limit:
                    raise self._too_large()
                parts.append(data)
            elif conn.complete:
                break
            else:
                try:
                    await conn.wait(self._timeout)
                except TimeoutError:
                    raise UpstreamError(TIMEOUT, "the provider stopped sending the response") from None
                except UpstreamError as err:
                    raise UpstreamError(CONNECT, f"connection lost while reading the response: "
                                                 f"{err.message}") from None
        body = parts[0] if len(parts) == 1 else b"".join(parts)
        if body and self._compressed():
            body = self._inflate_whole(body, limit)
        return body

    async def chunks(self) -> AsyncIterator[bytes]:
        """Body bytes as they arrive (a compressed body inflated in pieces of at most INFLATE_STEP).
        Not bounded by `max_body_bytes`: a stream is relayed as it is read, never held whole."""
        conn = self._live()
        compressed = self._compressed()
        decoder: zlib._Decompress | None = None
        timeout = self._timeout
        while True:
            if conn.chunks:
                data = conn.take()
                if compressed:
                    if decoder is None:
                        decoder = zlib.decompressobj(wbits := self._wbits(data))
                    while data:
                        piece = self._inflate(decoder, data)
                        if decoder.eof:  # what follows the end of a compressed stream starts another
                            data = decoder.unused_data
                            if data:
                                decoder = zlib.decompressobj(wbits)
                        else:
                            data = decoder.unconsumed_tail
                        if piece:
                            yield piece
                elif data:
                    yield data
                continue
            if conn.complete:
                break
            try:
                await conn.wait(timeout)
            except TimeoutError:
                raise UpstreamError(TIMEOUT, "the provider went silent mid-stream") from None
            except UpstreamError as err:
                raise UpstreamError(CONNECT, f"upstream connection broke mid-stream: {err.message}") from None
        if decoder is not None:
            tail = decoder.flush()
            if not decoder.eof:
                raise UpstreamError(CONNECT, "the provider's compressed stream ended before its end mark")
            if tail:
                yield tail

    def _compressed(self) -> bool:
        encoding = self.headers.get("content-encoding")
        return encoding is not None and encoding.strip().lower() in _DECODERS

    def _wbits(self, first: bytes) -> int:
        """zlib's window bits for the body's Content-Encoding. `deflate` is meant to be a zlib stream,
        but some servers send raw deflate; as curl, browsers and aiohttp do, the first byte tells."""
        encoding = self.headers.get("content-encoding", "").strip().lower()
        if encoding == "deflate" and first and first[0] & 0x0F != 8:  # not a zlib header: raw deflate
            return -zlib.MAX_WBITS
        return _DECODERS[encoding]

    def _inflate_whole(self, body: bytes, limit: int) -> bytes:
        """Inflated, at most `limit` bytes of it. Bytes after the end of a compressed stream start
        another (a body of concatenated gzip members, as gzip itself and aiohttp read it)."""
        wbits = self._wbits(body)
        out: list[bytes] = []
        size = 0
        while body:
            decoder = zlib.decompressobj(wbits)
            try:
                piece = decoder.decompress(body, limit + 1 - size)
            except zlib.error as exc:
                raise UpstreamError(CONNECT, f"the provider's compressed body is corrupt: {exc}") from None
            size += len(piece)
            if size > limit:
                raise self._too_large(" once decompressed")
            if not decoder.eof:
                raise UpstreamError(CONNECT, "the provider's compressed body is truncated")
            out.append(piece)
            body = decoder.unused_data
        return out[0] if len(out) == 1 else b"".join(out)

    @staticmethod
    def _inflate(decoder: zlib._Decompress, data: bytes) -> bytes:
        try:
            return decoder.decompress(data, INFLATE_STEP)
        except zlib.error as exc:
            raise UpstreamError(CONNECT, f"the provider's compressed stream is corrupt: {exc}") from None

    def _too_large(self, how: str = "") -> UpstreamError:
        self.close()
        return UpstreamError(MALFORMED, f"the provider's response body is larger{how} than this provider's "
                                        f"max_body_bytes ({self._max_body} bytes); it was not read further")

    def _live(self) -> Connection:
        if self._conn is None:
            raise UpstreamError(CONNECT, "the response was already released")
        return self._conn

    def close(self) -> None:
        """Drop the connection (used when we abandon a response: cancels the upstream generation)."""
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.abort()

    def release(self) -> None:
        """Done with the response: its connection is reused if the body was read to its end."""
        conn, self._conn = self._conn, None
        if conn is not None:
            self._pool.put(conn)


class Transport:
    def __init__(self, *, proxies: Proxies | None = None,
                 settings: Mapping[str, UpstreamSettings] | None = None) -> None:
        self.proxies = proxies if proxies else None
        self.settings = dict(settings or {})  # provider name -> its settings
        self._idle: dict[tuple, dict[Connection, None]] = {}
        self._origins: dict[str, Origin] = {}
        self._dns: dict[tuple[str, int], tuple[float, list[tuple[int, tuple]]]] = {}
        self._ssl: ssl.SSLContext | None = None
        self._swept = 0.0
        self._deadlines: Deadlines | None = None
        self._outbox: Outbox | None = None

    async def send(self, request: UpstreamRequest, *, first_byte_timeout: float,
                   read_timeout: float | None = None, provider: str | None = None) -> UpstreamResponse:
        """Send and wait for the status line and headers. `read_timeout` bounds each later read;
        `provider` names the configured provider whose settings apply (the defaults if None)."""
        origin = self._origin(request.url, self.settings.get(provider, DEFAULT) if provider else DEFAULT)
        headers = request.headers
        scope = current_scope()
        if scope is not None:
            headers = {**headers, "x-request-id": scope.request_id}
        body = request.body or b""
        head = _head(request.method, origin, headers, len(body))
        pooled = True
        while True:
            conn = self._take_idle(origin.key) if pooled else None
            resendable = conn is not None
            if conn is None:
                conn = await self._connect(origin, min(first_byte_timeout, MAX_CONNECT), first_byte_timeout)
            try:
                self._write(conn, head, body)
                while not conn.head_done:
                    await conn.wait(first_byte_timeout)
                if conn.status == 407 and origin.proxy is not None:
                    raise UpstreamError(CONNECT, f"the proxy at {origin.proxy.shown} wants credentials (407)")
            except TimeoutError:
                conn.abort()
                raise UpstreamError(TIMEOUT, f"no response within {first_byte_timeout:g}s") from None
            except UpstreamError as err:
                conn.abort()
                if resendable and not conn.received and err.kind == CONNECT:
                    # The upstream closed a pooled connection as the request went out, before answering
                    # anything: its keep-alive ended (5 s for vLLM and Node servers), or it closes after
                    # every response without saying so (some proxies). The request goes again, once,
                    # on a new connection, as curl and Go's client do.
                    pooled = False
                    continue
                raise UpstreamError(CONNECT, f"could not reach the provider: {err.message}") from None
            except BaseException:
                conn.abort()
                raise
            return UpstreamResponse(conn, self, read_timeout or first_byte_timeout, origin.settings.max_body)

    def _write(self, conn: Connection, head: bytes, body: bytes) -> None:
        if len(body) < 65536:  # sent at the end of the loop's turn (outbox.py); a large body is not copied
            outbox = self._outbox
            if outbox is None or outbox.loop is not conn.loop:
                outbox = self._outbox = outbox_for(conn.loop)
            outbox.write(conn.transport, head + body)
        else:
            conn.transport.writelines((head, body))  # type: ignore[union-attr]

    # -- the pool ----------------------------------------------------------------------------------

    def _take_idle(self, key: tuple) -> Connection | None:
        idle = self._idle.get(key)
        if not idle:
            return None
        now = asyncio.get_running_loop().time()
        while idle:
            conn = idle.popitem()[0]
            if conn.closed or now - conn.idle_since > KEEPALIVE:
                conn.abort()
                continue
            conn.busy = True
            conn.begin()
            return conn
        return None

    def put(self, conn: Connection) -> None:
        if not conn.reusable():
            conn.abort()
            return
        conn.busy = False
        now = conn.loop.time()
        conn.idle_since = now
        self._idle.setdefault(conn.key, {})[conn] = None
        if now - self._swept > KEEPALIVE:
            self._sweep(now)

    def _sweep(self, now: float) -> None:
        """Close the connections that sat idle longer than the keep-alive time."""
        self._swept = now
        for idle in self._idle.values():
            for conn in [c for c in idle if now - c.idle_since > KEEPALIVE]:
                del idle[conn]
                conn.abort()

    def _lost(self, conn: Connection) -> None:
        idle = self._idle.get(conn.key)
        if idle is not None:
            idle.pop(conn, None)

    async def _connect(self, origin: Origin, timeout: float, first_byte_timeout: float) -> Connection:
        loop = asyncio.get_running_loop()
        if self._deadlines is None or self._deadlines.loop is not loop:
            self._deadlines = Deadlines(loop)
        deadlines = self._deadlines
        proxy = origin.proxy
        host, port, literal = (proxy.host, proxy.port, proxy.literal) if proxy else (origin.host, origin.port,
                                                                                      origin.literal)
        try:
            async with asyncio.timeout(timeout):
                addresses = [(0, (host, port))] if literal else await self._resolve(host, port)
                last: OSError | None = None
                for family, address in addresses:
                    try:
                        if proxy is not None and origin.tls:
                            return await self._tunnel(loop, origin, proxy, family, address, deadlines)
                        tls = self._tls(origin) if origin.tls else None
                        _, conn = await loop.create_connection(
                            lambda: Connection(loop, origin.key, deadlines, self._lost), address[0], address[1],
                            family=family, ssl=tls, server_hostname=origin.host if tls else None)
                        return conn
                    except OSError as exc:
                        last = exc
                raise last or OSError(f"no address for {host}")
        except TimeoutError:
            raise UpstreamError(TIMEOUT, f"no response within {first_byte_timeout:g}s") from None
        except OSError as exc:
            via = f" through the proxy at {proxy.shown}" if proxy else ""
            raise UpstreamError(CONNECT, f"could not reach the provider{via}: {exc.__class__.__name__}: {exc}") from None

    async def _tunnel(self, loop: asyncio.AbstractEventLoop, origin: Origin, proxy: Proxy, family: int,
                      address: tuple, deadlines: Deadlines) -> Connection:
        """A CONNECT tunnel through the proxy, then TLS with the upstream inside it."""
        target, head = connect_head(proxy, origin.host, origin.port)
        raw, tunnel = await loop.create_connection(lambda: Tunnel(loop, proxy, target), address[0], address[1],
                                                   family=family)
        try:
            raw.write(head)
            await tunnel.opened
            conn = Connection(loop, origin.key, deadlines, self._lost)
            secured = await loop.start_tls(raw, conn, self._tls(origin), server_hostname=origin.host)
            if secured is None:
                raise OSError("the tunnel closed during the TLS handshake")
            conn.connection_made(secured)
            return conn
        except BaseException:
            raw.abort()
            raise

    async def _resolve(self, host: str, port: int) -> list[tuple[int, tuple]]:
        loop = asyncio.get_running_loop()
        cached = self._dns.get((host, port))
        if cached is not None and cached[0] > loop.time():
            return cached[1]
        infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        addresses = list(dict.fromkeys((family, address[:2]) for family, _, _, _, address in infos))
        if len(self._dns) > 1000:
            self._dns.clear()
        self._dns[(host, port)] = (loop.time() + DNS_TTL, addresses)
        return addresses

    def _tls(self, origin: Origin) -> ssl.SSLContext:
        """The provider's own TLS context (its `tls` settings), else the shared default one, made on
        first use so that it reads the system trust store (and SSL_CERT_FILE) as it is then."""
        if origin.settings.tls is not None:
            return origin.settings.tls
        if self._ssl is None:
            self._ssl = tls_context()
        return self._ssl

    def _origin(self, url: str, settings: UpstreamSettings) -> Origin:
        """Parsed URLs are cached: upstream URLs repeat, and parsing one costs more than sending.
        (Should two providers with different settings share a URL, its origin is parsed again when
        the provider changes: correct, if slower.)"""
        origin = self._origins.get(url)
        if origin is None or origin.settings is not settings:
            if len(self._origins) > 10_000:
                self._origins.clear()
            origin = parse_origin(url)
            proxy = self.proxies.for_url(url, *origin.key) if self.proxies is not None else None
            if proxy is not None:
                origin = via_proxy(origin, proxy)
            if settings is not DEFAULT:
                # connections made with a provider's own TLS context are pooled apart from the others
                key = (*origin.key, settings.tls) if settings.tls is not None and origin.tls else origin.key
                origin = replace(origin, key=key, settings=settings)
            self._origins[url] = origin
        return origin

    async def close(self) -> None:
        for idle in self._idle.values():
            for conn in list(idle):
                conn.abort()
            idle.clear()


def parse_origin(url: str) -> Origin:
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https") or not parts.hostname:
        raise UpstreamError(CONNECT, f"could not reach the provider: {url!r} is not an http(s) URL")
    try:
        port = parts.port or (443 if scheme == "https" else 80)
    except ValueError as exc:
        raise UpstreamError(CONNECT, f"could not reach the provider: {exc}") from None
    host = parts.hostname
    try:
        ipaddress.ip_address(host)
        literal = True
    except ValueError:
        literal = False
    shown = f"[{host}]" if ":" in host else host
    default = port == (443 if scheme == "https" else 80)
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return Origin((scheme, host, port), host, port, scheme == "https", literal,
                  shown if default else f"{shown}:{port}", target)


def via_proxy(origin: Origin, proxy: Proxy) -> Origin:
    """The origin reached through `proxy`: plain HTTP is sent to the proxy in absolute form, with the
    proxy's credentials; HTTPS goes through a tunnel and keeps its requests as they are."""
    key = (*origin.key, proxy)
    if origin.tls:
        return replace(origin, key=key, proxy=proxy)
    absolute = f"http://{origin.host_header}{origin.target}"
    auth = f"Proxy-Authorization: {proxy.authorization}\r\n" if proxy.authorization else ""
    return replace(origin, key=key, proxy=proxy, target=absolute, extra_head=auth)


def _head(method: str, origin: Origin, headers: Mapping[str, str], length: int) -> bytes:
    lines = [f"{method} {origin.target} HTTP/1.1\r\nHost: {origin.host_header}\r\n{origin.extra_head}"]
    encoding = False
    for name, value in headers.items():
        lowered = name.lower()
        if lowered in _OWN_HEADERS:
            continue
        value = str(value)
        if "\n" in value or "\r" in value or "\n" in name or "\r" in name:
            raise UpstreamError(CONNECT, f"could not reach the provider: header {name!r} contains a line break")
        encoding = encoding or lowered == "accept-encoding"
        lines.append(f"{name}: {value}\r\n")
    if not encoding:
        lines.append("Accept-Encoding: gzip, deflate\r\n")
    if length or method not in ("GET", "HEAD"):
        lines.append(f"Content-Length: {length}\r\n")
    lines.append("\r\n")
    return "".join(lines).encode("utf-8")
