"""Per-provider settings of the upstream client: the largest response body it will read, and the TLS
trust it uses (a provider's own CA file, or no verification at all). The engine names the provider
of each request it sends; the transport looks its settings up by that name."""

from __future__ import annotations

import ssl
from dataclasses import dataclass

# The largest non-streamed response body read by default. Embeddings are the largest answers a
# gateway relays: 300 inputs of 3072 float dimensions come to ~17 MB of JSON (~5 MB as base64);
# 64 MiB leaves room for that four times over and still bounds what one bad upstream can cost.
DEFAULT_MAX_BODY = 64 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class UpstreamSettings:
    max_body: int = DEFAULT_MAX_BODY   # bytes of a non-streamed body, after decompression
    tls: ssl.SSLContext | None = None  # None: the system trust store, with verification


DEFAULT = UpstreamSettings()


def tls_context(ca_file: str | None = None, verify: bool = True) -> ssl.SSLContext:
    """A client TLS context: the system trust store, or only `ca_file`'s certificates; with
    `verify=False`, any certificate for any host name is accepted (encrypted, not authenticated).
    OSError or ssl.SSLError when `ca_file` cannot be read as PEM certificates."""
    context = ssl.create_default_context(cafile=ca_file if verify else None)
    if not verify:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    context.set_alpn_protocols(["http/1.1"])
    return context
