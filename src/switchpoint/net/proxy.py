"""Egress through an HTTP proxy: which upstream origins go through which proxy (the `proxy` config,
by default HTTPS_PROXY / HTTP_PROXY / NO_PROXY), and the CONNECT tunnel for HTTPS upstreams.

Plain-HTTP upstreams are sent to the proxy in absolute form (`POST http://host/path HTTP/1.1`);
HTTPS upstreams go through a `CONNECT host:port` tunnel, with TLS end to end to the upstream."""

from __future__ import annotations

import asyncio
import ipaddress
from collections.abc import Mapping

from ..config.proxy_url import DIRECT, Proxy, is_ip, parse_proxy
from ..errors import CONNECT, UpstreamError

_MAX_HEAD = 16384

class NoProxy:
    """NO_PROXY as curl reads it: comma-separated host names (each also matching its subdomains; a
    leading dot is ignored), IP addresses, CIDR ranges, an optional `:port`, or `*` for everything."""

    def __init__(self, spec: str) -> None:
        self.everything = False
        self.names: list[tuple[str, int | None]] = []
        self.networks: list[tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, int | None]] = []
        for raw in spec.split(","):
            entry = raw.strip().lower()
            if not entry:
                continue
            if entry == "*":
                self.everything = True
                continue
            host, port = _split_port(entry)
            try:
                self.networks.append((ipaddress.ip_network(host.strip("[]"), strict=False), port))
            except ValueError:
                self.names.append((host.lstrip("*").lstrip("."), port))

    def matches(self, host: str, port: int) -> bool:
        if self.everything:
            return True
        host = host.lower().rstrip(".")
        if is_ip(host):
            address = ipaddress.ip_address(host)
            return any(address in net and (want is None or want == port) for net, want in self.networks)
        return any((host == name or host.endswith("." + name)) and (want is None or want == port)
                   for name, want in self.names)


class Proxies:
    """The proxy, if any, for each upstream URL: a provider's own `proxy` for the URLs under its base
    URL, else the one for the URL's scheme unless NO_PROXY names the host. Loopback hosts (a local
    Ollama or vLLM) are always reached directly, as Go's clients do, unless their provider says
    otherwise."""

    def __init__(self, *, http: str | None = None, https: str | None = None, no_proxy: str = "",
                 overrides: Mapping[str, str | None] | None = None) -> None:
        self.by_scheme = {"http": parse_proxy(http) if http else None, "https": parse_proxy(https) if https else None}
        self.no_proxy = NoProxy(no_proxy)
        self.overrides = sorted(((base.rstrip("/"), None if value in (None, DIRECT) else parse_proxy(value))
                                 for base, value in (overrides or {}).items()), key=lambda o: -len(o[0]))

    def __bool__(self) -> bool:
        return any(self.by_scheme.values()) or any(proxy for _, proxy in self.overrides)

    def for_url(self, url: str, scheme: str, host: str, port: int) -> Proxy | None:
        for base, proxy in self.overrides:  # longest base URL first
            if url.startswith(base) and url[len(base):len(base) + 1] in ("", "/", "?"):
                return proxy
        proxy = self.by_scheme.get(scheme)
        if proxy is None or _loopback(host) or self.no_proxy.matches(host, port):
            return None
        return proxy


class Tunnel(asyncio.Protocol):
    """Reads the proxy's answer to CONNECT; `opened` resolves on a 2xx, fails on anything else."""

    def __init__(self, loop: asyncio.AbstractEventLoop, proxy: Proxy, target: str) -> None:
        self.opened: asyncio.Future[None] = loop.create_future()
        self.proxy = proxy
        self.target = target
        self.head = bytearray()

    def data_received(self, data: bytes) -> None:
        if self.opened.done():
            return
        self.head += data
        end = self.head.find(b"\r\n\r\n")
        if end < 0:
            if len(self.head) > _MAX_HEAD:
                self._fail("answered CONNECT with an endless head")
            return
        status_line = bytes(self.head[:self.head.find(b"\r\n")]).decode("latin-1")
        parts = status_line.split(" ", 2)
        if len(parts) < 2 or not parts[0].startswith("HTTP/") or not parts[1].isdigit():
            self._fail(f"answered CONNECT with {status_line[:100]!r}")
        elif not 200 <= int(parts[1]) < 300:
            self._fail(f"refused the tunnel to {self.target}: {status_line[:200]}")
        elif end + 4 != len(self.head):
            self._fail("sent bytes after its answer to CONNECT, before TLS began")
        else:
            self.opened.set_result(None)

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.opened.done():
            self._fail("closed the connection before the tunnel opened")

    def _fail(self, what: str) -> None:
        if not self.opened.done():
            self.opened.set_exception(UpstreamError(CONNECT, f"could not reach the provider: the proxy at "
                                                             f"{self.proxy.shown} {what}"))


def connect_head(proxy: Proxy, host: str, port: int) -> tuple[str, bytes]:
    """The tunnel's target, and the CONNECT request for it."""
    target = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    auth = f"Proxy-Authorization: {proxy.authorization}\r\n" if proxy.authorization else ""
    return target, f"CONNECT {target} HTTP/1.1\r\nHost: {target}\r\n{auth}\r\n".encode("latin-1")


def _split_port(entry: str) -> tuple[str, int | None]:
    if entry.startswith("["):  # [v6]:port
        host, _, rest = entry.partition("]")
        port = rest[1:] if rest.startswith(":") else ""
        return host + "]", int(port) if port.isdigit() else None
    if entry.count(":") == 1:
        host, _, port = entry.partition(":")
        if port.isdigit():
            return host, int(port)
    return entry, None


def _loopback(host: str) -> bool:
    host = host.lower().rstrip(".")
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False
