"""What retrieval returns: one hit per source, with its best snippet and its score."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from kb.store.search import SourceRef


@dataclass
class Hit:
    """One retrieved source (a document is returned once, with its best snippet)."""

    source: SourceRef
    snippet: str
    score: float
    text: str = ""  # the best-matching chunk(s), for composing or prompting
    line: int | None = None
    # The source's metadata with retrieval's signals (similarity, lexical match, heading).
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def document_id(self) -> int:
        return self.source.document_id

    @property
    def external_id(self) -> str:
        return self.source.external_id

    @property
    def kind(self) -> str:
        return self.source.kind

    @property
    def title(self) -> str:
        return self.source.title

    @property
    def repo(self) -> str | None:
        return self.source.repo

    @property
    def service(self) -> str | None:
        return self.source.service

    @property
    def path(self) -> str | None:
        return self.source.path

    @property
    def commit(self) -> str | None:
        return self.source.commit

    @property
    def url(self) -> str | None:
        return self.source.url

    @property
    def author(self) -> str | None:
        return self.source.author

    @property
    def created_at(self) -> datetime | None:
        return self.source.created_at

    @property
    def status(self) -> str | None:
        return self.source.status
