"""The schema at head built in one go for a new database: the models, full-text search, stamp.

Alembic's recipe for a database built from scratch ("create_all, then stamp head") without
loading Alembic: the revisions are replayed only on databases that already exist. What the
models do not describe (revision 0002's full-text objects) is spelled out here; a test
builds one database each way and requires identical schemas on SQLite and PostgreSQL.
"""

from __future__ import annotations

from sqlalchemy import Column, Connection, MetaData, PrimaryKeyConstraint, String, Table

from kb.store.models import Base

# The expression full-text queries (kb.store.search) use, so the planner uses the index;
# revision 0002 holds its own copy (a test keeps the two equal).
PG_TSVECTOR = "to_tsvector('english', coalesce(heading, '') || ' ' || text)"

# Revision 0002 on SQLite: external-content FTS5 over chunks, kept in step by triggers.
SQLITE_FULL_TEXT = (
    "CREATE VIRTUAL TABLE chunk_fts USING fts5(heading, text, content='chunks', "
    "content_rowid='rowid', tokenize='porter unicode61 remove_diacritics 2')",
    "CREATE TRIGGER chunk_fts_ai AFTER INSERT ON chunks BEGIN "
    "INSERT INTO chunk_fts(rowid, heading, text) "
    "VALUES (new.rowid, new.heading, new.text); END",
    "CREATE TRIGGER chunk_fts_ad AFTER DELETE ON chunks BEGIN "
    "INSERT INTO chunk_fts(chunk_fts, rowid, heading, text) "
    "VALUES ('delete', old.rowid, old.heading, old.text); END",
    "CREATE TRIGGER chunk_fts_au AFTER UPDATE ON chunks BEGIN "
    "INSERT INTO chunk_fts(chunk_fts, rowid, heading, text) "
    "VALUES ('delete', old.rowid, old.heading, old.text); "
    "INSERT INTO chunk_fts(rowid, heading, text) "
    "VALUES (new.rowid, new.heading, new.text); END",
)

# Revision 0002 on PostgreSQL: a GIN index on the expression full-text queries use.
POSTGRES_FULL_TEXT = (f"CREATE INDEX chunk_fts_gin ON chunks USING gin ({PG_TSVECTOR})",)

# Alembic's own version table, as its MigrationContext declares it.
_ALEMBIC_VERSION = Table(
    "alembic_version",
    MetaData(),
    Column("version_num", String(32), nullable=False),
    PrimaryKeyConstraint("version_num", name="alembic_version_pkc"),
)

FULL_TEXT_TABLES = frozenset({"chunk_fts"})
"""Tables of kb the models do not declare (SQLite's FTS5 table; its shadow tables follow it)."""


def create_head_schema(conn: Connection, revision: str) -> None:
    """Create every kb object in an empty database and stamp it at `revision` (the head)."""
    Base.metadata.create_all(conn, checkfirst=False)
    full_text = SQLITE_FULL_TEXT if conn.dialect.name == "sqlite" else POSTGRES_FULL_TEXT
    for statement in full_text:
        conn.exec_driver_sql(statement)
    _ALEMBIC_VERSION.create(conn, checkfirst=False)
    conn.execute(_ALEMBIC_VERSION.insert().values(version_num=revision))
