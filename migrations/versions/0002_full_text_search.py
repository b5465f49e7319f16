"""full-text search over chunks: SQLite FTS5 (kept in sync by triggers) or a PostgreSQL GIN index

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22 03:05:00
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Must match kb.store.search.PG_TSVECTOR so the planner uses the index.
PG_TSVECTOR = "to_tsvector('english', coalesce(heading, '') || ' ' || text)"


def upgrade() -> None:
    if op.get_context().dialect.name == "sqlite":
        # External-content FTS5 over chunks: triggers keep it in step with every write,
        # so no code path can forget to index a chunk.
        op.execute(
            "CREATE VIRTUAL TABLE chunk_fts USING fts5(heading, text, content='chunks', "
            "content_rowid='rowid', tokenize='porter unicode61 remove_diacritics 2')"
        )
        op.execute(
            "CREATE TRIGGER chunk_fts_ai AFTER INSERT ON chunks BEGIN "
            "INSERT INTO chunk_fts(rowid, heading, text) "
            "VALUES (new.rowid, new.heading, new.text); END"
        )
        op.execute(
            "CREATE TRIGGER chunk_fts_ad AFTER DELETE ON chunks BEGIN "
            "INSERT INTO chunk_fts(chunk_fts, rowid, heading, text) "
            "VALUES ('delete', old.rowid, old.heading, old.text); END"
        )
        op.execute(
            "CREATE TRIGGER chunk_fts_au AFTER UPDATE ON chunks BEGIN "
            "INSERT INTO chunk_fts(chunk_fts, rowid, heading, text) "
            "VALUES ('delete', old.rowid, old.heading, old.text); "
            "INSERT INTO chunk_fts(rowid, heading, text) "
            "VALUES (new.rowid, new.heading, new.text); END"
        )
        op.execute("INSERT INTO chunk_fts(chunk_fts) VALUES ('rebuild')")
    else:
        op.execute(f"CREATE INDEX chunk_fts_gin ON chunks USING gin ({PG_TSVECTOR})")


def downgrade() -> None:
    if op.get_context().dialect.name == "sqlite":
        for trigger in ("chunk_fts_ai", "chunk_fts_ad", "chunk_fts_au"):
            op.execute(f"DROP TRIGGER IF EXISTS {trigger}")
        op.execute("DROP TABLE IF EXISTS chunk_fts")
    else:
        op.execute("DROP INDEX IF EXISTS chunk_fts_gin")
