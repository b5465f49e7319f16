"""Vector store adapter over chromadb: kb always supplies the embeddings."""

from __future__ import annotations

import os
import threading
import time
import weakref
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, TypeVar
from urllib.parse import urlsplit

from kb.errors import ConfigError

_Meta = Mapping[str, str | int | float | bool]
# How wide the index searches. Retrieval asks for 100 candidates and scales closeness
# between the best and the 100th: at chromadb's default (100) the tail of those 100 is
# approximate and differs from one build of the same input to the next (a few of them, and
# so every score, move). At 400 they are the exact 100 nearest on the demo (recall 1.0
# against a brute-force search, 0.99 at 100), at no cost measurable there.
EF_SEARCH = 400
T = TypeVar("T")


@dataclass(frozen=True)
class VectorHit:
    """One nearest neighbour: chunk id, cosine similarity (1 = same direction), metadata."""

    id: str
    similarity: float
    metadata: dict[str, Any]


def _persistent_client(path: Path) -> Any:
    import chromadb

    return chromadb.PersistentClient(path=str(path), settings=_chroma_settings())


def _uncache(system: Any) -> None:
    """Forget `system` in chromadb's per-process cache of systems by path (if it is there)."""
    from chromadb.api.client import SharedSystemClient

    for ident, cached in list(SharedSystemClient._identifier_to_system.items()):
        if cached is system:
            SharedSystemClient._identifier_to_system.pop(ident, None)
            SharedSystemClient._identifier_to_refcount.pop(ident, None)


def _chroma_settings() -> Any:
    from chromadb.config import Settings as ChromaSettings

    return ChromaSettings(anonymized_telemetry=False, allow_reset=False)


class VectorStore:
    """A chromadb collection of chunk vectors, keyed by chunk id, cosine space.

    The embedded (persistent) client caches the index per process and never sees what
    another process writes. So every write stamps a version file, and a reader whose
    last stamp came from another process reopens the client before it reads: the bot or
    dashboard keeps answering, with fresh results, while `kb ingest` runs elsewhere.
    """

    VERSION_FILE = ".kb-version"
    # The embedded stores of this process, to know when no one uses a chromadb system any more.
    _open: ClassVar[weakref.WeakSet[VectorStore]] = weakref.WeakSet()
    _systems_lock: ClassVar[threading.Lock] = threading.Lock()

    def __init__(self, client: Any, collection: str, dim: int, path: Path | None = None) -> None:
        self.client = client
        self.dim = dim
        self.name = collection
        self.path = path
        self._lock = threading.Lock()
        self._seen_version: int | None = self._version_mtime()
        self.collection = self._open_collection()
        # The chromadb system this store's client runs on (its SQLite connections, its index
        # in memory); embedded stores only.
        self._system: Any = client._system if path is not None else None
        if path is not None:
            with self._systems_lock:
                self._open.add(self)

    def _open_collection(self) -> Any:
        # embedding_function=None: chromadb must never embed (its default downloads a model).
        collection = self.client.get_or_create_collection(
            self.name,
            embedding_function=None,
            configuration={"hnsw": {"space": "cosine", "num_threads": 1, "ef_search": EF_SEARCH}},
        )
        hnsw = (collection.configuration or {}).get("hnsw") or {}
        if hnsw.get("ef_search", EF_SEARCH) < EF_SEARCH:  # made by an older kb
            collection.modify(configuration={"hnsw": {"ef_search": EF_SEARCH}})
        return collection

    @classmethod
    def persistent(cls, path: Path, collection: str, dim: int) -> VectorStore:
        """The embedded store: a chromadb directory on local disk."""
        path.mkdir(parents=True, exist_ok=True)
        return cls(_persistent_client(path), collection, dim, path=path)

    def _version_mtime(self) -> int | None:
        if self.path is None:
            return None
        try:
            return (self.path / self.VERSION_FILE).stat().st_mtime_ns
        except FileNotFoundError:
            return None

    def _stamp_version(self) -> None:
        if self.path is None:
            return
        marker = self.path / self.VERSION_FILE
        marker.write_text(f"{os.getpid()} {time.time_ns()}\n")
        self._seen_version = self._version_mtime()

    def _reopen(self, seen_system: Any = None) -> None:
        """Load the index from disk as it is now, in a new chromadb system; the old one stops
        once no store of this process uses it (it holds the index in memory and its files
        open). `seen_system`: reopen only if this store still runs on that system."""
        assert self.path is not None
        with self._lock:
            old = self._system
            if seen_system is not None and old is not seen_system:
                return  # another thread reopened it meanwhile
            with self._systems_lock:
                # Out of chromadb's cache (unless another store already put a fresh one
                # there), so the client made next runs on a system that reads the disk now.
                _uncache(old)
                self.client = _persistent_client(self.path)
                self._system = self.client._system
                self.collection = self._open_collection()
                self._seen_version = self._version_mtime()
                self._retire(old)

    def _retire(self, system: Any) -> None:
        """Stop `system` if no open store of this process runs on it any more."""
        if system is None or any(vs._system is system for vs in list(self._open)):
            return
        _uncache(system)
        system.stop()

    def close(self) -> None:
        """Release the index's files: chromadb's SQLite connections and segment handles.

        Stores of one path in a process share a system, which stops with the last of them.
        """
        if self.path is None:
            close = getattr(self.client, "close", None)
            if close is not None:
                close()
            return
        with self._lock, self._systems_lock:
            if self._system is None:
                return  # closed already
            system, self._system = self._system, None
            self._open.discard(self)
            self.client._closed = True  # its system is stopped here, not by chromadb's count
            self._retire(system)

    def refresh(self) -> None:
        """Reopen the embedded index if another process wrote to it since we last looked."""
        if self.path is not None and self._version_mtime() != self._seen_version:
            self._reopen(self._system)

    def _read(self, op: Callable[[], T]) -> T:
        self.refresh()
        system = self._system
        try:
            return op()
        except Exception:
            if self.path is None:
                raise
            # A segment written by another process after we opened: reopen once and retry.
            self._reopen(system)
            return op()

    @classmethod
    def remote(cls, url: str, collection: str, dim: int) -> VectorStore:
        """A team's shared chromadb server at `url` (http://host:port)."""
        import chromadb

        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ConfigError(
                f"KB_CHROMA_URL {url!r} is not a chromadb server URL (expected http://host:8000)"
            )
        port = parts.port or (443 if parts.scheme == "https" else 8000)
        try:
            client = chromadb.HttpClient(
                host=parts.hostname,
                port=port,
                ssl=parts.scheme == "https",
                settings=_chroma_settings(),
            )
            return cls(client, collection, dim)
        except Exception as exc:  # chromadb raises plain ValueError/ConnectError here
            raise ConfigError(
                f"cannot reach the chromadb server at {url}: {exc}. "
                "Check KB_CHROMA_URL and that `chroma run` is up."
            ) from exc

    def upsert(
        self,
        ids: Sequence[str],
        embeddings: Sequence[Sequence[float]],
        documents: Sequence[str],
        metadatas: Sequence[_Meta],
        batch_size: int = 1000,
    ) -> None:
        """Insert or replace vectors by chunk id."""
        for vec in embeddings:
            if len(vec) != self.dim:
                raise ValueError(f"embedding has {len(vec)} dimensions, expected {self.dim}")
        for start in range(0, len(ids), batch_size):
            end = start + batch_size
            self.collection.upsert(
                ids=list(ids[start:end]),
                embeddings=[list(v) for v in embeddings[start:end]],
                documents=list(documents[start:end]),
                metadatas=[dict(m) for m in metadatas[start:end]],
            )
        self._stamp_version()

    def delete(self, ids: Sequence[str], batch_size: int = 1000) -> None:
        """Remove vectors by chunk id (unknown ids are ignored)."""
        if not ids:
            return
        for start in range(0, len(ids), batch_size):
            self.collection.delete(ids=list(ids[start : start + batch_size]))
        self._stamp_version()

    def delete_stale(self, document: str, keep_ids: Sequence[str]) -> list[str]:
        """Remove the vectors of a document whose ids are not in `keep_ids`; returns them."""
        got = self._read(lambda: self.collection.get(where={"doc": document}, include=[]))
        stale = sorted(set(got["ids"]) - set(keep_ids))
        self.delete(stale)
        return stale

    def ids(self) -> set[str]:
        """Every id in the collection (for reconciling against SQL)."""
        out: set[str] = set()
        offset, page = 0, 5000
        self.refresh()
        while True:
            got = self.collection.get(include=[], limit=page, offset=offset)
            out.update(got["ids"])
            if len(got["ids"]) < page:
                return out
            offset += page

    def query(
        self, embedding: Sequence[float], k: int, where: dict[str, Any] | None = None
    ) -> list[VectorHit]:
        """The k nearest chunks to `embedding`, most similar first."""
        n = min(k, self.count())
        if n == 0:
            return []
        res = self._read(
            lambda: self.collection.query(
                query_embeddings=[list(embedding)],
                n_results=n,
                where=where,
                include=["distances", "metadatas"],
            )
        )
        ids = res["ids"][0]
        distances = (res.get("distances") or [[]])[0]
        metas = (res.get("metadatas") or [[]])[0]
        return [
            VectorHit(id=i, similarity=1.0 - float(d), metadata=dict(m or {}))
            for i, d, m in zip(ids, distances, metas, strict=True)
        ]

    def get(self, ids: Sequence[str]) -> dict[str, tuple[list[float], dict[str, Any]]]:
        """Stored vector and metadata of each known id."""
        if not ids:
            return {}
        got = self._read(
            lambda: self.collection.get(ids=list(ids), include=["embeddings", "metadatas"])
        )
        return {
            i: ([float(x) for x in e], dict(m or {}))
            for i, e, m in zip(got["ids"], got["embeddings"], got["metadatas"], strict=True)
        }

    def count(self) -> int:
        """Number of vectors stored."""
        return int(self._read(lambda: self.collection.count()))
