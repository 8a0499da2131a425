"""The end user a key was made for (OpenRouter's `external.user` when a key is created).

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # A database made with the tables' metadata before migrations existed may have it already.
    columns = {c["name"] for c in sa.inspect(op.get_bind()).get_columns("keys")}
    if "external_user" not in columns:
        op.add_column("keys", sa.Column("external_user", sa.String(256), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("keys") as batch:
        batch.drop_column("external_user")
