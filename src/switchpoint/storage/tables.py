"""Table definitions shared by both dialects. Money is stored as integer nano-USD (1e-9) so sums
are exact in SQLite and PostgreSQL alike; times as epoch milliseconds."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Float,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
)

metadata = MetaData()

keys = Table(
    "keys", metadata,
    Column("hash", String(64), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("label", String(64), nullable=False),
    Column("disabled", Boolean, nullable=False, default=False),
    Column("limit_nanos", BigInteger, nullable=True),
    Column("limit_reset", String(16), nullable=True),
    Column("rate_limit_requests", Integer, nullable=True),
    Column("rate_limit_interval", Float, nullable=True),
    Column("token_limit_tokens", BigInteger, nullable=True),
    Column("token_limit_interval", Float, nullable=True),
    Column("cache", Boolean, nullable=False, default=False),
    Column("log_content", Boolean, nullable=False, default=False),
    Column("source", String(16), nullable=False, default="api"),  # api | config
    Column("created_at_ms", BigInteger, nullable=False),
    Column("updated_at_ms", BigInteger, nullable=True),
    Column("expires_at_ms", BigInteger, nullable=True),
    Column("external_user", String(256), nullable=True),     # the end user the key was made for
    # limits per end user of the key (the request's `user`), for apps that resell access
    Column("user_limit_nanos", BigInteger, nullable=True),
    Column("user_rate_limit_requests", Integer, nullable=True),
    Column("user_rate_limit_interval", Float, nullable=True),
)

generations = Table(
    "generations", metadata,
    Column("id", String(64), primary_key=True),
    Column("created_at_ms", BigInteger, nullable=False),
    Column("key_hash", String(64), nullable=False),
    Column("api_type", String(16), nullable=False),          # completions | embeddings | messages | responses
    Column("model", String(200), nullable=False),            # public model id that served (or was asked)
    Column("provider", String(100), nullable=True),          # configured provider name that served
    Column("upstream_model", String(200), nullable=True),
    Column("upstream_id", String(200), nullable=True),
    Column("status", String(16), nullable=False),            # success | error | cancelled | refused (no upstream attempt)
    Column("http_status", Integer, nullable=False),
    Column("streamed", Boolean, nullable=False, default=False),
    Column("cache_hit", Boolean, nullable=False, default=False),
    Column("finish_reason", String(32), nullable=True),
    Column("native_finish_reason", String(64), nullable=True),
    Column("prompt_tokens", Integer, nullable=False, default=0),
    Column("completion_tokens", Integer, nullable=False, default=0),
    Column("cached_tokens", Integer, nullable=False, default=0),
    Column("cache_write_tokens", Integer, nullable=False, default=0),
    Column("reasoning_tokens", Integer, nullable=False, default=0),
    Column("usage_estimated", Boolean, nullable=False, default=False),
    Column("cost_nanos", BigInteger, nullable=False, default=0),
    Column("markup_nanos", BigInteger, nullable=False, default=0),
    Column("latency_ms", Float, nullable=True),
    Column("ttft_ms", Float, nullable=True),
    Column("generation_ms", Float, nullable=True),
    Column("external_user", String(256), nullable=True),
    Column("error", Text, nullable=True),
    Column("attempts", Text, nullable=True),                 # JSON list of attempts
    Column("router", Text, nullable=True),                   # JSON: switchpoint/auto's choice
)

Index("ix_generations_key_time", generations.c.key_hash, generations.c.created_at_ms)
Index("ix_generations_time", generations.c.created_at_ms)
Index("ix_generations_model_time", generations.c.model, generations.c.created_at_ms)
# Covers the dashboard's per-endpoint latency samples (an index-only range scan).
Index("ix_generations_endpoint_time", generations.c.provider, generations.c.model, generations.c.created_at_ms,
      generations.c.latency_ms, generations.c.ttft_ms)


def _usage_table(name: str) -> Table:
    """Totals per (time bucket, key, model, provider), kept in step with the ledger by the same
    transaction that inserts generations, so reports read thousands of rows instead of millions
    (storage/rollup.py). `start_ms` is the start of the hour or UTC day."""
    return Table(
        name, metadata,
        Column("start_ms", BigInteger, primary_key=True),
        Column("key_hash", String(64), primary_key=True),
        Column("model", String(200), primary_key=True),
        Column("provider", String(100), primary_key=True),     # '' when no provider served
        Column("requests", BigInteger, nullable=False, default=0),
        Column("errors", BigInteger, nullable=False, default=0),
        Column("cancelled", BigInteger, nullable=False, default=0),
        Column("cache_hits", BigInteger, nullable=False, default=0),
        Column("prompt_tokens", BigInteger, nullable=False, default=0),
        Column("completion_tokens", BigInteger, nullable=False, default=0),
        Column("reasoning_tokens", BigInteger, nullable=False, default=0),
        Column("cached_tokens", BigInteger, nullable=False, default=0),
        Column("cost_nanos", BigInteger, nullable=False, default=0),
        Column("markup_nanos", BigInteger, nullable=False, default=0),
        Column("latency_ms_sum", Float, nullable=False, default=0.0),
        Column("latency_count", BigInteger, nullable=False, default=0),
        Column("ttft_ms_sum", Float, nullable=False, default=0.0),
        Column("ttft_count", BigInteger, nullable=False, default=0),
    )


usage_hourly = _usage_table("usage_hourly")
usage_daily = _usage_table("usage_daily")

# Upstream attempts per hour and endpoint (provider, public model id), failed ones apart: the Endpoints
# view's requests and error rate. A generation's row names only the endpoint that served it, so an
# endpoint that fails every attempt would otherwise show no requests at all.
endpoint_attempts_hourly = Table(
    "endpoint_attempts_hourly", metadata,
    Column("start_ms", BigInteger, primary_key=True),
    Column("provider", String(100), primary_key=True),
    Column("model", String(200), primary_key=True),
    Column("attempts", BigInteger, nullable=False, default=0),
    Column("failures", BigInteger, nullable=False, default=0),
)

# Responses API state (`store: true`): the Response object and the conversation it continued (every input
# item before its output), so `previous_response_id` can carry a conversation on. Only the key that made
# a response can read, continue or delete it; rows past `expires_at_ms` are purged (responses.retention_days).
stored_responses = Table(
    "stored_responses", metadata,
    Column("id", String(200), primary_key=True),             # the response id the client got
    Column("key_hash", String(64), nullable=False),
    Column("generation_id", String(64), nullable=True),
    Column("created_at_ms", BigInteger, nullable=False),
    Column("expires_at_ms", BigInteger, nullable=False),
    Column("response", Text, nullable=False),                # JSON: the Response object
    Column("conversation", Text, nullable=False),            # JSON: the input items, history included
)

Index("ix_stored_responses_expiry", stored_responses.c.expires_at_ms)

# Every change to keys (and teams, policies, users): who, when, what, before and after. Append-only;
# the before/after objects never hold a key, its hash or anything secret-like (storage/audit.py).
audit_log = Table(
    "audit_log", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("at_ms", BigInteger, nullable=False),
    Column("actor", String(256), nullable=False),
    Column("action", String(64), nullable=False),            # e.g. key.create, key.update, key.delete
    Column("target", String(512), nullable=False),
    Column("before", Text, nullable=True),                   # JSON
    Column("after", Text, nullable=True),                    # JSON
)

Index("ix_audit_log_time", audit_log.c.at_ms, audit_log.c.id)
