"""Upstream attempts per hour and endpoint, so the Endpoints view counts failed attempts (and a
generation that no endpoint served) against the endpoints that failed them.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from switchpoint.storage.rollup import rebuild_attempts

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # A database made with the tables' metadata before migrations existed may have it already.
    if not sa.inspect(op.get_bind()).has_table("endpoint_attempts_hourly"):
        op.create_table(
            "endpoint_attempts_hourly",
            sa.Column("start_ms", sa.BigInteger, primary_key=True),
            sa.Column("provider", sa.String(100), primary_key=True),
            sa.Column("model", sa.String(200), primary_key=True),
            sa.Column("attempts", sa.BigInteger, nullable=False),
            sa.Column("failures", sa.BigInteger, nullable=False),
        )
    rebuild_attempts(op.get_bind())  # count the attempts of a ledger written before this revision


def downgrade() -> None:
    op.drop_table("endpoint_attempts_hourly")
