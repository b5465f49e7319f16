"""The store layer: the only place kb talks SQL."""

from kb.store import db
from kb.store.store import ChunkDiff, Store, StoredChunk, chunk_id

__all__ = ["ChunkDiff", "Store", "StoredChunk", "chunk_id", "db"]
