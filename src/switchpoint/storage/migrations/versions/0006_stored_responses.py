"""Stored Responses API responses (`store: true`) for `previous_response_id` and GET/DELETE /responses/{id}.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # A database made with the tables' metadata before migrations existed may have it already.
    if "stored_responses" in sa.inspect(op.get_bind()).get_table_names():
        return
    op.create_table(
        "stored_responses",
        sa.Column("id", sa.String(200), primary_key=True),
        sa.Column("key_hash", sa.String(64), nullable=False),
        sa.Column("generation_id", sa.String(64), nullable=True),
        sa.Column("created_at_ms", sa.BigInteger, nullable=False),
        sa.Column("expires_at_ms", sa.BigInteger, nullable=False),
        sa.Column("response", sa.Text, nullable=False),
        sa.Column("conversation", sa.Text, nullable=False),
    )
    op.create_index("ix_stored_responses_expiry", "stored_responses", ["expires_at_ms"])


def downgrade() -> None:
    op.drop_index("ix_stored_responses_expiry", table_name="stored_responses")
    op.drop_table("stored_responses")
