"""Read and write side of the knowledge-risk analyses: incident texts, wisdom anchors, hotspots."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import aliased

from kb.contract.records import WisdomRecord
from kb.store.decoders import utc_or_none
from kb.store.models import (
    Commit,
    Document,
    Incident,
    IncidentService,
    Person,
    Repo,
    Service,
    WisdomEntry,
    WisdomKind,
    WisdomOrigin,
    WisdomStatus,
)
from kb.store.store import Store
from kb.store.writer import RecordWriter

HOTSPOT_PREFIX = "hotspot:"


def hotspot_id(repo: str, path: str) -> str:
    """The stable external id of the extracted danger zone of a hotspot file."""
    return f"{HOTSPOT_PREFIX}{repo}:{path}"


@dataclass(frozen=True, slots=True)
class IncidentText:
    """An incident and everything written about it: title, cause, postmortem, Slack threads."""

    external_id: str
    label: str  # INC-2024-03, or the external id without its `incident:` prefix
    title: str
    started_at: datetime | None
    repos: frozenset[str]  # repos of its services and of its postmortem
    texts: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class WisdomRow:
    """A wisdom entry with what staleness and listings need (anchor, teller, source author)."""

    id: int
    external_id: str
    kind: str
    title: str
    body: str
    severity: str
    status: str
    origin: str
    service: str | None
    repo_id: int | None
    repo: str | None
    path_glob: str | None
    line: int | None
    said_by_person_id: int | None
    said_by: str | None
    document_external_id: str | None
    document_kind: str | None
    document_author_person_id: int | None
    document_author: str | None
    created_at: datetime | None
    last_verified_at: datetime | None
    meta: dict[str, Any]


def incident_texts(store: Store) -> list[IncidentText]:
    """Every incident with its texts: title, root cause, resolution, postmortem, Slack threads."""
    with store.transaction() as s:
        incidents = s.execute(
            select(
                Incident.id, Incident.external_id, Incident.title, Incident.root_cause,
                Incident.resolution, Incident.postmortem_document_id, Incident.meta,
                Incident.started_at,
            ).order_by(Incident.id)
        ).tuples().all()  # fmt: skip
        repos: dict[int, set[str]] = {}
        q = (
            select(IncidentService.incident_id, Repo.name)
            .join(Service, Service.id == IncidentService.service_id)
            .join(Repo, Repo.id == Service.repo_id)
        )
        for iid, repo in s.execute(q).tuples():
            repos.setdefault(iid, set()).add(repo)
        pm_ids = [row[5] for row in incidents if row[5] is not None]
        doc_ids: set[str] = set()
        for row in incidents:
            doc_ids.update(str(d) for d in (row[6] or {}).get("documents", []) or [])
        docs_by_id: dict[int, tuple[str, str | None]] = {}
        docs_by_ext: dict[str, str] = {}
        for start in range(0, len(pm_ids), 500):
            dq = (
                select(Document.id, Document.body, Repo.name)
                .join(Repo, Repo.id == Document.repo_id, isouter=True)
                .where(Document.id.in_(pm_ids[start : start + 500]))
            )
            for did, body, repo in s.execute(dq).tuples():
                docs_by_id[did] = (body or "", repo)
        ext = sorted(doc_ids)
        for start in range(0, len(ext), 500):
            dq2 = select(Document.external_id, Document.body).where(
                Document.external_id.in_(ext[start : start + 500])
            )
            docs_by_ext.update((e, b or "") for e, b in s.execute(dq2).tuples())
    out: list[IncidentText] = []
    for iid, external_id, title, cause, resolution, pm_id, meta, started in incidents:
        meta = meta or {}
        texts: list[str] = [t for t in (title, cause, resolution) if t]
        linked = set(repos.get(iid, ()))
        if pm_id is not None and pm_id in docs_by_id:
            body, pm_repo = docs_by_id[pm_id]
            texts.append(body)
            if pm_repo:
                linked.add(pm_repo)
        if meta.get("repo"):
            linked.add(str(meta["repo"]))
        texts.extend(docs_by_ext[d] for d in meta.get("documents", []) or [] if d in docs_by_ext)
        label = str(meta.get("inc_id") or external_id.removeprefix("incident:"))
        out.append(
            IncidentText(external_id, label, title or label, utc_or_none(started),
                         frozenset(linked), tuple(texts))
        )  # fmt: skip
    return out


def commit_tickets(store: Store, repo: str) -> dict[int, tuple[str, ...]]:
    """Commit id -> the ticket ids its message names, for the commits of one repo that name any."""
    with store.transaction() as s:
        q = (
            select(Commit.id, Commit.tickets)
            .join(Repo, Repo.id == Commit.repo_id)
            .where(Repo.name == repo, Commit.tickets != "")
        )
        return {cid: tuple(t.split()) for cid, t in s.execute(q).tuples() if t}


def replace_hotspot_wisdom(store: Store, repo: str, records: Sequence[WisdomRecord]) -> int:
    """Upsert a repo's hotspot danger zones and delete its previous ones not among them.

    Only extracted entries under `hotspot:{repo}:` are ever removed: danger zones from code
    comments, ADRs or people are not this function's to touch. Returns how many went.
    """
    prefix = f"{HOTSPOT_PREFIX}{repo}:"
    keep = {r.external_id for r in records}
    with store.transaction(write=True) as s:
        w = RecordWriter(s, None)
        for rec in records:
            w.wisdom(rec)
        old = s.execute(
            select(WisdomEntry.id, WisdomEntry.external_id).where(
                WisdomEntry.external_id.startswith(prefix, autoescape=True),
                WisdomEntry.origin == WisdomOrigin.EXTRACTED,
                WisdomEntry.kind == WisdomKind.DANGER_ZONE,
            )
        ).tuples()
        gone = [wid for wid, ext in old if ext not in keep]
        for start in range(0, len(gone), 500):
            s.execute(delete(WisdomEntry).where(WisdomEntry.id.in_(gone[start : start + 500])))
        return len(gone)


def wisdom_rows(
    store: Store,
    *,
    service: str | None = None,
    kinds: Sequence[WisdomKind] = (),
    active_only: bool = True,
) -> list[WisdomRow]:
    """Wisdom entries with their anchors, teller and source document's author, oldest first."""
    teller = aliased(Person)
    doc_author = aliased(Person)
    with store.transaction() as s:
        q = (
            select(
                WisdomEntry, Service.name, Repo.name, teller.display_name, Document.external_id,
                Document.kind, Document.author_person_id, doc_author.display_name,
                Document.author_name,
            )
            .outerjoin(Service, WisdomEntry.service_id == Service.id)
            .outerjoin(Repo, WisdomEntry.repo_id == Repo.id)
            .outerjoin(teller, WisdomEntry.said_by_person_id == teller.id)
            .outerjoin(Document, WisdomEntry.document_id == Document.id)
            .outerjoin(doc_author, Document.author_person_id == doc_author.id)
        )  # fmt: skip
        if service:
            q = q.where((Service.name == service) | (Repo.name == service))
        if kinds:
            q = q.where(WisdomEntry.kind.in_(kinds))
        if active_only:
            q = q.where(WisdomEntry.status == WisdomStatus.ACTIVE)
        rows = []
        for w, svc, repo, who, doc, dkind, dpid, dname, draw in s.execute(
            q.order_by(WisdomEntry.id)
        ).tuples():
            rows.append(
                WisdomRow(
                    id=w.id, external_id=w.external_id, kind=w.kind.value, title=w.title,
                    body=w.body, severity=w.severity.value, status=w.status.value,
                    origin=w.origin.value, service=svc, repo_id=w.repo_id, repo=repo,
                    path_glob=w.path_glob, line=w.line, said_by_person_id=w.said_by_person_id,
                    said_by=who or w.said_by_name, document_external_id=doc,
                    document_kind=dkind.value if dkind is not None else None,
                    document_author_person_id=dpid, document_author=dname or draw,
                    created_at=utc_or_none(w.created_at),
                    last_verified_at=utc_or_none(w.last_verified_at),
                    meta=dict(w.meta or {}),
                )
            )  # fmt: skip
        return rows
