"""The composition root: builds kb's stores and services from one Settings."""

from __future__ import annotations

from functools import cached_property

from kb.embeddings import CachedEmbedder, Embedder, SentenceTransformerEmbedder
from kb.indexing import Indexer
from kb.settings import Settings
from kb.store import Store
from kb.vectors import VectorStore


class KB:
    """One knowledge base: its settings, SQL store, vector store, embedder and services.

    Everything is built lazily, so `kb config` never loads a model and `kb init` never
    opens chromadb.
    """

    def __init__(self, settings: Settings, embedder: Embedder | None = None) -> None:
        self.settings = settings
        self._embedder = embedder

    @cached_property
    def store(self) -> Store:
        """The SQL store (SQLite under KB_HOME, or KB_DATABASE_URL)."""
        if not self.settings.database_url:
            self.settings.home.mkdir(parents=True, exist_ok=True)
        return Store.from_url(self.settings.effective_database_url)

    @cached_property
    def embedder(self) -> CachedEmbedder:
        """The embedder, behind the content-hash cache."""
        base = self._embedder or SentenceTransformerEmbedder(
            self.settings.embedding_model_dir, batch_size=self.settings.embedding_batch_size
        )
        return CachedEmbedder(base, self.store)

    @cached_property
    def vectors(self) -> VectorStore:
        """The chunk vector store (chromadb under KB_HOME, or KB_CHROMA_URL)."""
        dim = self.embedder.dim
        if self.settings.chroma_url:
            return VectorStore.remote(
                self.settings.chroma_url, self.settings.chroma_collection, dim
            )
        return VectorStore.persistent(
            self.settings.chroma_path, self.settings.chroma_collection, dim
        )

    @cached_property
    def indexer(self) -> Indexer:
        """Writes document batches to SQL and vectors."""
        return Indexer(self.store, self.vectors, self.embedder)

    def init(self) -> tuple[str | None, str]:
        """Create or upgrade the schema and the vector collection."""
        result = self.store.migrate()
        _ = self.vectors
        return result

    def close(self) -> None:
        """Release database connections."""
        if "store" in self.__dict__:
            self.store.close()
