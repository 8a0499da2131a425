"""Keys and the generation ledger.

Revision ID: 0001
Revises:
Create Date: 2026-11-21
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "keys",
        sa.Column("hash", sa.String(64), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("label", sa.String(64), nullable=False),
        sa.Column("disabled", sa.Boolean, nullable=False),
        sa.Column("limit_nanos", sa.BigInteger, nullable=True),
        sa.Column("limit_reset", sa.String(16), nullable=True),
        sa.Column("rate_limit_requests", sa.Integer, nullable=True),
        sa.Column("rate_limit_interval", sa.Float, nullable=True),
        sa.Column("token_limit_tokens", sa.BigInteger, nullable=True),
        sa.Column("token_limit_interval", sa.Float, nullable=True),
        sa.Column("cache", sa.Boolean, nullable=False),
        sa.Column("log_content", sa.Boolean, nullable=False),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("created_at_ms", sa.BigInteger, nullable=False),
        sa.Column("updated_at_ms", sa.BigInteger, nullable=True),
        sa.Column("expires_at_ms", sa.BigInteger, nullable=True),
    )
    op.create_table(
        "generations",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("created_at_ms", sa.BigInteger, nullable=False),
        sa.Column("key_hash", sa.String(64), nullable=False),
        sa.Column("api_type", sa.String(16), nullable=False),
        sa.Column("model", sa.String(200), nullable=False),
        sa.Column("provider", sa.String(100), nullable=True),
        sa.Column("upstream_model", sa.String(200), nullable=True),
        sa.Column("upstream_id", sa.String(200), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("http_status", sa.Integer, nullable=False),
        sa.Column("streamed", sa.Boolean, nullable=False),
        sa.Column("cache_hit", sa.Boolean, nullable=False),
        sa.Column("finish_reason", sa.String(32), nullable=True),
        sa.Column("native_finish_reason", sa.String(64), nullable=True),
        sa.Column("prompt_tokens", sa.Integer, nullable=False),
        sa.Column("completion_tokens", sa.Integer, nullable=False),
        sa.Column("cached_tokens", sa.Integer, nullable=False),
        sa.Column("cache_write_tokens", sa.Integer, nullable=False),
        sa.Column("reasoning_tokens", sa.Integer, nullable=False),
        sa.Column("usage_estimated", sa.Boolean, nullable=False),
        sa.Column("cost_nanos", sa.BigInteger, nullable=False),
        sa.Column("markup_nanos", sa.BigInteger, nullable=False),
        sa.Column("latency_ms", sa.Float, nullable=True),
        sa.Column("ttft_ms", sa.Float, nullable=True),
        sa.Column("generation_ms", sa.Float, nullable=True),
        sa.Column("external_user", sa.String(256), nullable=True),
        sa.Column("error", sa.Text, nullable=True),
        sa.Column("attempts", sa.Text, nullable=True),
    )
    op.create_index("ix_generations_key_time", "generations", ["key_hash", "created_at_ms"])
    op.create_index("ix_generations_time", "generations", ["created_at_ms"])
    op.create_index("ix_generations_model_time", "generations", ["model", "created_at_ms"])


def downgrade() -> None:
    op.drop_table("generations")
    op.drop_table("keys")
