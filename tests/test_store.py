"""The SQL store: upserts by stable id, chunk replacement, cursors, embedding cache."""

from __future__ import annotations

from sqlalchemy import func, select

from kb.contract.kinds import SourceKind
from kb.contract.records import ChunkText, DocumentRecord
from kb.store import Store
from kb.store.history import source_cursor
from kb.store.models import Chunk, Document, DocumentKind
from kb.store.reader import Reader


def _adr(body: str) -> DocumentRecord:
    return DocumentRecord(
        external_id="git:order-service:docs/adr/0003-async-payment-via-events.md",
        kind=DocumentKind.ADR,
        title="3. Async payment via events",
        body=body,
        repo=None,
        path="docs/adr/0003-async-payment-via-events.md",
    )


def test_upsert_document_never_duplicates(store: Store) -> None:
    src = store.ensure_source(SourceKind.GIT, "order-service", "/repos/order-service")
    with store.transaction() as s:
        first, changed1 = store.upsert_document(s, _adr("Context: checkout outage."), src)
    with store.transaction() as s:
        second, changed2 = store.upsert_document(s, _adr("Context: checkout outage."), src)
    with store.transaction() as s:
        third, changed3 = store.upsert_document(s, _adr("Context: INC-2024-03."), src)
        assert s.scalar(select(func.count()).select_from(Document)) == 1
        assert s.scalar(select(Document.body)) == "Context: INC-2024-03."
    assert first == second == third
    assert (changed1, changed2, changed3) == (True, False, True)


def test_replace_chunks_reports_changed_and_stale(store: Store) -> None:
    ext = "doc:readme"
    with store.transaction() as s:
        doc_id, _ = store.upsert_document(
            s, DocumentRecord(ext, DocumentKind.DOC, "README", "a b c"), None
        )
        first = store.replace_chunks(
            s, doc_id, ext, [ChunkText("a"), ChunkText("b"), ChunkText("c")]
        )
    assert len(first.upserted) == 3 and first.stale_ids == []
    with store.transaction() as s:
        second = store.replace_chunks(s, doc_id, ext, [ChunkText("a"), ChunkText("B!")])
    assert [c.text for c in second.upserted] == ["B!"]
    assert second.stale_ids == [first.upserted[2].id]
    with store.transaction() as s:
        texts = list(s.scalars(select(Chunk.text).order_by(Chunk.ordinal)))
    assert texts == ["a", "B!"]


def test_delete_documents_returns_their_chunk_ids(store: Store) -> None:
    with store.transaction() as s:
        doc_id, _ = store.upsert_document(s, DocumentRecord("d1", DocumentKind.DOC, "t", "x"), None)
        diff = store.replace_chunks(s, doc_id, "d1", [ChunkText("x"), ChunkText("y")])
    with store.transaction() as s:
        n_docs, gone = store.delete_documents(s, ["d1", "never-stored"])
    assert n_docs == 1
    assert sorted(gone) == sorted(c.id for c in diff.upserted)
    assert store.counts()["documents"] == 0 and store.counts()["chunks"] == 0


def test_cursor_advances_only_with_its_transaction(store: Store) -> None:
    src = store.ensure_source(SourceKind.SLACK, "workspace", "https://slack.example")
    reader = Reader(store.engine.url.render_as_string(hide_password=False))
    assert source_cursor(reader, "slack", "workspace") == {}
    with store.transaction() as s:
        store.save_cursor(s, src, {"incidents": "1710412345.000100"})
    assert source_cursor(reader, "slack", "workspace") == {"incidents": "1710412345.000100"}
    try:
        with store.transaction() as s:
            store.save_cursor(s, src, {"incidents": "1710499999.000000"})
            raise RuntimeError("crash before commit")
    except RuntimeError:
        pass
    assert source_cursor(reader, "slack", "workspace") == {"incidents": "1710412345.000100"}
    reader.close()
    # Same (kind, name) is the same source.
    assert store.ensure_source(SourceKind.SLACK, "workspace", "elsewhere") == src


def test_embedding_cache_round_trips_float32(store: Store) -> None:
    vec = [0.25, -0.5, 0.125]
    store.cache_vectors("m", {"h1": vec})
    store.cache_vectors("m", {"h1": [9.0, 9.0, 9.0]})  # existing entries are kept
    assert store.cached_vectors("m", {"h1", "h2"}) == {"h1": vec}
    assert store.cached_vectors("other-model", {"h1"}) == {}
