"""Engines and schema migrations: SQLite (embedded default, WAL) or PostgreSQL."""

from __future__ import annotations

import sqlite3
import time
from importlib import resources
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event, inspect, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError, OperationalError

from kb.errors import ConfigError, MissingExtraError
from kb.settings import redact_url_password
from kb.store.models import Base
from kb.store.schema import FULL_TEXT_TABLES, create_head_schema


def make_engine(url: str) -> Engine:
    """An engine for a SQLAlchemy URL; SQLite gets WAL so readers never wait on the writer."""
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise ConfigError(
            f"KB_DATABASE_URL {redact_url_password(url)!r} is not a database URL "
            "(expected e.g. postgresql+psycopg://user@host:5432/db or sqlite:///path/kb.sqlite3)"
        ) from exc
    if parsed.get_backend_name() == "postgresql" and parsed.drivername == "postgresql":
        # psycopg 3 is the driver we ship in the `postgres` extra.
        parsed = parsed.set(drivername="postgresql+psycopg")
    try:
        if parsed.get_backend_name() == "sqlite":
            return _sqlite_engine(parsed)
        return create_engine(parsed, pool_pre_ping=True, future=True)
    except NoSuchModuleError as exc:
        raise ConfigError(f"unsupported database URL {redact_url_password(url)!r}: {exc}") from exc
    except ModuleNotFoundError as exc:
        if "psycopg" in str(exc):
            raise MissingExtraError("psycopg", "postgres", "A PostgreSQL database") from exc
        raise


def placeholder(conn: Connection) -> str:
    """The driver's positional parameter mark, for `exec_driver_sql` on hot paths."""
    return "?" if conn.dialect.paramstyle == "qmark" else "%s"


def _enable_wal(cur: Any, wait_s: float = 30.0) -> None:
    # Switching a new file to WAL needs it to itself, and SQLite answers "locked" at once
    # rather than wait when another connection is switching it too (two processes
    # creating one database): try again until the busy timeout would have run out.
    deadline = time.monotonic() + wait_s
    while True:
        try:
            cur.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.005)


def _sqlite_engine(url: Any) -> Engine:
    if url.database and url.database != ":memory:":
        Path(url.database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, connect_args={"timeout": 30}, future=True)

    @event.listens_for(engine, "connect")
    def _pragmas(dbapi_conn: Any, _record: Any) -> None:
        cur = dbapi_conn.cursor()
        _enable_wal(cur)
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA busy_timeout=30000")
        cur.close()

    return engine


def _alembic_config(engine: Engine) -> Any:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(resources.files("migrations")))
    cfg.set_main_option("sqlalchemy.url", engine.url.render_as_string(hide_password=False))
    return cfg


HEAD_REVISION = "0011"
"""The newest revision in migrations/versions (a test keeps the two equal): knowing it
without loading Alembic lets a command on an up-to-date database skip Alembic entirely."""


def head_revision() -> str:
    """The newest Alembic revision shipped with this kb."""
    from alembic.script import ScriptDirectory

    script = ScriptDirectory(str(resources.files("migrations")))
    head = script.get_current_head()
    assert head is not None, "migrations/versions holds no revision"
    return head


def current_revision(engine: Engine) -> str | None:
    """The revision the database is at (None for an empty database)."""
    with engine.connect() as conn:
        if not inspect(conn).has_table("alembic_version"):
            return None
        rows = conn.execute(text("SELECT version_num FROM alembic_version")).scalars().all()
    if len(rows) > 1:
        raise ConfigError(f"the database has several Alembic heads ({', '.join(rows)})")
    return rows[0] if rows else None


def upgrade(engine: Engine) -> tuple[str | None, str]:
    """Create or upgrade the schema to head; returns (revision before, revision after)."""
    try:
        before = current_revision(engine)
    except OperationalError as exc:
        raise ConfigError(
            f"cannot reach the database {redact_url_password(str(engine.url))}: "
            f"{exc.orig}. Check KB_DATABASE_URL and that the server is running."
        ) from exc
    if before == HEAD_REVISION:
        return before, before
    if before is None:
        if _create_if_empty(engine):
            return None, HEAD_REVISION
        # Another process built the schema while this one waited for the lock.
        before = current_revision(engine)
        if before == HEAD_REVISION:
            return before, before
    return before, run_migrations(engine)


def run_migrations(engine: Engine) -> str:
    """Replay the Alembic revisions from the database's revision to head; returns the head."""
    from alembic import command

    cfg = _alembic_config(engine)
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")
    return head_revision()


# pg_advisory_xact_lock key of schema creation ("kbschema" in ASCII).
_SCHEMA_LOCK = 0x6B62_7363_6865_6D61


def _create_if_empty(engine: Engine) -> bool:
    """Build the head schema in one transaction if the database holds nothing of kb's.

    Returns False when it is not empty after all (an empty version table, or a concurrent
    `kb init` that got there first): Alembic then takes it from where it is.
    """
    with engine.begin() as conn:
        # Hold the schema lock before looking, so two processes never both build it.
        if conn.dialect.name == "sqlite":
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        elif conn.dialect.name == "postgresql":
            conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({_SCHEMA_LOCK})")
        tables = set(inspect(conn).get_table_names())
        versioned = "alembic_version" in tables
        if versioned and conn.execute(text("SELECT count(*) FROM alembic_version")).scalar():
            return False
        if tables & (set(Base.metadata.tables) | FULL_TEXT_TABLES):
            raise ConfigError(
                "the database has kb tables but no Alembic version: it was not created by "
                "`kb init`; point KB_DATABASE_URL at an empty database"
            )
        if versioned:
            return False  # an empty version table: Alembic starts from the first revision
        create_head_schema(conn, HEAD_REVISION)
    return True
