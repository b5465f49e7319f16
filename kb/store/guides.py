"""Read side of the guides: the documents an onboarding guide or an agent context file quotes.

Plain rows, no conclusions: which documents of some kinds a set of repositories holds, with
their text and a web link. `kb.guides` decides what to quote from them.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from kb.contract.kinds import DocumentKind
from kb.store.catalog import _link
from kb.store.decoders import utc_or_none
from kb.store.models import Document, Repo, Service
from kb.store.store import Store


@dataclass(frozen=True, slots=True)
class DocRow:
    """A stored document: where it is, its text, status and web link."""

    external_id: str
    kind: str
    title: str
    repo: str | None
    path: str | None
    url: str | None
    service: str | None
    status: str | None
    created_at: datetime | None
    body: str


def documents(
    store: Store, kinds: Iterable[DocumentKind], repos: Iterable[str] | None = None
) -> list[DocRow]:
    """Documents of `kinds` (in `repos`, when given), by repository and path."""
    with store.transaction() as s:
        q = (
            select(Document, Repo.name, Service.name, Repo.web_url, Repo.forge)
            .outerjoin(Repo, Document.repo_id == Repo.id)
            .outerjoin(Service, Document.service_id == Service.id)
            .where(Document.kind.in_(list(kinds)))
        )
        if repos is not None:
            q = q.where(Repo.name.in_(sorted(set(repos))))
        out = [
            DocRow(
                doc.external_id,
                doc.kind.value,
                doc.title,
                repo,
                doc.path,
                _link(web_url, forge, doc, None),
                service,
                doc.status.value if doc.status else None,
                utc_or_none(doc.created_at),
                doc.body,
            )
            for doc, repo, service, web_url, forge in s.execute(q).tuples()
        ]
    out.sort(key=lambda d: (d.repo or "", d.path or "", d.external_id))
    return out
