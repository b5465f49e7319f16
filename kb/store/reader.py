"""Read-only SQL for the knowledge-risk analyses, straight on the database driver.

`kb bus-factor` reads a few plain tables in bulk. SQLAlchemy is the store's toolkit
everywhere else, but loading it (and the ORM) costs a fresh process more than a large
repository's whole report takes to compute; so the analyses read through the DBAPI driver
itself: `sqlite3`, or psycopg for PostgreSQL. Only `kb.store.history` writes SQL for it.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit, urlunsplit

from kb.errors import ConfigError, MissingExtraError
from kb.settings import redact_url_password


class Reader:
    """Read-only queries on the database at a SQLAlchemy-style URL (SQLite or PostgreSQL).

    Each thread gets its own connection, opened on first use and kept: a report runs a
    handful of queries, and the bot or the dashboard ask from several threads. Reads are
    autocommit, so each query sees what writers have committed by then.
    """

    def __init__(self, url: str) -> None:
        self.url = url
        scheme = urlsplit(url).scheme
        backend = scheme.split("+", 1)[0]
        if backend == "sqlite":
            self.dialect = "sqlite"
            self.mark = "?"
            self._path = _sqlite_path(url)
        elif backend in ("postgresql", "postgres"):
            self.dialect = "postgresql"
            self.mark = "%s"
            parts = urlsplit(url)
            self._conninfo = urlunsplit(parts._replace(scheme="postgresql"))
        else:
            raise ConfigError(f"unsupported database URL scheme {scheme!r} for reading")
        self._local = threading.local()
        self._opened: list[Any] = []
        self._lock = threading.Lock()

    def exists(self) -> bool:
        """Whether there is a database to read (an embedded one may not be created yet)."""
        return self.dialect != "sqlite" or self._path == ":memory:" or Path(self._path).exists()

    def rows(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """All rows of `sql` (with `self.mark` placeholders) as plain tuples."""
        cur = self._connection().cursor()
        try:
            cur.execute(sql, tuple(params))
            return cur.fetchall()
        finally:
            cur.close()

    def one(self, sql: str, params: Sequence[Any] = ()) -> tuple[Any, ...] | None:
        """The first row of `sql`, or None."""
        found = self.rows(sql, params)
        return found[0] if found else None

    def has_table(self, name: str) -> bool:
        """Whether the database holds a table called `name`."""
        if self.dialect == "sqlite":
            sql = "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?"
        else:
            sql = "SELECT 1 FROM pg_tables WHERE schemaname = current_schema() AND tablename = %s"
        return self.one(sql, (name,)) is not None

    def close(self) -> None:
        """Close every connection this reader opened (in any thread)."""
        with self._lock:
            opened, self._opened = self._opened, []
        for conn in opened:
            conn.close()
        self._local = threading.local()

    def _connection(self) -> Any:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._connect()
            self._local.conn = conn
            with self._lock:
                self._opened.append(conn)
        return conn

    def _connect(self) -> Any:
        if self.dialect == "sqlite":
            # The writer set WAL mode: reading never waits for it. A connection may be
            # closed from another thread (KB.close), hence check_same_thread=False.
            conn = sqlite3.connect(
                self._path, timeout=30, isolation_level=None, check_same_thread=False
            )
            conn.execute("PRAGMA busy_timeout=30000")
            return conn
        try:
            import psycopg
        except ModuleNotFoundError as exc:  # pragma: no cover - extra missing
            raise MissingExtraError("psycopg", "postgres", "A PostgreSQL database") from exc
        try:
            return psycopg.connect(self._conninfo, autocommit=True)
        except psycopg.OperationalError as exc:
            raise ConfigError(
                f"cannot reach the database {redact_url_password(self.url)}: "
                f"{' '.join(str(exc).split())}. "
                "Check KB_DATABASE_URL and that the server is running."
            ) from exc


def _sqlite_path(url: str) -> str:
    # sqlite:///relative.db, sqlite:////absolute/path.db, sqlite:// or sqlite:///:memory:
    rest = url.split("://", 1)[1] if "://" in url else ""
    if not rest or rest in ("/", "/:memory:"):
        return ":memory:"
    path = rest[1:] if rest.startswith("/") else rest
    return unquote(path.split("?", 1)[0])
