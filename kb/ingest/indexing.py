"""Store documents in SQL and their chunk vectors in the vector store, one batch at a time."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session

from kb.contract.chunking import chunk_markdown
from kb.contract.records import ChunkText, DocumentRecord, content_hash
from kb.embedding.embedder import CachedEmbedder
from kb.store import Store, chunk_id
from kb.store.vectors import VectorStore


@dataclass
class IndexStats:
    """What one or more batches did."""

    documents_written: int = 0
    documents_unchanged: int = 0
    documents_deleted: int = 0
    chunks_written: int = 0
    chunks_deleted: int = 0
    texts_embedded: int = 0

    def add(self, other: IndexStats) -> None:
        """Accumulate another batch's figures."""
        for name in self.__dataclass_fields__:
            setattr(self, name, getattr(self, name) + getattr(other, name))


@dataclass
class _Prepared:
    record: DocumentRecord
    chunks: list[ChunkText] = field(default_factory=list)


@dataclass
class PreparedBatch:
    """Documents of a batch whose vectors are written and whose SQL write is pending."""

    changed: list[_Prepared] = field(default_factory=list)
    stale: list[str] = field(default_factory=list)
    stats: IndexStats = field(default_factory=IndexStats)


def embedding_text(record: DocumentRecord, chunk: ChunkText) -> str:
    """What is embedded for a chunk: the document title and heading give it context."""
    head = record.title if not chunk.heading or chunk.heading == record.title else chunk.heading
    return f"{head}\n{chunk.text}" if head else chunk.text


class Indexer:
    """Writes batches so that a crash at any point loses nothing already committed.

    Order matters: vectors are upserted *before* the SQL commit (same ids, so a re-run just
    overwrites them), stale vectors are deleted *after* it. SQL is the source of truth;
    vector hits without an SQL chunk are ignored and swept by `reconcile`.
    """

    def __init__(self, store: Store, vectors: VectorStore, embedder: CachedEmbedder) -> None:
        self.store = store
        self.vectors = vectors
        self.embedder = embedder

    def index_batch(
        self,
        source_id: int | None,
        records: Sequence[DocumentRecord],
        deleted: Sequence[str] = (),
        cursor: dict[str, Any] | None = None,
    ) -> IndexStats:
        """Upsert `records`, drop `deleted` external ids, and advance the cursor atomically."""
        batch = self.prepare(records)
        with self.store.transaction() as session:
            self.write(session, batch, source_id, deleted)
            if cursor is not None and source_id is not None:
                self.store.save_cursor(session, source_id, cursor)
        self.finish(batch)
        return batch.stats

    def prepare(self, records: Sequence[DocumentRecord]) -> PreparedBatch:
        """Chunk changed documents, embed what was never embedded, upsert their vectors.

        Runs outside any SQL transaction (embedding is slow; the cache writes its own rows).
        """
        batch = PreparedBatch()
        known = self.store.content_hashes([r.external_id for r in records])
        latest: dict[str, DocumentRecord] = {r.external_id: r for r in records}
        for record in latest.values():
            if known.get(record.external_id) == content_hash(record.body):
                batch.stats.documents_unchanged += 1
                continue
            pieces = record.chunks if record.chunks is not None else chunk_markdown(record.body)
            batch.changed.append(_Prepared(record, [p for p in pieces if p.text.strip()]))
        self._upsert_vectors(batch.changed, batch.stats)
        return batch

    def write(
        self,
        session: Session,
        batch: PreparedBatch,
        source_id: int | None,
        deleted: Sequence[str] = (),
    ) -> None:
        """The SQL half of a batch, inside the caller's transaction."""
        for prep in batch.changed:
            doc_id, _ = self.store.upsert_document(session, prep.record, source_id)
            diff = self.store.replace_chunks(session, doc_id, prep.record.external_id, prep.chunks)
            batch.stale.extend(diff.stale_ids)
            batch.stats.documents_written += 1
        if deleted:
            n_docs, dropped = self.store.delete_documents(session, deleted)
            batch.stats.documents_deleted += n_docs
            batch.stale.extend(dropped)

    def finish(self, batch: PreparedBatch) -> None:
        """After the SQL commit: drop the vectors of chunks that no longer exist."""
        if batch.stale:
            self.vectors.delete(batch.stale)
            batch.stats.chunks_deleted += len(batch.stale)
            batch.stale.clear()

    def _upsert_vectors(self, prepared: list[_Prepared], stats: IndexStats) -> None:
        ids: list[str] = []
        texts: list[str] = []
        metas: list[dict[str, str | int | float | bool]] = []
        for prep in prepared:
            rec = prep.record
            for ordinal, piece in enumerate(prep.chunks):
                ids.append(chunk_id(rec.external_id, ordinal))
                texts.append(embedding_text(rec, piece))
                meta: dict[str, str | int | float | bool] = {
                    "doc": rec.external_id,
                    "kind": str(rec.kind),
                }
                for key, value in (
                    ("repo", rec.repo),
                    ("path", rec.path),
                    ("service", rec.service),
                ):
                    if value:
                        meta[key] = value
                metas.append(meta)
        if not ids:
            return
        before = self.embedder.texts_embedded
        vectors = self.embedder.embed(texts)
        stats.texts_embedded += self.embedder.texts_embedded - before
        self.vectors.upsert(ids, vectors, texts, metas)
        stats.chunks_written += len(ids)

    def forget(self, chunk_ids: Sequence[str]) -> None:
        """Drop the vectors of chunks deleted from SQL (after the deleting commit)."""
        self.vectors.delete(list(chunk_ids))

    def reconcile(self) -> int:
        """Drop vectors whose chunk is gone from SQL (left by a crash); returns how many."""
        orphans = sorted(self.vectors.ids() - self.store.all_chunk_ids())
        self.vectors.delete(orphans)
        return len(orphans)
