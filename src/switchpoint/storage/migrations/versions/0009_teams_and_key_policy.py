"""Teams (a budget, rate limits and an access policy shared by their keys), and each key's team and
access policy (`models`, `providers`, `max_price`). Teams carry per-end-user limits too, like keys.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

KEY_COLUMNS = (("team", sa.String(100)), ("models", sa.Text()), ("providers", sa.Text()), ("max_price", sa.Text()))


def upgrade() -> None:
    inspector = sa.inspect(op.get_bind())
    # A database made with the tables' metadata before migrations existed may have them already.
    columns = {c["name"] for c in inspector.get_columns("keys")}
    for name, kind in KEY_COLUMNS:
        if name not in columns:
            op.add_column("keys", sa.Column(name, kind, nullable=True))
    if "ix_keys_team" not in {i["name"] for i in inspector.get_indexes("keys")}:
        op.create_index("ix_keys_team", "keys", ["team"])
    if "teams" in inspector.get_table_names():
        return
    op.create_table(
        "teams",
        sa.Column("name", sa.String(100), primary_key=True),
        sa.Column("limit_nanos", sa.BigInteger, nullable=True),
        sa.Column("limit_reset", sa.String(16), nullable=True),
        sa.Column("rate_limit_requests", sa.Integer, nullable=True),
        sa.Column("rate_limit_interval", sa.Float, nullable=True),
        sa.Column("token_limit_tokens", sa.BigInteger, nullable=True),
        sa.Column("token_limit_interval", sa.Float, nullable=True),
        sa.Column("models", sa.Text, nullable=True),
        sa.Column("providers", sa.Text, nullable=True),
        sa.Column("max_price", sa.Text, nullable=True),
        sa.Column("user_limit_nanos", sa.BigInteger, nullable=True),
        sa.Column("user_rate_limit_requests", sa.Integer, nullable=True),
        sa.Column("user_rate_limit_interval", sa.Float, nullable=True),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("created_at_ms", sa.BigInteger, nullable=False),
        sa.Column("updated_at_ms", sa.BigInteger, nullable=True),
    )


def downgrade() -> None:
    op.drop_table("teams")
    op.drop_index("ix_keys_team", table_name="keys")
    with op.batch_alter_table("keys") as batch:
        for name, _ in reversed(KEY_COLUMNS):
            batch.drop_column(name)
