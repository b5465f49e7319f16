"""Read side of kb's catalogue: decision records, one service's stored facts, source links.

What the ADR and service pages (and an agent's pre-edit check) show is read here: plain
rows, no conclusions. The analyses that assemble them live in `kb.analysis.catalog` and
`kb.analysis.dangerzones`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import aliased

from kb.contract.weblinks import commit_url, file_url
from kb.store.decoders import utc_or_none
from kb.store.models import (
    Document,
    DocumentKind,
    Incident,
    IncidentService,
    Person,
    Repo,
    Service,
    ServiceDependency,
    ServiceEvent,
    Source,
    WisdomEntry,
    WisdomStatus,
)
from kb.store.store import Store


@dataclass(frozen=True, slots=True)
class AdrRow:
    """A stored decision record: where it is, its number, status, links and text."""

    external_id: str
    repo: str  # its repository, or the ADR folder's source name
    number: int | None
    title: str
    status: str | None
    path: str | None
    url: str | None
    service: str | None
    created_at: datetime | None
    body: str
    meta: dict[str, Any]


@dataclass(frozen=True, slots=True)
class SourceLink:
    """Where a stored document can be opened: kind, title, repo, path and web link."""

    external_id: str
    kind: str
    title: str
    repo: str | None
    path: str | None
    url: str | None


@dataclass(frozen=True, slots=True)
class ServiceRow:
    """A service as the catalogue knows it."""

    name: str
    repo: str | None
    path_prefix: str
    description: str | None
    owner_team: str | None
    owner: str | None


@dataclass(frozen=True, slots=True)
class DependencyRow:
    """One dependency edge with its evidence; `other` is the service at the far end."""

    other: str
    kind: str
    detail: str
    evidence_repo: str | None
    evidence_path: str | None
    evidence_line: int | None


@dataclass(frozen=True, slots=True)
class IncidentRow:
    """An incident that touched a service."""

    external_id: str
    title: str
    started_at: datetime | None
    severity: str | None
    meta: dict[str, Any]


@dataclass(frozen=True, slots=True)
class ServiceFacts:
    """What is stored about one service: the row, its edges, topics, incidents, wisdom."""

    service: ServiceRow
    depends_on: list[DependencyRow]
    used_by: list[DependencyRow]
    events: list[tuple[str, str]]  # (topic, publish | subscribe)
    incidents: list[IncidentRow]
    wisdom_by_kind: dict[str, int]


def _link(web_url: str | None, forge: str | None, doc: Document, line: int | None) -> str | None:
    """A document's web link: its own (Slack), else the file at its commit, else the commit."""
    if doc.url:
        return doc.url
    if not web_url or not doc.commit_sha:
        return None
    if doc.path:
        at = line if line is not None else (doc.meta or {}).get("line")
        at = at if isinstance(at, int) and at > 1 else None
        return file_url(web_url, forge or "github", doc.commit_sha, doc.path, at)
    return commit_url(web_url, forge or "github", doc.commit_sha)


def adrs(store: Store, repo: str | None = None) -> list[AdrRow]:
    """Decision records (all, or of one repository or ADR folder), by repo, number, path."""
    with store.transaction() as s:
        q = (
            select(Document, Repo.name, Source.name, Service.name, Repo.web_url, Repo.forge)
            .outerjoin(Repo, Document.repo_id == Repo.id)
            .outerjoin(Source, Document.source_id == Source.id)
            .outerjoin(Service, Document.service_id == Service.id)
            .where(Document.kind == DocumentKind.ADR)
        )
        if repo is not None:
            q = q.where(
                or_(Repo.name == repo, (Document.repo_id.is_(None)) & (Source.name == repo))
            )
        out = []
        for doc, repo_name, source_name, service, web_url, forge in s.execute(q).tuples():
            meta = dict(doc.meta or {})
            number = meta.get("number")
            out.append(
                AdrRow(
                    external_id=doc.external_id,
                    repo=repo_name or source_name or "",
                    number=number if isinstance(number, int) else None,
                    title=doc.title,
                    status=doc.status.value if doc.status else None,
                    path=doc.path,
                    url=_link(web_url, forge, doc, None),
                    service=service,
                    created_at=utc_or_none(doc.created_at),
                    body=doc.body,
                    meta=meta,
                )
            )
    out.sort(key=lambda a: (a.repo, a.number if a.number is not None else 1 << 30, a.path or ""))
    return out


def source_links(store: Store, external_ids: Iterable[str], lines: dict[str, int] | None = None
                 ) -> dict[str, SourceLink]:  # fmt: skip
    """Documents by external id with their web links (at `lines[id]` when given)."""
    ids = sorted(set(external_ids))
    lines = lines or {}
    out: dict[str, SourceLink] = {}
    with store.transaction() as s:
        for start in range(0, len(ids), 500):
            q = (
                select(Document, Repo.name, Repo.web_url, Repo.forge)
                .outerjoin(Repo, Document.repo_id == Repo.id)
                .where(Document.external_id.in_(ids[start : start + 500]))
            )
            for doc, repo, web_url, forge in s.execute(q).tuples():
                out[doc.external_id] = SourceLink(
                    doc.external_id,
                    doc.kind.value,
                    doc.title,
                    repo,
                    doc.path,
                    _link(web_url, forge, doc, lines.get(doc.external_id)),
                )
    return out


def services(store: Store) -> list[ServiceRow]:
    """Every service, by name."""
    with store.transaction() as s:
        return [_service_row(*row) for row in s.execute(_service_query()).tuples()]


def _service_query() -> Any:
    owner = aliased(Person)
    return (
        select(Service, Repo.name, owner.display_name)
        .outerjoin(Repo, Service.repo_id == Repo.id)
        .outerjoin(owner, Service.owner_person_id == owner.id)
        .order_by(Service.name)
    )


def _service_row(svc: Service, repo: str | None, owner: str | None) -> ServiceRow:
    return ServiceRow(svc.name, repo, svc.path_prefix or "", svc.description, svc.owner_team, owner)


def service_facts(store: Store, name: str) -> ServiceFacts | None:
    """Everything stored about one service (None if kb knows no service of that name)."""
    with store.transaction() as s:
        found = s.execute(_service_query().where(Service.name == name)).tuples().first()
        if found is None:
            return None
        svc = found[0]
        row = _service_row(*found)
        other = aliased(Service)
        edges = {}
        for direction, mine, theirs in (
            ("out", ServiceDependency.from_service_id, ServiceDependency.to_service_id),
            ("in", ServiceDependency.to_service_id, ServiceDependency.from_service_id),
        ):
            q = (
                select(ServiceDependency, other.name)
                .join(other, other.id == theirs)
                .where(mine == svc.id)
                .order_by(other.name, ServiceDependency.kind, ServiceDependency.detail)
            )
            edges[direction] = [
                DependencyRow(
                    name_, dep.kind.value, dep.detail or "", dep.evidence_repo,
                    dep.evidence_path, dep.evidence_line,
                )
                for dep, name_ in s.execute(q).tuples()
            ]  # fmt: skip
        events = [
            (topic, role.value)
            for topic, role in s.execute(
                select(ServiceEvent.topic, ServiceEvent.role)
                .where(ServiceEvent.service_id == svc.id)
                .order_by(ServiceEvent.role, ServiceEvent.topic)
            ).tuples()
        ]
        incidents = [
            IncidentRow(ext, title, utc_or_none(started), sev.value if sev else None, meta or {})
            for ext, title, started, sev, meta in s.execute(
                select(
                    Incident.external_id, Incident.title, Incident.started_at,
                    Incident.severity, Incident.meta,
                )
                .join(IncidentService, IncidentService.incident_id == Incident.id)
                .where(IncidentService.service_id == svc.id)
                .order_by(Incident.started_at.desc(), Incident.external_id)
            ).tuples()
        ]  # fmt: skip
        wisdom = dict(
            s.execute(
                select(WisdomEntry.kind, func.count())
                .where(
                    WisdomEntry.service_id == svc.id,
                    WisdomEntry.status == WisdomStatus.ACTIVE,
                )
                .group_by(WisdomEntry.kind)
            )
            .tuples()
            .all()
        )
    return ServiceFacts(
        service=row,
        depends_on=edges["out"],
        used_by=edges["in"],
        events=events,
        incidents=incidents,
        wisdom_by_kind={k.value: int(n) for k, n in sorted(wisdom.items())},
    )
