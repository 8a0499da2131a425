"""Alembic environment: migrations run on a connection that `switchpoint db upgrade` (or `serve`)
hands over, inside its transaction, so both SQL dialects and async drivers work the same way."""

from __future__ import annotations

from alembic import context

from switchpoint.storage.tables import metadata

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations with `switchpoint db upgrade`, which supplies the database connection")

context.configure(connection=connection, target_metadata=metadata,
                  render_as_batch=connection.dialect.name == "sqlite")
with context.begin_transaction():
    context.run_migrations()
