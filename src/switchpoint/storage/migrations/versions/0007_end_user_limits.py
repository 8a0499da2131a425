"""Limits per end user of a key (the request's `user`): a USD budget and a request rate.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

COLUMNS = (("user_limit_nanos", sa.BigInteger), ("user_rate_limit_requests", sa.Integer),
           ("user_rate_limit_interval", sa.Float))


def upgrade() -> None:
    # A database made with the tables' metadata before migrations existed may have them already.
    present = {c["name"] for c in sa.inspect(op.get_bind()).get_columns("keys")}
    for name, kind in COLUMNS:
        if name not in present:
            op.add_column("keys", sa.Column(name, kind, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("keys") as batch:
        for name, _ in reversed(COLUMNS):
            batch.drop_column(name)
