"""A new database built from the models (no Alembic) equals one built by the revisions."""

from __future__ import annotations

import importlib
import re
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from pgdb import fresh_database
from sqlalchemy import Connection, Engine, text

from kb.contract.records import ChunkText, DocumentRecord
from kb.errors import ConfigError
from kb.store import Store, db, search
from kb.store import schema as kb_schema
from kb.store.models import Base, DocumentKind
from migrations.env_filters import include_object


@pytest.fixture
def other_url(db_url: str, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[str]:
    """A second empty database on the same backend as `db_url`."""
    if db_url.startswith("sqlite"):
        yield f"sqlite:///{tmp_path / 'other.sqlite3'}"
        return
    server: str = request.getfixturevalue("pg_server")
    with fresh_database(server) as url:
        yield url


# -- schema snapshots ------------------------------------------------------------------------
# Column order is left out on purpose: ALTER TABLE ADD COLUMN appends while a model may
# declare the column anywhere, and kb never relies on a column's position.


def _split_top_level(body: str) -> list[str]:
    items, depth, start = [], 0, 0
    for i, ch in enumerate(body):
        depth += {"(": 1, ")": -1}.get(ch, 0)
        if ch == "," and depth == 0:
            items.append(body[start:i])
            start = i + 1
    items.append(body[start:])
    return [item.strip() for item in items]


def _normalised_sql(sql: str | None) -> str | None:
    """SQL as SQLite stored it, minus layout: whitespace, identifier quotes, item order."""
    if sql is None:
        return None
    flat = re.sub(r"\s+", " ", sql.replace('"', "")).strip()
    flat = re.sub(r"\s*([(),])\s*", r"\1", flat)
    if not flat.upper().startswith("CREATE TABLE"):
        return flat
    head, _, body = flat.partition("(")
    items = sorted(_split_top_level(body.removesuffix(")")))
    return f"{head.strip()}({','.join(items)})"


def _sqlite_schema(conn: Connection) -> dict[str, Any]:
    objects = conn.execute(text("SELECT type, name, tbl_name, sql FROM sqlite_master")).all()
    snapshot: dict[str, Any] = {
        "objects": sorted((t, n, tbl, _normalised_sql(sql)) for t, n, tbl, sql in objects)
    }
    for kind, name, _tbl, _sql in objects:
        if kind != "table":
            continue
        columns = conn.exec_driver_sql(f"PRAGMA table_xinfo('{name}')").all()
        snapshot[f"columns {name}"] = sorted(tuple(c)[1:] for c in columns)  # without cid
        fks = conn.exec_driver_sql(f"PRAGMA foreign_key_list('{name}')").all()
        snapshot[f"foreign keys {name}"] = sorted(tuple(fk)[1:] for fk in fks)  # without id
        indexes = conn.exec_driver_sql(f"PRAGMA index_list('{name}')").all()
        snapshot[f"indexes {name}"] = sorted(tuple(ix)[1:] for ix in indexes)  # without seq
        for index in indexes:
            keys = conn.exec_driver_sql(f"PRAGMA index_xinfo('{index[1]}')").all()
            # (seqno, name, desc, collation, key): the indexed column's cid is left out.
            snapshot[f"index {index[1]}"] = [(k[0], k[2], k[3], k[4], k[5]) for k in keys]
    return snapshot


_PG_QUERIES = {
    "relations": """
        SELECT c.relname, c.relkind FROM pg_class c
        JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'public'
    """,
    "columns": """
        SELECT table_name, column_name, data_type, udt_name, character_maximum_length,
               numeric_precision, datetime_precision, is_nullable, column_default, is_identity
        FROM information_schema.columns WHERE table_schema = 'public'
    """,
    "indexes": "SELECT tablename, indexname, indexdef FROM pg_indexes WHERE schemaname = 'public'",
    "constraints": """
        SELECT conrelid::regclass::text, conname, contype, pg_get_constraintdef(c.oid)
        FROM pg_constraint c JOIN pg_namespace n ON n.oid = c.connamespace
        WHERE n.nspname = 'public'
    """,
    "sequences": """
        SELECT sequencename, data_type, start_value, min_value, max_value, increment_by, cycle
        FROM pg_sequences WHERE schemaname = 'public'
    """,
    "sequence owners": """
        SELECT s.relname, t.relname, a.attname, d.deptype FROM pg_class s
        JOIN pg_namespace n ON n.oid = s.relnamespace AND n.nspname = 'public'
        JOIN pg_depend d ON d.objid = s.oid AND d.classid = 'pg_class'::regclass
             AND d.refclassid = 'pg_class'::regclass
        JOIN pg_class t ON t.oid = d.refobjid
        JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = d.refobjsubid
        WHERE s.relkind = 'S'
    """,
    "triggers": """
        SELECT tgrelid::regclass::text, tgname, pg_get_triggerdef(oid) FROM pg_trigger
        WHERE NOT tgisinternal
    """,
}


def _postgres_schema(conn: Connection) -> dict[str, Any]:
    return {
        what: sorted(tuple(row) for row in conn.execute(text(query)))
        for what, query in _PG_QUERIES.items()
    }


def schema_of(engine: Engine) -> dict[str, Any]:
    """Everything that makes up the database's schema, in an order-free, comparable form."""
    with engine.connect() as conn:
        if engine.dialect.name == "sqlite":
            snapshot = _sqlite_schema(conn)
        else:
            snapshot = _postgres_schema(conn)
        snapshot["alembic_version"] = conn.execute(
            text("SELECT version_num FROM alembic_version")
        ).all()
    return snapshot


def _assert_same_schema(replayed: dict[str, Any], fresh: dict[str, Any]) -> None:
    assert replayed.keys() == fresh.keys()
    for part in replayed:
        assert fresh[part] == replayed[part], f"{part} differs (revisions vs fresh path)"


# -- tests -----------------------------------------------------------------------------------


def test_fresh_schema_equals_the_replayed_revisions(db_url: str, other_url: str) -> None:
    replayed = Store.from_url(other_url)
    assert db.run_migrations(replayed.engine) == db.HEAD_REVISION
    fresh = Store.from_url(db_url)
    assert fresh.migrate() == (None, db.HEAD_REVISION)

    want, got = schema_of(replayed.engine), schema_of(fresh.engine)
    _assert_same_schema(want, got)
    assert got["alembic_version"] == [(db.head_revision(),)]
    # The full-text objects are there (and so compared), not merely absent on both sides.
    if fresh.dialect == "sqlite":
        names = {row[1] for row in got["objects"]}
        assert {"chunk_fts", "chunk_fts_data", "chunk_fts_ai", "chunk_fts_ad"} <= names
        assert "chunk_fts_au" in names
    else:
        assert "chunk_fts_gin" in {row[1] for row in got["indexes"]}
    # Both equal the models as Alembic's autogenerate sees them.
    for store in (replayed, fresh):
        with store.engine.connect() as conn:
            ctx = MigrationContext.configure(
                conn, opts={"compare_type": True, "include_object": include_object}
            )
            assert compare_metadata(ctx, Base.metadata) == []
        store.close()


def test_snapshot_sees_a_missing_full_text_object(db_url: str, other_url: str) -> None:
    # The comparison above must be able to fail: drop what the models don't describe.
    stores = [Store.from_url(db_url), Store.from_url(other_url)]
    for store in stores:
        store.migrate()
    drop = "DROP TRIGGER chunk_fts_au" if "sqlite" in db_url else "DROP INDEX chunk_fts_gin"
    with stores[1].engine.begin() as conn:
        conn.exec_driver_sql(drop)
    with pytest.raises(AssertionError, match="differs"):
        _assert_same_schema(schema_of(stores[0].engine), schema_of(stores[1].engine))
    for store in stores:
        store.close()


def test_fresh_database_searches_and_stays_at_head(
    db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = Store.from_url(db_url)
    with monkeypatch.context() as m:
        m.setitem(sys.modules, "alembic", None)  # any Alembic import now raises ImportError
        assert store.migrate() == (None, db.HEAD_REVISION)

    record = DocumentRecord(
        external_id="adr:0007",
        kind=DocumentKind.ADR,
        title="ADR 7: async order to payment",
        body="Payments are settled asynchronously through the outbox.",
    )
    with store.transaction(write=True) as s:
        doc_id, _ = store.upsert_document(s, record, None)
        diff = store.replace_chunks(
            s, doc_id, record.external_id, [ChunkText("settled through the outbox", "Decision")]
        )
    hits = search.lexical_search(store, ["outbox"], k=5)
    assert [cid for cid, _ in hits] == [diff.upserted[0].id]
    with store.transaction(write=True) as s:  # the update trigger / expression follows edits
        store.replace_chunks(s, doc_id, record.external_id, [ChunkText("idempotency keys")])
    assert search.lexical_search(store, ["outbox"], k=5) == []
    assert len(search.lexical_search(store, ["idempotency"], k=5)) == 1

    before = schema_of(store.engine)
    assert store.migrate() == (db.HEAD_REVISION, db.HEAD_REVISION)
    assert db.run_migrations(store.engine) == db.HEAD_REVISION  # Alembic finds nothing to do
    assert schema_of(store.engine) == before
    store.close()


def test_two_processes_creating_one_database_build_it_once(db_url: str) -> None:
    stores = [Store.from_url(db_url), Store.from_url(db_url)]
    start = threading.Barrier(len(stores))
    results: list[tuple[str | None, str]] = []
    errors: list[BaseException] = []

    def init(store: Store) -> None:
        start.wait()
        try:
            results.append(store.migrate())
        except BaseException as exc:  # reported below, with the traceback
            errors.append(exc)

    threads = [threading.Thread(target=init, args=(s,)) for s in stores]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    head = db.HEAD_REVISION
    assert sorted(results, key=str) == [(head, head), (None, head)]
    assert schema_of(stores[0].engine)["alembic_version"] == [(head,)]
    for store in stores:
        store.close()


def test_kb_tables_without_a_version_are_refused(db_url: str) -> None:
    store = Store.from_url(db_url)
    with store.engine.begin() as conn:
        Base.metadata.tables["people"].create(conn)  # not `documents`, the one once checked
    with pytest.raises(ConfigError, match="kb tables but no Alembic version"):
        store.migrate()
    store.close()


def test_empty_version_table_is_left_to_alembic(db_url: str, other_url: str) -> None:
    store = Store.from_url(db_url)
    with store.engine.begin() as conn:
        conn.exec_driver_sql(
            "CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL, "
            "CONSTRAINT alembic_version_pkc PRIMARY KEY (version_num))"
        )
    assert store.migrate() == (None, db.HEAD_REVISION)
    fresh = Store.from_url(other_url)
    fresh.migrate()
    _assert_same_schema(schema_of(fresh.engine), schema_of(store.engine))
    for s in (store, fresh):
        s.close()


def test_full_text_expression_is_the_one_search_and_revision_0002_use() -> None:
    revision = importlib.import_module("migrations.versions.0002_full_text_search")
    assert kb_schema.PG_TSVECTOR == search.PG_TSVECTOR == revision.PG_TSVECTOR
