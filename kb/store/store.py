"""The SQL store: every query kb runs against the system-wisdom schema lives here."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, delete, func, select
from sqlalchemy.orm import Session, sessionmaker

from kb.contract.records import ChunkText, DocumentRecord, content_hash
from kb.store import db
from kb.store.models import (
    Base,
    Chunk,
    Document,
    EmbeddingCache,
    IngestRun,
    Repo,
    Service,
    Source,
    utcnow,
)

# pg_advisory_xact_lock key of ingestion batches ("kb" in ASCII, then "ingest").
_WRITER_LOCK = 0x6B62_696E_6765_7374


@dataclass(frozen=True)
class StoredChunk:
    """A chunk as stored: its id is also its id in the vector store."""

    id: str
    document_id: int
    ordinal: int
    text: str
    heading: str | None
    content_hash: str


@dataclass(frozen=True)
class ChunkDiff:
    """What replacing a document's chunks changed: chunks to (re)index and ids to drop."""

    upserted: list[StoredChunk]
    stale_ids: list[str]


def chunk_id(document_external_id: str, ordinal: int) -> str:
    """Stable id of the n-th chunk of a document (also its vector-store id)."""
    raw = f"{document_external_id}#{ordinal}".encode()
    return hashlib.sha256(raw).hexdigest()[:32]


class Store:
    """All SQL of kb: sessions, upserts, cursors, the embedding cache, counts."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._sessions = sessionmaker(engine, expire_on_commit=False)

    @classmethod
    def from_url(cls, url: str) -> Store:
        """A store over the database at `url` (not migrated: call `migrate`)."""
        return cls(db.make_engine(url))

    @property
    def dialect(self) -> str:
        """'sqlite' or 'postgresql'."""
        return self.engine.dialect.name

    def migrate(self) -> tuple[str | None, str]:
        """Create or upgrade the schema; returns (revision before, revision after)."""
        return db.upgrade(self.engine)

    @contextmanager
    def transaction(self, write: bool = False) -> Iterator[Session]:
        """One unit of work: committed when the block ends, rolled back if it raises.

        `write=True` is for ingestion batches, which resolve people and upsert by natural
        keys read inside the batch: such batches from several processes (two ingests, a bot
        teaching a note) take turns, so none inserts an identity or a document another
        committed after it looked. Readers never wait for them.
        """
        with self._sessions.begin() as session:
            if write:
                conn = session.connection()
                if self.engine.dialect.name == "sqlite":
                    # Take SQLite's write lock now (busy_timeout waits for it), not at the
                    # first INSERT, after reads that another writer may have made stale.
                    conn.exec_driver_sql("BEGIN IMMEDIATE")
                elif self.engine.dialect.name == "postgresql":
                    conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({_WRITER_LOCK})")
            yield session

    def close(self) -> None:
        """Release pooled connections."""
        self.engine.dispose()

    # -- sources and cursors -------------------------------------------------------------

    def ensure_source(
        self, kind: str, name: str, location: str, options: dict[str, Any] | None = None
    ) -> int:
        """Id of the source (kind, name), created on first use; location/options refreshed."""
        with self.transaction() as s:
            src = s.scalar(select(Source).where(Source.kind == kind, Source.name == name))
            if src is None:
                src = Source(kind=kind, name=name, location=location, options=options or {})
                s.add(src)
                s.flush()
            else:
                src.location = location
                if options is not None:
                    src.options = options
            return src.id

    @staticmethod
    def save_cursor(session: Session, source_id: int, cursor: dict[str, Any]) -> None:
        """Advance a source's cursor inside the batch transaction that it covers."""
        src = session.get(Source, source_id)
        if src is None:
            raise LookupError(f"no source with id {source_id}")
        src.cursor = dict(cursor)
        src.last_synced_at = utcnow()

    def record_run(
        self,
        source_id: int,
        started_at: datetime,
        finished_at: datetime,
        ok: bool,
        report: dict[str, Any],
    ) -> None:
        """Keep one ingest run's summary: the last sync of a source and what it could not read."""
        with self.transaction() as s:
            s.add(
                IngestRun(
                    source_id=source_id,
                    started_at=started_at,
                    finished_at=finished_at,
                    ok=ok,
                    report=report,
                )
            )

    # -- repos and services ---------------------------------------------------------------

    @staticmethod
    def _repo_id(session: Session, name: str | None) -> int | None:
        if not name:
            return None
        return session.scalar(select(Repo.id).where(Repo.name == name))

    @staticmethod
    def _service_id(session: Session, name: str | None) -> int | None:
        if not name:
            return None
        return session.scalar(select(Service.id).where(Service.name == name))

    # -- documents and chunks --------------------------------------------------------------

    def upsert_document(
        self, session: Session, record: DocumentRecord, source_id: int | None
    ) -> tuple[int, bool]:
        """Insert or update a document by external id; returns (id, whether its text changed)."""
        digest = content_hash(record.body)
        # Look everything up before adding a half-filled row (a query would autoflush it).
        repo_id = self._repo_id(session, record.repo)
        service_id = self._service_id(session, record.service)
        doc = session.scalar(select(Document).where(Document.external_id == record.external_id))
        changed = doc is None or doc.content_hash != digest
        if doc is None:
            doc = Document(external_id=record.external_id)
        doc.source_id = source_id
        doc.kind = record.kind
        doc.title = record.title
        doc.repo_id = repo_id
        doc.service_id = service_id
        doc.path = record.path
        doc.commit_sha = record.commit_sha
        doc.url = record.url
        doc.author_name = record.author_name
        doc.created_at = record.created_at
        doc.updated_at = record.updated_at
        doc.content_hash = digest
        doc.body = record.body
        doc.status = record.status
        doc.meta = dict(record.meta)
        if changed:
            doc.ingested_at = utcnow()
        session.add(doc)
        session.flush()
        return doc.id, changed

    @staticmethod
    def replace_chunks(
        session: Session, document_id: int, external_id: str, chunks: Sequence[ChunkText]
    ) -> ChunkDiff:
        """Make a document's chunks exactly `chunks`: changed ones upserted, extra ones dropped."""
        existing = {
            c.id: c for c in session.scalars(select(Chunk).where(Chunk.document_id == document_id))
        }
        upserted: list[StoredChunk] = []
        keep: set[str] = set()
        for ordinal, piece in enumerate(chunks):
            cid = chunk_id(external_id, ordinal)
            keep.add(cid)
            digest = content_hash(piece.text)
            row = existing.get(cid)
            if row is not None and row.content_hash == digest and row.heading == piece.heading:
                continue
            if row is None:
                row = Chunk(id=cid, document_id=document_id, ordinal=ordinal)
                session.add(row)
            row.text = piece.text
            row.heading = piece.heading
            row.content_hash = digest
            row.start_line = piece.start_line
            row.end_line = piece.end_line
            upserted.append(
                StoredChunk(cid, document_id, ordinal, piece.text, piece.heading, digest)
            )
        stale = sorted(set(existing) - keep)
        if stale:
            session.execute(delete(Chunk).where(Chunk.id.in_(stale)))
        session.flush()
        return ChunkDiff(upserted=upserted, stale_ids=stale)

    @staticmethod
    def delete_documents(session: Session, external_ids: Iterable[str]) -> tuple[int, list[str]]:
        """Remove documents and their chunks; returns (documents removed, their chunk ids)."""
        ids = list(external_ids)
        if not ids:
            return 0, []
        doc_ids = list(session.scalars(select(Document.id).where(Document.external_id.in_(ids))))
        if not doc_ids:
            return 0, []
        chunk_ids = list(session.scalars(select(Chunk.id).where(Chunk.document_id.in_(doc_ids))))
        session.execute(delete(Chunk).where(Chunk.document_id.in_(doc_ids)))
        session.execute(delete(Document).where(Document.id.in_(doc_ids)))
        return len(doc_ids), chunk_ids

    @staticmethod
    def set_document_author(session: Session, external_id: str, person_id: int | None) -> None:
        """Link a document to the person who wrote it."""
        doc = session.scalar(select(Document).where(Document.external_id == external_id))
        if doc is not None:
            doc.author_person_id = person_id

    def content_hashes(self, external_ids: Sequence[str]) -> dict[str, str]:
        """Stored content hash of each known document (to skip unchanged text)."""
        out: dict[str, str] = {}
        with self.transaction() as s:
            for start in range(0, len(external_ids), 500):
                batch = list(external_ids[start : start + 500])
                rows = s.execute(
                    select(Document.external_id, Document.content_hash).where(
                        Document.external_id.in_(batch)
                    )
                )
                out.update(dict(rows.tuples().all()))
        return out

    def chunks_by_id(self, ids: Sequence[str]) -> dict[str, StoredChunk]:
        """Stored chunks for vector-store ids (ids the SQL store doesn't know are left out)."""
        if not ids:
            return {}
        with self.transaction() as s:
            rows = s.scalars(select(Chunk).where(Chunk.id.in_(list(ids))))
            return {
                c.id: StoredChunk(c.id, c.document_id, c.ordinal, c.text, c.heading, c.content_hash)
                for c in rows
            }

    def all_chunk_ids(self) -> set[str]:
        """Every chunk id in SQL (to reconcile the vector store against)."""
        with self.transaction() as s:
            return set(s.scalars(select(Chunk.id)))

    # -- embedding cache ----------------------------------------------------------------------

    def cached_vectors(self, model: str, hashes: set[str]) -> dict[str, list[float]]:
        """Stored vectors of `model` for the given text hashes (absent ones are left out)."""
        import numpy as np  # only where vectors are: history-only runs never load it

        found: dict[str, list[float]] = {}
        wanted = sorted(hashes)
        with self.transaction() as s:
            for start in range(0, len(wanted), 500):
                batch = wanted[start : start + 500]
                rows = s.execute(
                    select(EmbeddingCache.content_hash, EmbeddingCache.vector).where(
                        EmbeddingCache.model == model, EmbeddingCache.content_hash.in_(batch)
                    )
                )
                for digest, blob in rows:
                    found[digest] = np.frombuffer(blob, dtype=np.float32).tolist()
        return found

    def cache_vectors(self, model: str, vectors: dict[str, list[float]]) -> None:
        """Store vectors of `model` by text hash (existing entries are kept)."""
        import numpy as np  # only where vectors are: history-only runs never load it

        if not vectors:
            return
        with self.transaction() as s:
            present = set(
                s.scalars(
                    select(EmbeddingCache.content_hash).where(
                        EmbeddingCache.model == model,
                        EmbeddingCache.content_hash.in_(list(vectors)),
                    )
                )
            )
            now = utcnow()
            s.add_all(
                EmbeddingCache(
                    model=model,
                    content_hash=digest,
                    dim=len(vec),
                    vector=np.asarray(vec, dtype=np.float32).tobytes(),
                    created_at=now,
                )
                for digest, vec in vectors.items()
                if digest not in present
            )

    # -- overview ------------------------------------------------------------------------------

    def counts(self) -> dict[str, int]:
        """Row count of every kb table."""
        out: dict[str, int] = {}
        with self.transaction() as s:
            for table in Base.metadata.sorted_tables:
                out[table.name] = int(s.scalar(select(func.count()).select_from(table)) or 0)
        return out
