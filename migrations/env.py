"""Alembic environment: runs revisions on the connection kb hands over (or a URL)."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine

from kb.store.models import Base
from migrations.env_filters import include_object

config = context.config
target_metadata = Base.metadata


def run_migrations_online() -> None:
    """Run the revisions on kb's connection, or on a fresh engine for the CLI `alembic`."""
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    engine = create_engine(config.get_main_option("sqlalchemy.url") or "")
    with engine.begin() as conn:
        _run(conn)


def _run(connection: object) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        include_object=include_object,
        render_as_batch=True,  # SQLite needs batch mode to alter tables
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    context.configure(url=config.get_main_option("sqlalchemy.url"), target_metadata=target_metadata)
    with context.begin_transaction():
        context.run_migrations()
else:
    run_migrations_online()
