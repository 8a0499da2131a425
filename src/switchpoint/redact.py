"""Provider secrets never leave the engine inside upstream text.

An upstream's error message or body is relayed to the client (`message`, `metadata.raw`), written to
the ledger (the generation's error and attempts) and to the generation log. Some upstreams echo the
request's credentials back in their errors (a proxy quoting the Authorization header, a debug server
dumping the request), so every such text is cleaned here, once, when the engine first catches the
error: the configured secrets (each provider's api_key, its extra header values, proxy credentials)
are replaced wherever they appear, and so is anything shaped like a credential (a bearer token, an
`sk-…`/`AIza…`/`gsk_…`/`xai-…` key, an `x-api-key: …`-style pair, a `?key=` query, `user:pass@` in a URL).

Configured values shorter than MIN_SECRET characters are not searched for on their own (a header
value such as "1" would otherwise mangle every message); the shapes above still apply to them."""

from __future__ import annotations

import base64
import re
from collections.abc import Iterable
from typing import TYPE_CHECKING
from urllib.parse import unquote, urlsplit

from .errors import UpstreamError

if TYPE_CHECKING:
    from .config import Config

REDACTED = "[REDACTED]"
MIN_SECRET = 8

# Shapes of credentials, whoever they belong to. Group 1 (what names the secret) is kept.
_SHAPES = [re.compile(shape) for shape in (
    r"(?i)(\bbearer\s+)[A-Za-z0-9._~+/=-]{8,}",
    r"(\bBasic\s+)(?=[A-Za-z0-9+/]*[0-9+/=])[A-Za-z0-9+/]{8,}={0,2}",
    r"()\b(?:sk|pk|rk)-[A-Za-z0-9_-]{12,}",         # OpenAI, Anthropic (sk-ant-), OpenRouter (sk-or-), Switchpoint
    r"()\bAIza[0-9A-Za-z_-]{30,}",                   # Google API keys
    r"()\b(?:gsk|xai|pplx|nvapi|hf|r8)[-_][A-Za-z0-9_-]{16,}",  # Groq, xAI, Perplexity, NVIDIA, Hugging Face, Replicate
    r"(?i)(\b(?:x-api-key|api-key|api_key|apikey|x-goog-api-key|access_token|client_secret|password|secret)"
    r"[\"']?\s*[:=]\s*[\"']?)[^\s\"',;}&]{4,}",
    r"(?i)([?&](?:key|api_key|api-key|access_token|token|sig)=)[^\s&\"'#]+",
    r"(?i)(\b[a-z][a-z0-9+.-]*://)[^\s/@:\"']+:[^\s/@\"']+(?=@)",  # user:password@ in a URL
)]
_KEEP = r"\1" + REDACTED


class Redactor:
    """Replaces secrets in text. Built once from the config; only error paths call it."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        literal = sorted({s for s in secrets if s and len(s) >= MIN_SECRET}, key=len, reverse=True)
        self.literal = re.compile("|".join(map(re.escape, literal))) if literal else None

    @classmethod
    def from_config(cls, config: Config) -> Redactor:
        secrets: list[str] = []
        for provider in config.providers.values():
            if provider.api_key:
                secrets.append(provider.api_key)
            secrets.extend(v for v in provider.headers.values() if isinstance(v, str))
            secrets.extend(proxy_secrets(provider.proxy))
            secrets.extend(query_secrets(provider.base_url))
        secrets.extend(proxy_secrets(config.proxy.http))
        secrets.extend(proxy_secrets(config.proxy.https))
        return cls(secrets)

    def text(self, value: str) -> str:
        if self.literal is not None:
            value = self.literal.sub(REDACTED, value)
        for shape in _SHAPES:
            value = shape.sub(_KEEP, value)
        return value

    def error(self, err: UpstreamError) -> UpstreamError:
        """Clean an upstream error in place (message, raw body, provider code) and return it."""
        err.message = self.text(err.message)
        err.args = (err.message,)
        if err.raw is not None:
            err.raw = self.text(err.raw)
        if err.provider_code is not None:
            err.provider_code = self.text(err.provider_code)
        return err


def proxy_secrets(url: str | None) -> list[str]:
    """The credentials in a proxy URL: the password, `user:password`, and the Basic value sent for it."""
    if not url or "@" not in url:
        return []
    parts = urlsplit(url if "://" in url else f"http://{url}")
    if parts.username is None:
        return []
    user, password = unquote(parts.username), unquote(parts.password or "")
    pair = f"{user}:{password}"
    return [password, pair, f"{parts.username}:{parts.password or ''}",
            base64.b64encode(pair.encode()).decode("ascii")]


def query_secrets(url: str | None) -> list[str]:
    """Values of credential-like query parameters in a base URL (`?key=…`, `?api-key=…`)."""
    if not url or "?" not in url:
        return []
    query = urlsplit(url).query
    found = []
    for pair in query.split("&"):
        name, _, value = pair.partition("=")
        if value and re.fullmatch(r"(?i)key|api[-_]?key|access_token|token|sig|code", name):
            found.append(unquote(value))
    return found
