"""The switchpoint.yaml schema (design.md §3). Validated once at load; immutable afterwards."""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, ValidationInfo, field_validator, model_validator

from .base import Strict, parse_duration
from .governance import KeyConfig, TeamConfig, team_problems
from .proxy_url import DIRECT, parse_proxy
from .roles import DashboardConfig, ManagementKeyConfig, access_problems

MODEL_ID = re.compile(r"^[A-Za-z0-9][\w.\-]*/[\w.\-:]+$")


# The largest non-streamed response body read by default. Embeddings are the largest answers a
# gateway relays: 300 inputs of 3072 float dimensions come to ~17 MB of JSON (~5 MB as base64);
# 64 MiB leaves room for that four times over and still bounds what one bad upstream can cost.
DEFAULT_MAX_BODY = 64 * 1024 * 1024


class ProviderTLS(Strict):
    """How a provider's TLS certificate is checked (docs/upstream-client.md)."""

    ca_file: str | None = Field(None, description="PEM file of the CA certificates to trust for this provider, "
                                                  "instead of the system trust store")
    verify: bool = Field(True, description="false accepts any certificate for any name: encrypted but not "
                                           "authenticated; for tests only")

    @field_validator("ca_file")
    @classmethod
    def _readable(cls, value: str | None) -> str | None:
        if value is not None:
            # Read here without the ssl module (config sits below the network layer); the upstream client
            # loads the file with ssl when the gateway starts.
            try:
                pem = Path(value).read_bytes()
            except OSError as exc:
                raise ValueError(f"{value!r} cannot be read as PEM certificates: {exc}") from None
            if b"-----BEGIN CERTIFICATE-----" not in pem:
                raise ValueError(f"{value!r} cannot be read as PEM certificates: it holds no certificate")
        return value

    @model_validator(mode="after")
    def _one_or_other(self) -> ProviderTLS:
        if self.ca_file is not None and not self.verify:
            raise ValueError("ca_file is unused with verify: false; set one or the other")
        return self


class ProviderConfig(Strict):
    """The settings every provider type shares. A type's own settings (azure's `api_version`) are
    written beside these in switchpoint.yaml and declared by the type itself (its `Options` model in
    providers/); load_config checks `type` against the registered types and moves those settings,
    validated, into `options` (config/provider_types.py)."""

    type: str = Field(description="the wire format: a key of providers/registry.py")
    base_url: str | None = None
    api_key: str | None = None
    proxy: str | None = Field(None, description="http://[user:password@]host:port for this provider, or 'none' "
                                                "to connect directly (default: the `proxy` settings)")
    timeout: float = Field(60.0, gt=0, description="seconds per attempt (time to first byte, then between chunks)")
    max_retries: int = Field(1, ge=0, le=10, description="extra tries on the same endpoint for 5xx/connect errors")
    headers: dict[str, str] = Field(default_factory=dict)
    data_collection: Literal["allow", "deny"] = "allow"
    markup: float | None = Field(None, ge=0, description="percent added to this provider's prices (overrides "
                                                        "the global markup)")
    max_body_bytes: int = Field(DEFAULT_MAX_BODY, gt=0, description="the largest non-streamed response read "
                                                                    "from this provider (after decompression)")
    tls: ProviderTLS = Field(default_factory=ProviderTLS)
    options: dict[str, Any] = Field(default_factory=dict, description="the type's own settings, as validated "
                                                                      "by its Options model")

    @field_validator("proxy")
    @classmethod
    def _proxy(cls, value: str | None) -> str | None:
        if not value:
            return None
        if value.strip().lower() == DIRECT:
            return DIRECT
        parse_proxy(value)
        return value


class Pricing(Strict):
    """USD per token (per request for `request`), as strings like OpenRouter's."""

    prompt: str = "0"
    completion: str = "0"
    request: str = "0"
    image: str = "0"
    input_cache_read: str | None = None
    input_cache_write: str | None = None

    @field_validator("prompt", "completion", "request", "image", "input_cache_read", "input_cache_write",
                     mode="before")
    @classmethod
    def _decimal(cls, value: object) -> object:
        if value is None:
            return None
        if isinstance(value, bool):
            raise ValueError("must be a price in USD per token")
        try:
            number = Decimal(str(value))
        except InvalidOperation:
            raise ValueError(f"'{value}' is not a number") from None
        if not number.is_finite() or number < 0:
            raise ValueError("must be a non-negative number")
        return str(value)


class EndpointConfig(Strict):
    provider: str
    model: str
    pricing: Pricing = Field(default_factory=Pricing)
    context_length: int | None = Field(None, gt=0)
    max_completion_tokens: int | None = Field(None, gt=0)
    supported_parameters: list[str] | None = None
    data_collection: Literal["allow", "deny"] | None = None
    quantization: str | None = None
    weight: float = Field(1.0, ge=0, allow_inf_nan=False, description=(
        "scales the endpoint's share of the default price-weighted pick (docs/routing.md); 0 drains it: used only when "
        "no other endpoint is left"))
    extended_context: bool = Field(False, description="serves the model's extended context window (`:extended`)")
    tool_quality: float | None = Field(None, ge=0, le=1, description="tool-calling quality, 0-1 (`:exacto` "
                                                                      "orders by it, highest first)")


class ModelConfig(Strict):
    id: str
    name: str | None = None
    description: str = ""
    context_length: int | None = Field(None, gt=0)
    max_completion_tokens: int | None = Field(None, gt=0)
    input_modalities: list[str] = Field(default_factory=lambda: ["text"])
    output_modalities: list[str] = Field(default_factory=lambda: ["text"])
    supported_parameters: list[str] | None = None
    tokenizer: str = "Other"
    created: int = 0
    hugging_face_id: str | None = None
    endpoints: list[EndpointConfig] = Field(default_factory=list)

    @field_validator("id")
    @classmethod
    def _id(cls, value: str) -> str:
        if not MODEL_ID.match(value):
            raise ValueError(f"'{value}' is not a model id of the form vendor/model")
        return value


class FreeModelLimits(Strict):
    """Default limits for `:free` models (and endpoints priced at zero), as OpenRouter applies them."""

    requests_per_minute: int = Field(20, gt=0)
    requests_per_day: int = Field(1000, gt=0)


class ResponseCacheConfig(Strict):
    ttl: float = Field(300.0, gt=0, le=86400, description="default seconds an entry lives")
    max_bytes: int = Field(64 * 1024 * 1024, ge=0, description="size bound of the in-process cache")
    max_entry_bytes: int = Field(1024 * 1024, gt=0, description="larger responses are not cached")


class ServerTLS(Strict):
    """HTTPS served by the gateway itself (docs/deployment.md#tls): a PEM certificate chain and its
    private key. The files are read again by every worker process that starts."""

    cert: str = Field(description="PEM file of the server certificate, followed by its intermediates")
    key: str = Field(description="PEM file of the certificate's private key (unencrypted)")

    @field_validator("cert", "key")
    @classmethod
    def _pem(cls, value: str, info: ValidationInfo) -> str:
        # Read here without the ssl module (config sits below the network layer); the server loads the
        # pair with ssl when it starts, and says so when the key does not match the certificate.
        marker = b"-----BEGIN CERTIFICATE-----" if info.field_name == "cert" else b"PRIVATE KEY-----"
        what = "PEM certificate" if info.field_name == "cert" else "PEM private key"
        try:
            pem = Path(value).read_bytes()
        except OSError as exc:
            raise ValueError(f"{value!r} cannot be read: {exc.strerror or exc}") from None
        if marker not in pem:
            raise ValueError(f"{value!r} holds no {what}")
        return value


class ServerConfig(Strict):
    """Tuning knobs with production defaults."""

    max_body_bytes: int = Field(20 * 1024 * 1024, gt=0)
    cors_origins: list[str] = Field(default_factory=lambda: ["*"], description="browser origins allowed to call "
                                    "the API (CORS): '*' for any, as OpenRouter; [] for none")
    keepalive_interval: float = Field(1.0, gt=0, description="seconds between ': SWITCHPOINT PROCESSING' comments")
    request_deadline: float = Field(300.0, gt=0, description="overall seconds for all attempts of a request")
    shutdown_grace: float = Field(30.0, ge=0, description="seconds in-flight streams get after SIGTERM")
    ledger_flush_interval: float = Field(0.2, gt=0)
    ledger_batch_size: int = Field(500, gt=0)
    reservation_lease: float = Field(3600.0, gt=0, description="seconds a budget hold outlives a replica that "
                                                                "died before settling it")
    access_log: bool = Field(True, description="one line per request on the 'switchpoint.access' logger")
    # client connections (net/deadlines.py): slow and idle clients are timed out, a flood refused
    idle_timeout: float = Field(30.0, gt=0, description="seconds a keep-alive connection may wait for its next "
                                                        "request (and a new one for its first)")
    head_timeout: float = Field(20.0, gt=0, description="seconds from a request's first byte to the end of its "
                                                        "headers; 408 after")
    body_timeout: float = Field(30.0, gt=0, description="seconds to receive a request body, plus one for every "
                                                        "body_min_rate bytes received; 408 after")
    body_min_rate: int = Field(1024, gt=0, description="bytes per second that extend body_timeout")
    send_timeout: float = Field(60.0, gt=0, description="seconds a client may read nothing of its response "
                                                        "(while it waits to be sent) before the connection is closed")
    max_connections: int | None = Field(None, gt=0, description="open client connections per process; past it a "
                                        "new connection is answered 503 and closed. Default: half the open-file limit")
    login_failures: int = Field(10, gt=0, description="failed dashboard logins allowed per client address in "
                                                      "login_window seconds; 429 after")
    login_window: float = Field(60.0, gt=0)
    tls: ServerTLS | None = Field(None, description="serve HTTPS with this certificate and key instead of "
                                  "plain HTTP")


class LedgerConfig(Strict):
    """How the ledger keeps every generation row (docs/accounting.md)."""

    spool_dir: str | None = Field(None, description="folder of the ledger's spool and dead letters; default: "
                                  "beside an SQLite file (<file>-spool), ./switchpoint-spool/<db> for PostgreSQL")
    max_backlog: int = Field(50_000, gt=0, description="rows not yet written past which new generations get 503")


class BreakerConfig(Strict):
    """Per-endpoint circuit breaker: open after `consecutive_failures` in a row, or when more than
    `error_rate` of at least `min_requests` attempts in the last `window` seconds failed; after
    `cooldown` seconds one probe request is let through (half-open)."""

    consecutive_failures: int = Field(5, ge=1)
    error_rate: float = Field(0.5, gt=0, le=1)
    min_requests: int = Field(20, ge=1)
    window: float = 60.0
    cooldown: float = 30.0

    @field_validator("window", "cooldown", mode="before")
    @classmethod
    def _duration(cls, value: object) -> float:
        return parse_duration(value)


class RetryConfig(Strict):
    """Backoff between tries on the same endpoint: full jitter up to base * 2^n, capped at max_delay.
    A Retry-After longer than max_delay moves on to the next endpoint instead of waiting."""

    base_delay: float = Field(0.2, gt=0)
    max_delay: float = Field(5.0, gt=0)


class HedgeModelConfig(Strict):
    after_ms: float | None = Field(None, gt=0)


class HedgeConfig(Strict):
    """Hedged streaming: start a second endpoint when the first has produced no token after its
    observed p95 time to first token (never sooner than `min_delay_ms`; `default_delay_ms` until
    `min_samples` streams were measured)."""

    models: dict[str, HedgeModelConfig | None] = Field(default_factory=dict)
    min_delay_ms: float = Field(300.0, gt=0)
    default_delay_ms: float = Field(2000.0, gt=0)
    min_samples: int = Field(20, ge=1)


class StickyConfig(Strict):
    """Prompt-cache stickiness: a conversation served by an endpoint whose cached input is cheaper than
    its prompt goes back to that endpoint while its cache is warm."""

    enabled: bool = Field(True, description="keep conversations on their endpoint")
    ttl: float = Field(600.0, gt=0, description="seconds a conversation stays on its endpoint after its last use")

    @field_validator("ttl", mode="before")
    @classmethod
    def _duration(cls, value: object) -> float:
        return parse_duration(value)


class RoutingConfig(Strict):
    healthy_window: float = Field(30.0, description="seconds a failure keeps an endpoint behind healthy ones")
    breaker: BreakerConfig = Field(default_factory=BreakerConfig)
    retry: RetryConfig = Field(default_factory=RetryConfig)
    hedge: HedgeConfig = Field(default_factory=HedgeConfig)
    sticky: StickyConfig = Field(default_factory=StickyConfig)

    @field_validator("healthy_window", mode="before")
    @classmethod
    def _duration(cls, value: object) -> float:
        return parse_duration(value)


AutoTierName = Literal["simple", "standard", "complex", "reasoning"]


class AutoTierConfig(Strict):
    models: list[str] = Field(min_length=1)


class AutoConfig(Strict):
    """`switchpoint/auto`: picks a tier by the prompt, then the tier's models in order (model fallback).
    A tier left out borrows the nearest configured one; with no tiers at all they are derived from the
    catalogue (cheapest models for `simple`, dearest for `complex`)."""

    enabled: bool = True
    tiers: dict[AutoTierName, AutoTierConfig] = Field(default_factory=dict)
    short_prompt_tokens: int = Field(300, ge=0, description="at most this many tokens (and no code) is simple")
    long_prompt_tokens: int = Field(6000, gt=0, description="at least this many tokens is complex")
    code_lines: int = Field(6, gt=0, description="this many code-looking lines make a prompt code-heavy")


class ProxyConfig(Strict):
    """Egress to the providers through an HTTP proxy. Each setting defaults to its environment variable
    (lower or upper case), as curl and the provider SDKs read them."""

    https: str | None = Field(None, description="proxy for https:// providers (default: $HTTPS_PROXY, "
                                                "then $ALL_PROXY); they are tunnelled with CONNECT")
    http: str | None = Field(None, description="proxy for http:// providers (default: $HTTP_PROXY, "
                                               "then $ALL_PROXY)")
    no_proxy: str = Field("", description="hosts reached directly: names (with their subdomains), IPs, "
                                          "CIDR ranges, or * (default: $NO_PROXY)")

    @field_validator("https", "http")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        if value:
            parse_proxy(value)
        return value or None


class TelemetryConfig(Strict):
    """Logs and traces. Traces are sent only when `otlp_endpoint` is set."""

    otlp_endpoint: str | None = Field(None, description="OTLP/HTTP collector, e.g. http://127.0.0.1:4318")
    service_name: str = "switchpoint"
    generation_log: str = Field("stdout", description="one JSON line per generation: stdout, stderr, off, "
                                                      "or a file path")


class MessagesConfig(Strict):
    """The Anthropic Messages API (`/v1/messages`): which catalogue model serves a model name a client
    such as Claude Code sends. Keys are exact names or globs (`claude-*`); the first match wins."""

    model_aliases: dict[str, str] = Field(default_factory=dict, description="model name or glob -> model id")


class ResponsesConfig(Strict):
    """The OpenAI Responses API (`/v1/responses`): how long stored responses (`store: true`, the API's
    default) are kept for `previous_response_id` and GET /responses/{id}; expired ones are purged."""

    retention_days: float = Field(30.0, gt=0, description="days a stored response is kept")


class SearchPricing(Strict):
    """What one web search costs, billed in the generation's cost (USD strings, like model prices).
    OpenRouter documents its web plugin at $4 per 1,000 results (0.004 a result; $0.02 for the default
    5 results), which is the default here; Exa's own list price is $7 per 1,000 requests of up to 10
    results, then $1 per 1,000 more results (set `request: "0.007"` and `result: "0"` to bill that)."""

    result: str = Field("0.004", description="USD per search result given to the model")
    request: str = Field("0", description="USD per search made")

    @field_validator("result", "request")
    @classmethod
    def _amount(cls, value: str) -> str:
        try:
            amount = Decimal(value)
        except InvalidOperation:
            raise ValueError(f"'{value}' is not a decimal amount of USD") from None
        if not amount.is_finite() or amount < 0:
            raise ValueError("must be a non-negative amount of USD")
        return value


class SearchConfig(Strict):
    """The web search API behind the `web` plugin and the `:online` model variant (docs/plugins.md).
    One engine is supported: Exa's search API (`POST {base_url}/search`), the engine OpenRouter's web
    plugin uses. Without this section, requests that ask for web search get a 400."""

    engine: Literal["exa"] = Field("exa", description="the search API: exa")
    base_url: str = Field("https://api.exa.ai", description="the search API's address")
    api_key: str | None = Field(None, description="the search API's key (sent as x-api-key)")
    timeout: float = Field(15.0, gt=0, description="seconds to wait for search results")
    max_results: int = Field(5, ge=1, le=10, description="results per search when the request names none")
    mode: Literal["instant", "fast", "auto", "deep-lite", "deep", "deep-reasoning"] = Field(
        "auto", description="Exa search type when the request names no mode")
    max_characters: int = Field(4000, gt=0, description="characters of highlights kept per result")
    pricing: SearchPricing = Field(default_factory=SearchPricing)


class Config(Strict):
    listen: str = "127.0.0.1:8080"
    database: str = "sqlite:///switchpoint.db"
    state: str = "memory"
    state_failure: Literal["closed", "open"] = "closed"  # when Redis is unreachable: 503, or local counters
    admin_key: str | None = None
    markup: float = Field(0.0, ge=0, description="percent added to every provider's prices")
    free_models: FreeModelLimits = Field(default_factory=FreeModelLimits)
    response_cache: ResponseCacheConfig = Field(default_factory=ResponseCacheConfig)
    providers: dict[str, ProviderConfig] = Field(default_factory=dict)
    models: list[ModelConfig] = Field(default_factory=list)
    keys: list[KeyConfig] = Field(default_factory=list)
    teams: list[TeamConfig] = Field(default_factory=list, description="teams of keys sharing a budget, rate "
                                    "limits and a policy (docs/governance.md)")
    server: ServerConfig = Field(default_factory=ServerConfig)
    ledger: LedgerConfig = Field(default_factory=LedgerConfig)
    routing: RoutingConfig = Field(default_factory=RoutingConfig)
    auto: AutoConfig = Field(default_factory=AutoConfig)
    telemetry: TelemetryConfig = Field(default_factory=TelemetryConfig)
    proxy: ProxyConfig = Field(default_factory=ProxyConfig)
    messages: MessagesConfig = Field(default_factory=MessagesConfig)
    responses: ResponsesConfig = Field(default_factory=ResponsesConfig)
    # Model names: the model used when a request names none, and names or globs -> model ids (every API).
    default_model: str | None = Field(None, description="model id (or alias) for requests without a model")
    aliases: dict[str, str] = Field(default_factory=dict, description="model name or glob -> model id")
    search: SearchConfig | None = None  # web search for the `web` plugin and `:online` (docs/plugins.md)
    # Single sign-on, sessions and management keys with roles (config/roles.py)
    dashboard: DashboardConfig = Field(default_factory=DashboardConfig)
    management_keys: list[ManagementKeyConfig] = Field(default_factory=list, description="keys for the admin API "
                                                        "and the dashboard's JSON API, each with a role")
    # Internal: warnings found while loading (e.g. providers skipped for a missing key).
    warnings: tuple[str, ...] = ()

    @model_validator(mode="after")
    def _cross_check(self) -> Config:
        problems = cross_problems(self) + access_problems(self.dashboard, self.management_keys, self.admin_key)
        if problems:
            raise ValueError("\n".join(problems))
        return self

    @property
    def host(self) -> str:
        return self.listen.rpartition(":")[0].strip("[]")

    @property
    def port(self) -> int:
        return int(self.listen.rpartition(":")[2])


def cross_problems(config: Config | dict[str, Any]) -> list[str]:
    """Checks across settings, as "path: message" lines. Also run on the raw settings when a field is
    invalid (pydantic then skips the model's own check), so one run reports every problem."""
    def get(node: Any, name: str, default: Any = None) -> Any:
        value = node.get(name, default) if isinstance(node, dict) else getattr(node, name, default)
        return default if value is None else value

    providers = get(config, "providers", {})
    names = list(providers) if isinstance(providers, dict) else []
    problems = []
    models = get(config, "models", [])
    for i, model in enumerate(models if isinstance(models, list) else []):
        endpoints = get(model, "endpoints", [])
        for j, endpoint in enumerate(endpoints if isinstance(endpoints, list) else []):
            provider = get(endpoint, "provider")
            if isinstance(provider, str) and provider not in names:
                problems.append(f"models[{i}].endpoints[{j}].provider: unknown provider "
                                f"'{provider}' (configured: {', '.join(names) or 'none'})")
    seen: set[str] = set()
    keys = get(config, "keys", [])
    for i, key in enumerate(keys if isinstance(keys, list) else []):
        name = get(key, "name")
        if isinstance(name, str) and name in seen:
            problems.append(f"keys[{i}].name: duplicate key name '{name}'")
        seen.add(name)
    problems.extend(team_problems(get(config, "teams", []), keys))
    database, state, listen = get(config, "database", ""), get(config, "state", "memory"), get(config, "listen", ":0")
    if isinstance(database, str) and database.split(":", 1)[0] not in (
            "sqlite", "sqlite+aiosqlite", "postgresql", "postgres", "postgresql+asyncpg"):
        problems.append("database: use sqlite:///path or postgresql://user@host:port/db")
    if isinstance(state, str) and state != "memory" and not state.startswith(("redis://", "rediss://", "unix://")):
        problems.append("state: use 'memory' or redis://host:port/db")
    host, _, port = str(listen).rpartition(":") if isinstance(listen, str) else ("", "", "")
    if isinstance(listen, str) and (not host or not port.isdigit()):
        problems.append("listen: use host:port, e.g. 127.0.0.1:8080")
    from .aliases import alias_problems  # reads the bundled catalogue, which imports this module

    return problems + alias_problems(models if isinstance(models, list) else [], get(config, "aliases", {}),
                                     get(config, "default_model"), get(get(config, "messages", {}), "model_aliases", {}))
