"""A connector of hand-written records (services, incidents, people, wisdom) for tests."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, ClassVar

from kb.contract.records import Checkpoint, Record


class Facts:
    """Yields the records it was given, then a checkpoint: a real Connector."""

    kind: ClassVar[str] = "slack"

    def __init__(self, *records: Record) -> None:
        self.records = records

    def load(self, cursor: dict[str, Any]) -> Iterator[Record]:
        yield from self.records
        yield Checkpoint({"done": True})


_SOURCE_FIELDS = {
    "document_id", "external_id", "kind", "title", "repo", "service", "path", "commit", "url",
    "author", "created_at", "status",
}  # fmt: skip


def make_hit(**fields: Any) -> Any:
    """A retrieval Hit from flat fields: the source's (kind, title, path…) and the hit's own."""
    from kb.retrieval.hits import Hit
    from kb.store.search import SourceRef

    ref = {k: fields.pop(k, None) for k in _SOURCE_FIELDS}
    ref["document_id"] = ref["document_id"] or 0
    ref["external_id"] = ref["external_id"] or "x"
    ref["title"] = ref["title"] or ""
    meta = fields.get("meta", {})
    return Hit(SourceRef(meta=dict(meta), **ref), **fields)
