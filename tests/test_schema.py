"""The schema: Alembic head equals the models, on SQLite and PostgreSQL; UTC timestamps."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, select, text
from sqlalchemy.exc import StatementError

from kb.store import Store, db
from kb.store.models import Base, Document, DocumentKind, Person
from migrations.env_filters import include_object


def test_revisions_replayed_on_empty_database_match_models(db_url: str) -> None:
    # The Alembic path (existing databases); a new one is built from the models instead,
    # and tests/test_schema_fresh.py requires the two to be identical.
    store = Store.from_url(db_url)
    assert db.current_revision(store.engine) is None
    assert db.run_migrations(store.engine) == db.head_revision()
    with store.engine.connect() as conn:
        ctx = MigrationContext.configure(
            conn, opts={"compare_type": True, "include_object": include_object}
        )
        diff = compare_metadata(ctx, Base.metadata)
    assert diff == []
    tables = set(inspect(store.engine).get_table_names())
    assert set(Base.metadata.tables) <= tables
    store.close()


def test_upgrade_is_idempotent(store: Store) -> None:
    assert db.current_revision(store.engine) == db.head_revision()
    before, after = store.migrate()
    assert before == after == db.head_revision()


def test_models_cover_the_system_wisdom_schema() -> None:
    expected = {
        "sources", "repos", "documents", "chunks", "people", "identities", "services",
        "service_dependencies", "commits", "file_changes", "file_authorship",
        "wisdom_entries", "incidents", "incident_services", "questions", "code_owners",
        "embedding_cache", "service_events",
    }  # fmt: skip
    assert expected <= set(Base.metadata.tables)


def test_timestamps_round_trip_as_aware_utc(store: Store) -> None:
    cet = timezone(timedelta(hours=1))
    seen = datetime(2024, 3, 14, 10, 30, tzinfo=cet)
    with store.transaction() as s:
        s.add(Person(display_name="Alex Morgan", last_activity_at=seen))
    with store.transaction() as s:
        got = s.scalar(select(Person.last_activity_at))
    assert got is not None
    assert got.tzinfo is not None and got.utcoffset() == timedelta(0)
    assert got == seen
    assert got.hour == 9  # stored as UTC


def test_naive_timestamps_are_refused(store: Store) -> None:
    with pytest.raises(StatementError, match="naive datetime"), store.transaction() as s:
        s.add(Person(display_name="x", last_activity_at=datetime(2024, 1, 1)))
        s.flush()


def test_enum_values_are_validated(store: Store) -> None:
    with pytest.raises(StatementError), store.transaction() as s:
        s.execute(
            Document.__table__.insert().values(
                external_id="x", kind="tweet", title="t", content_hash="h", body="b",
                meta={}, ingested_at=datetime.now(UTC),
            )
        )  # fmt: skip
    with store.transaction() as s:
        s.execute(
            Document.__table__.insert().values(
                external_id="y", kind=DocumentKind.ADR, title="t", content_hash="h", body="b",
                meta={}, ingested_at=datetime.now(UTC),
            )
        )  # fmt: skip
        assert s.scalar(select(Document.kind)) is DocumentKind.ADR


def test_sqlite_runs_in_wal_mode(tmp_path) -> None:
    store = Store.from_url(f"sqlite:///{tmp_path / 'kb.sqlite3'}")
    store.migrate()
    with store.engine.connect() as conn:
        assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert conn.execute(text("PRAGMA foreign_keys")).scalar() == 1
    store.close()


def test_head_revision_constant_matches_the_migrations() -> None:
    # Commands skip Alembic when the database is at HEAD_REVISION: it must be the real head.
    assert db.head_revision() == db.HEAD_REVISION
