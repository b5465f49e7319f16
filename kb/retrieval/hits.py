"""What retrieval returns: one hit per source, with its best snippet and its score."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from kb.store.search import SourceFields, SourceRef


@dataclass
class Hit(SourceFields):
    """One retrieved source (a document is returned once, with its best snippet)."""

    source: SourceRef
    snippet: str
    score: float
    text: str = ""  # the best-matching chunk(s), for composing or prompting
    line: int | None = None
    # The source's metadata with retrieval's signals (similarity, lexical match, heading).
    meta: dict[str, Any] = field(default_factory=dict)
