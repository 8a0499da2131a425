"""Proxy URLs as the config names them (`proxy:` and a provider's `proxy`): parsed and checked when the
config is loaded, used by the upstream client's tunnels (net/proxy.py)."""

from __future__ import annotations

import base64
import ipaddress
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

DIRECT = "none"  # a provider's `proxy: none`: connect directly whatever the default


@dataclass(frozen=True, slots=True)
class Proxy:
    host: str
    port: int
    literal: bool                # the host is an IP address (no DNS)
    authorization: str | None    # the Proxy-Authorization value, from the URL's user:password

    @property
    def shown(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"


def parse_proxy(url: str) -> Proxy:
    """`http://[user:password@]host[:port]`; a bare `host:port` is taken as http. ValueError says what
    is wrong."""
    parts = urlsplit(url if "://" in url else f"http://{url}")
    if parts.scheme.lower() != "http":
        raise ValueError(f"{parts.scheme}:// proxies are not supported; use an http:// proxy "
                         "(HTTPS upstreams are tunnelled through it with CONNECT)")
    if not parts.hostname:
        raise ValueError(f"{url!r} names no proxy host")
    try:
        port = parts.port or 80
    except ValueError as exc:
        raise ValueError(f"{url!r}: {exc}") from None
    authorization = None
    if parts.username is not None:
        pair = f"{unquote(parts.username)}:{unquote(parts.password or '')}"
        authorization = "Basic " + base64.b64encode(pair.encode()).decode("ascii")
    return Proxy(parts.hostname, port, is_ip(parts.hostname), authorization)


def is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return True
