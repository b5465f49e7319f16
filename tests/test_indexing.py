"""Indexing a batch: SQL and vectors agree; unchanged text is not re-embedded; stale chunks go."""

from __future__ import annotations

from kb.app import KB
from kb.contract.kinds import SourceKind
from kb.contract.records import DocumentRecord
from kb.store.history import source_cursor
from kb.store.models import DocumentKind

README_V1 = """# Payment service

## Why events

Order asks for payment with the `order.payment_requested` event since INC-2024-03.

## Running locally

Start kafka with docker compose, then `make run`.

## Old notes

The synchronous client lived in `src/payment/client.py`.
"""

README_V2 = README_V1.replace(
    "## Old notes\n\nThe synchronous client lived in `src/payment/client.py`.\n", ""
).replace("`make run`", "`make dev`")


def _doc(body: str) -> DocumentRecord:
    return DocumentRecord(
        external_id="git:payment-service:README.md",
        kind=DocumentKind.DOC,
        title="README.md",
        body=body,
        path="README.md",
    )


def test_changed_document_replaces_chunks_and_drops_stale_vectors(kb_app: KB) -> None:
    src = kb_app.store.ensure_source(SourceKind.GIT, "payment-service", "/r/payment-service")
    first = kb_app.indexer.index_batch(src, [_doc(README_V1)], cursor={"head": "a1"})
    assert first.documents_written == 1 and first.chunks_written == 3
    assert kb_app.vectors.count() == 3 == kb_app.store.counts()["chunks"]
    assert source_cursor(kb_app.reader, "git", "payment-service") == {"head": "a1"}

    again = kb_app.indexer.index_batch(src, [_doc(README_V1)], cursor={"head": "a1"})
    assert again.documents_unchanged == 1 and again.texts_embedded == 0
    assert again.chunks_written == 0

    changed = kb_app.indexer.index_batch(src, [_doc(README_V2)], cursor={"head": "b2"})
    # Only the edited section is embedded; the removed section's chunk is gone everywhere.
    assert changed.texts_embedded == 1
    assert changed.chunks_deleted == 1
    assert kb_app.vectors.ids() == kb_app.store.all_chunk_ids()
    assert kb_app.vectors.count() == 2

    q = kb_app.embedder.embed(["how is payment requested by order?"])[0]
    best = kb_app.vectors.query(q, k=1)[0]
    assert "order.payment_requested" in kb_app.store.chunks_by_id([best.id])[best.id].text


def test_deleted_document_leaves_no_vectors(kb_app: KB) -> None:
    kb_app.indexer.index_batch(None, [_doc(README_V1)])
    stats = kb_app.indexer.index_batch(None, [], deleted=["git:payment-service:README.md"])
    assert stats.documents_deleted == 1
    assert kb_app.vectors.count() == 0 and kb_app.store.counts()["documents"] == 0


def test_reconcile_sweeps_vectors_left_by_a_crash(kb_app: KB) -> None:
    kb_app.indexer.index_batch(None, [_doc(README_V1)])
    # A crash after the vector upsert but before the SQL commit leaves an orphan vector.
    kb_app.vectors.upsert(["orphan"], [[1.0] + [0.0] * 383], ["x"], [{"doc": "lost"}])
    assert kb_app.indexer.reconcile() == 1
    assert kb_app.vectors.ids() == kb_app.store.all_chunk_ids()
