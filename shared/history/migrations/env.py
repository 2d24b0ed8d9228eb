"""Alembic's environment for the history database: always run programmatically, on the
connection and transaction that `shared.history.migrate.upgrade` opened (never from an
alembic.ini), so the whole upgrade commits or rolls back as one."""

from __future__ import annotations

from alembic import context

from shared.history.schema import metadata

connection = context.config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=metadata,
    # ALTER TABLE on SQLite goes through alembic's batch mode (copy and move).
    render_as_batch=connection.dialect.name == "sqlite",
    transaction_per_migration=False,
)
with context.begin_transaction():
    context.run_migrations()
