"""The server's TLS context, for `server.tls` (HTTPS served by the gateway itself).

Python's defaults for a server (ssl.create_default_context for client authentication: no SSLv3 or
compression, OpenSSL's secure cipher list), TLS 1.2 at least (what browsers and the provider SDKs
all speak), and ALPN offering only HTTP/1.1, the one protocol the server speaks: a client that would
prefer HTTP/2 settles on HTTP/1.1 in the handshake instead of guessing."""

from __future__ import annotations

import ssl


class TLSFilesError(Exception):
    """The certificate or key cannot be used; the message says which and why."""


def server_context(cert: str, key: str) -> ssl.SSLContext:
    """A server context holding `cert` (the chain, leaf first) and `key`."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.set_alpn_protocols(["http/1.1"])
    try:
        context.load_cert_chain(cert, key)
    except ssl.SSLError as exc:
        reason = "the key does not match the certificate" if "KEY_VALUES_MISMATCH" in str(exc) else str(exc)
        raise TLSFilesError(f"server.tls: cannot use {cert} with {key}: {reason}") from None
    except OSError as exc:
        raise TLSFilesError(f"server.tls: cannot read {exc.filename or cert}: {exc.strerror or exc}") from None
    return context
