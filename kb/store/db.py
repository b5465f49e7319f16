"""Engines and schema migrations: SQLite (embedded default, WAL) or PostgreSQL."""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event, inspect, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError, OperationalError

from kb.errors import ConfigError, MissingExtraError
from kb.settings import redact_url_password


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


def _sqlite_engine(url: Any) -> Engine:
    if url.database and url.database != ":memory:":
        Path(url.database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, connect_args={"timeout": 30}, future=True)

    @event.listens_for(engine, "connect")
    def _pragmas(dbapi_conn: Any, _record: Any) -> None:
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
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


HEAD_REVISION = "0003"
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
    from alembic import command

    try:
        before = current_revision(engine)
    except OperationalError as exc:
        raise ConfigError(
            f"cannot reach the database {redact_url_password(str(engine.url))}: "
            f"{exc.orig}. Check KB_DATABASE_URL and that the server is running."
        ) from exc
    if before is None and inspect(engine).has_table("documents"):
        raise ConfigError(
            "the database has kb tables but no Alembic version: it was not created by "
            "`kb init`; point KB_DATABASE_URL at an empty database"
        )
    if before == HEAD_REVISION:
        return before, before
    cfg = _alembic_config(engine)
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")
    return before, head_revision()
