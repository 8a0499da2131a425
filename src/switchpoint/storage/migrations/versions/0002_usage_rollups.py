"""Hourly and daily usage rollups for reports, and the index behind per-endpoint latency samples.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-21
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from switchpoint.storage.rollup import rebuild_statements

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None
ROLLUPS = ("usage_hourly", "usage_daily")


def upgrade() -> None:
    # A database made with the tables' metadata before migrations existed may have them already.
    existing = sa.inspect(op.get_bind())
    for name in ROLLUPS:
        if existing.has_table(name):
            continue
        op.create_table(
            name,
            sa.Column("start_ms", sa.BigInteger, primary_key=True),
            sa.Column("key_hash", sa.String(64), primary_key=True),
            sa.Column("model", sa.String(200), primary_key=True),
            sa.Column("provider", sa.String(100), primary_key=True),
            *(sa.Column(column, sa.BigInteger, nullable=False) for column in (
                "requests", "errors", "cancelled", "cache_hits", "prompt_tokens", "completion_tokens",
                "reasoning_tokens", "cached_tokens", "cost_nanos", "markup_nanos")),
            sa.Column("latency_ms_sum", sa.Float, nullable=False),
            sa.Column("latency_count", sa.BigInteger, nullable=False),
            sa.Column("ttft_ms_sum", sa.Float, nullable=False),
            sa.Column("ttft_count", sa.BigInteger, nullable=False),
        )
    if "ix_generations_endpoint_time" not in {i["name"] for i in existing.get_indexes("generations")}:
        op.create_index("ix_generations_endpoint_time", "generations",
                        ["provider", "model", "created_at_ms", "latency_ms", "ttft_ms"])
    for statement in rebuild_statements():  # roll up a ledger written before this revision
        op.get_bind().execute(statement)


def downgrade() -> None:
    op.drop_index("ix_generations_endpoint_time", "generations")
    for name in ROLLUPS:
        op.drop_table(name)
