"""The switchpoint/auto router's choice for each generation.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-21
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # A database made with the tables' metadata before migrations existed may have it already.
    columns = {c["name"] for c in sa.inspect(op.get_bind()).get_columns("generations")}
    if "router" not in columns:
        op.add_column("generations", sa.Column("router", sa.Text, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("generations") as batch:
        batch.drop_column("router")
