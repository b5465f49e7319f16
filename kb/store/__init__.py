"""The store layer: the only place kb talks SQL.

Its modules load on first use: `kb.store.reader` and `kb.store.history`, all that
`kb bus-factor` needs, must not drag in SQLAlchemy and the ORM with the package.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from kb.store import db
    from kb.store.store import ChunkDiff, Store, StoredChunk, chunk_id

__all__ = ["ChunkDiff", "Store", "StoredChunk", "chunk_id", "db"]

_FROM_STORE = frozenset({"ChunkDiff", "Store", "StoredChunk", "chunk_id"})


def __getattr__(name: str) -> Any:
    if name == "db":
        return importlib.import_module("kb.store.db")
    if name in _FROM_STORE:
        return getattr(importlib.import_module("kb.store.store"), name)
    raise AttributeError(f"module 'kb.store' has no attribute {name!r}")
