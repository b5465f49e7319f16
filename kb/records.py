"""Typed records that connectors yield and the ingestion pipeline stores."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from kb.models import AdrStatus, DocumentKind


@dataclass(frozen=True)
class ChunkText:
    """One retrievable piece of a document, before it has an id."""

    text: str
    heading: str | None = None
    start_line: int | None = None
    end_line: int | None = None


@dataclass
class DocumentRecord:
    """A unit of source text with a stable external id (upserted by that id)."""

    external_id: str
    kind: DocumentKind
    title: str
    body: str
    repo: str | None = None
    path: str | None = None
    commit_sha: str | None = None
    url: str | None = None
    author_name: str | None = None
    author_email: str | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None
    status: AdrStatus | None = None
    service: str | None = None
    meta: dict[str, Any] = field(default_factory=dict)
    # None: the pipeline chunks `body` itself.
    chunks: list[ChunkText] | None = None
