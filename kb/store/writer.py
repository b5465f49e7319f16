"""Writes connector records (other than document text) into the system-wisdom schema."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import replace
from typing import Any, cast

from sqlalchemy import Connection, Table, delete, func, insert, select
from sqlalchemy.orm import Session

from kb.contract.records import (
    CodeOwnerRecord,
    CommitRecord,
    DependencyRecord,
    DocumentSet,
    EventTopicRecord,
    Evidence,
    IncidentRecord,
    InfrastructureRecord,
    RepoRecord,
    RepoTreeRecord,
    ServiceMapSet,
    ServiceRecord,
    WisdomRecord,
)
from kb.store import db, servicemap
from kb.store.models import (
    ChangeType,
    CodeOwner,
    Commit,
    DependencyKind,
    Document,
    EventRole,
    FileChange,
    Incident,
    IncidentService,
    Repo,
    RepoFile,
    Service,
    ServiceDependency,
    ServiceEvent,
    WisdomEntry,
    WisdomOrigin,
)
from kb.store.people import PeopleWriter, PersonUpdate, earliest, latest

# Ids of records derived from one file of a repo: git:{repo}:file:{path}#{part}
_FILE_PREFIX = re.compile(r"^git:(?P<repo>[^:]+):file:(?P<path>.+)#$")


_COMMIT_COLUMNS = (
    "repo_id", "sha", "parents", "author_person_id", "author_name", "author_email",
    "authored_at", "committer_email", "committed_at", "message", "is_merge", "is_revert",
    "is_fix", "co_authors", "tickets",
)  # fmt: skip
_CHANGE_VALUE = {kind: kind.value for kind in ChangeType}


def _insert_rows(
    conn: Connection, table: Table, columns: Sequence[str], rows: list[tuple[Any, ...]]
) -> None:
    """INSERT tuples in `columns` order with one driver executemany.

    Each value goes through its column type's bind processor first (dates to UTC and, on
    SQLite, text; JSON serialised; booleans as the backend wants), exactly as a Core
    insert would, without Core's per-row parameter building.
    """
    if not rows:
        return
    dialect = conn.dialect
    processors = [
        (i, proc)
        for i, name in enumerate(columns)
        if (proc := table.c[name].type.dialect_impl(dialect).bind_processor(dialect)) is not None
    ]
    if processors:
        converted = []
        for row in rows:
            values = list(row)
            for i, proc in processors:
                values[i] = proc(values[i])
            converted.append(tuple(values))
        rows = converted
    mark = db.placeholder(conn)
    conn.exec_driver_sql(
        f"INSERT INTO {table.name} ({', '.join(columns)}) "
        f"VALUES ({', '.join([mark] * len(columns))})",
        rows,
    )


class RecordWriter:
    """Applies records inside one transaction; caches lookups for the batch."""

    def __init__(self, session: Session, source_id: int | None) -> None:
        self.s = session
        self.source_id = source_id
        # Who is behind each name, email or handle: resolved and created as the batch goes.
        self.people = PeopleWriter(session, source_id)
        self._repos: dict[str, int | None] = {}
        self._services: dict[str, int] = {}
        # Facts (re)written in this batch: a file's facts not among them are stale.
        self._written_deps: set[int] = set()
        self._written_topics: set[int] = set()
        self._written_owners: set[int] = set()

    # -- lookups --------------------------------------------------------------------------

    def repo_id(self, name: str | None) -> int | None:
        """Id of a repo by name (None when unknown)."""
        if not name:
            return None
        if name not in self._repos:
            self._repos[name] = self.s.scalar(select(Repo.id).where(Repo.name == name))
        return self._repos[name]

    def service_id(self, name: str | None, create: bool = False) -> int | None:
        """Id of a service by name; created bare when `create` (a dependency on it was seen)."""
        if not name:
            return None
        if name in self._services:
            return self._services[name]
        sid = servicemap.find_service(self.s, name)
        if sid is None and create:
            svc = Service(name=name)
            self.s.add(svc)
            self.s.flush()
            sid = svc.id
        if sid is not None:
            self._services[name] = sid
        return sid

    def document_id(self, external_id: str | None) -> int | None:
        """Id of a document by external id."""
        if not external_id:
            return None
        return self.s.scalar(select(Document.id).where(Document.external_id == external_id))

    # -- repos, services, dependencies -----------------------------------------------------

    def repo(self, rec: RepoRecord) -> int:
        """Upsert a repo by name."""
        repo = self.s.scalar(select(Repo).where(Repo.name == rec.name))
        if repo is None:
            repo = Repo(name=rec.name, location=rec.location, source_id=self.source_id)
            self.s.add(repo)
        repo.location = rec.location
        repo.remote_url = rec.remote_url
        repo.web_url = rec.web_url
        repo.forge = rec.forge
        repo.default_branch = rec.default_branch
        repo.head_commit = rec.head_commit
        repo.is_monorepo = rec.is_monorepo
        self.s.flush()
        self._repos[rec.name] = repo.id
        return repo.id

    def repo_tree(self, rec: RepoTreeRecord) -> None:
        """Replace a repo's file list with the one at `rec.head`."""
        rid = self.repo_id(rec.repo)
        if rid is None:
            raise LookupError(f"tree of unknown repo {rec.repo!r}: yield a RepoRecord first")
        self.s.execute(delete(RepoFile).where(RepoFile.repo_id == rid))
        rows = [
            {"repo_id": rid, "path": f.path, "size": f.size, "excluded": f.excluded}
            for f in rec.files
        ]
        if rows:
            self.s.connection().execute(insert(cast(Table, RepoFile.__table__)), rows)

    def service(self, rec: ServiceRecord) -> int:
        """Upsert a service by name; known fields are never blanked by a record lacking them.

        A service first seen under another spelling (a dependency on "orders-service") is
        renamed to the name its own repository gives it, the other spelling kept as an alias.
        """
        sid = self.s.scalar(select(Service.id).where(Service.name == rec.name))
        if sid is None:
            sid = servicemap.find_service(self.s, rec.name)
            bare = self.s.get(Service, sid) if sid is not None else None
            if bare is not None and (bare.repo_id is not None or rec.repo is None):
                sid = None  # a service of its own repository keeps its name
            elif bare is not None:
                self._services.pop(bare.name, None)
                rec = replace(rec, aliases=(*(rec.aliases or ()), bare.name))
                bare.name = rec.name
        if sid is None:
            new = Service(name=rec.name)
            self.s.add(new)
            self.s.flush()
            sid = new.id
        self._services[rec.name] = sid
        svc = self.s.get(Service, sid)
        assert svc is not None
        svc.kind = rec.kind
        if rec.aliases is not None:
            servicemap.replace_aliases(self.s, sid, rec.name, rec.aliases)
        if rec.repo:
            svc.repo_id = self.repo_id(rec.repo)
        svc.path_prefix = rec.path_prefix or svc.path_prefix or ""
        svc.owner_team = rec.owner_team or svc.owner_team
        svc.description = rec.description or svc.description
        if rec.owner:
            svc.owner_person_id = self.people.find_person(rec.owner) or svc.owner_person_id
        self.s.flush()
        return svc.id

    def dependency(self, rec: DependencyRecord, evidence: list[Evidence] | None = None) -> None:
        """Upsert a dependency edge by (from, to, kind, detail).

        Every place that shows it is stored in order: `evidence`, else the record's own.
        """
        if rec.from_service == rec.to_service:
            return
        src = self.service_id(rec.from_service, create=True)
        dst = self.service_id(rec.to_service, create=True)
        row = self.s.scalar(
            select(ServiceDependency).where(
                ServiceDependency.from_service_id == src,
                ServiceDependency.to_service_id == dst,
                ServiceDependency.kind == rec.kind,
                ServiceDependency.detail == rec.detail,
            )
        )
        if row is None:
            row = ServiceDependency(
                from_service_id=src, to_service_id=dst, kind=rec.kind, detail=rec.detail
            )
            self.s.add(row)
        row.evidence_repo = rec.evidence_repo
        row.evidence_path = rec.evidence_path
        row.evidence_line = rec.evidence_line
        row.contract_path = rec.contract_path or row.contract_path
        row.source_id = self.source_id
        self.s.flush()
        servicemap.replace_evidence(
            self.s, row.id, rec.evidence() if evidence is None else evidence
        )
        self._written_deps.add(row.id)

    def infrastructure(self, rec: InfrastructureRecord) -> None:
        """Upsert a piece of infrastructure of a repo."""
        rid = self.repo_id(rec.repo)
        if rid is not None:
            servicemap.upsert_infrastructure(self.s, rid, rec)

    def service_map_set(self, rec: ServiceMapSet) -> None:
        """Drop the map facts of a repo's previous run: its whole new map follows."""
        servicemap.drop_repo_map(self.s, rec.repo, self.repo_id(rec.repo))

    def event_topic(self, rec: EventTopicRecord) -> None:
        """Upsert who publishes / subscribes to a topic."""
        sid = self.service_id(rec.service, create=True)
        row = self.s.scalar(
            select(ServiceEvent).where(
                ServiceEvent.service_id == sid,
                ServiceEvent.topic == rec.topic,
                ServiceEvent.role == rec.role,
            )
        )
        if row is None:
            row = ServiceEvent(service_id=sid, topic=rec.topic, role=rec.role)
            self.s.add(row)
        row.evidence_repo = rec.evidence_repo
        row.evidence_path = rec.evidence_path
        row.evidence_line = rec.evidence_line
        row.contract_path = rec.contract_path or row.contract_path
        self.s.flush()
        self._written_topics.add(row.id)

    def derive_event_dependencies(self) -> int:
        """Subscribers of a topic depend (async) on its publishers; returns edges written.

        Async edges are only ever derived here, so an edge whose topic link is gone (a
        consumer removed, a topic renamed) is deleted.
        """
        rows = self.s.execute(select(ServiceEvent)).scalars().all()
        publishers: dict[str, list[ServiceEvent]] = {}
        for ev in rows:
            if ev.role == EventRole.PUBLISH:
                publishers.setdefault(ev.topic, []).append(ev)
        names = dict(self.s.execute(select(Service.id, Service.name)).tuples().all())
        n = 0
        for ev in rows:
            if ev.role != EventRole.SUBSCRIBE:
                continue
            for pub in publishers.get(ev.topic, []):
                if pub.service_id == ev.service_id:
                    continue
                # Both ends show the edge: where it is published, then where it is consumed.
                both = [
                    Evidence(e.evidence_repo, e.evidence_path, e.evidence_line)
                    for e in (pub, ev)
                    if e.evidence_repo and e.evidence_path
                ]
                self.dependency(
                    DependencyRecord(
                        from_service=names[ev.service_id],
                        to_service=names[pub.service_id],
                        kind=DependencyKind.ASYNC_EVENT,
                        detail=ev.topic,
                        evidence_repo=ev.evidence_repo,
                        evidence_path=ev.evidence_path,
                        evidence_line=ev.evidence_line,
                        contract_path=ev.contract_path or pub.contract_path,
                    ),
                    both,
                )
                n += 1
        if self._written_deps:
            self.s.execute(
                delete(ServiceDependency).where(
                    ServiceDependency.kind == DependencyKind.ASYNC_EVENT,
                    ServiceDependency.id.not_in(self._written_deps),
                )
            )
        else:
            self.s.execute(
                delete(ServiceDependency).where(
                    ServiceDependency.kind == DependencyKind.ASYNC_EVENT
                )
            )
        return n

    def code_owner(self, rec: CodeOwnerRecord) -> None:
        """Upsert a CODEOWNERS rule (linked to a person when the owner is an email)."""
        rid = self.repo_id(rec.repo)
        if rid is None:
            return
        row = self.s.scalar(
            select(CodeOwner).where(
                CodeOwner.repo_id == rid, CodeOwner.pattern == rec.pattern,
                CodeOwner.owner == rec.owner,
            )
        )  # fmt: skip
        if row is None:
            row = CodeOwner(repo_id=rid, pattern=rec.pattern, owner=rec.owner)
            self.s.add(row)
        row.line = rec.line
        row.person_id = self.people.find_person(rec.owner)
        self.s.flush()
        self._written_owners.add(row.id)

    # -- history ----------------------------------------------------------------------------

    def commits(self, records: Sequence[CommitRecord]) -> int:
        """Insert commits not yet stored (commits are immutable) and their file changes."""
        if not records:
            return 0
        by_repo: dict[str, list[CommitRecord]] = {}
        for c in records:
            by_repo.setdefault(c.repo, []).append(c)
        written = 0
        for repo_name, items in by_repo.items():
            rid = self.repo_id(repo_name)
            if rid is None:
                raise LookupError(f"commit of unknown repo {repo_name!r}: yield a RepoRecord first")
            # The newest stored commit of the repo: none means none of these is stored yet
            # (a first ingest); new rows get ids above it.
            newest = self.s.scalar(select(func.max(Commit.id)).where(Commit.repo_id == rid))
            shas = [c.sha for c in items]
            present: set[str] = set()
            for start in range(0, len(shas) if newest is not None else 0, 500):
                present.update(
                    self.s.scalars(
                        select(Commit.sha).where(
                            Commit.repo_id == rid, Commit.sha.in_(shas[start : start + 500])
                        )
                    )
                )
            new = [c for c in items if c.sha not in present]
            if not new:
                continue
            conn = self.s.connection()
            rows: list[tuple[Any, ...]] = []
            pending = self.people.pending
            for c in new:
                pid = self.people.person_for(c.author_name, c.author_email)
                if pid is not None:
                    update = pending.get(pid)
                    if update is None:
                        update = pending[pid] = PersonUpdate()
                    update.seen(c.authored_at, c.authored_at)
                for n, e in c.co_authors:
                    self.people.person_for(n, e)
                rows.append(
                    (
                        rid, c.sha, " ".join(c.parents), pid, c.author_name, c.author_email,
                        c.authored_at, c.committer_email, c.committed_at, c.message,
                        c.is_merge, c.is_revert, c.is_fix,
                        [f"{n} <{e}>" for n, e in c.co_authors], " ".join(c.tickets),
                    )
                )  # fmt: skip
            # Straight to the driver (tens of thousands of rows on a large repository),
            # each value converted as its column type would; then one query for the ids.
            # Only this batch can add commits to the repo: it holds the writer lock.
            commits_t = cast(Table, Commit.__table__)
            _insert_rows(conn, commits_t, _COMMIT_COLUMNS, rows)
            mark = db.placeholder(conn)
            id_of: dict[str, int] = dict(
                conn.exec_driver_sql(
                    f"SELECT sha, id FROM {commits_t.name} WHERE repo_id = {mark} AND id > {mark}",
                    (rid, newest or 0),
                ).fetchall()
            )
            changes = [
                (id_of[c.sha], _CHANGE_VALUE[ch.change_type], ch.path, ch.old_path)
                for c in new
                for ch in c.changes
            ]
            if changes:
                conn.exec_driver_sql(
                    f"INSERT INTO {FileChange.__tablename__} "
                    f"(commit_id, change_type, path, old_path) "
                    f"VALUES ({mark}, {mark}, {mark}, {mark})",
                    changes,
                )
            written += len(new)
        return written

    # -- wisdom and incidents ------------------------------------------------------------------

    def wisdom(self, rec: WisdomRecord) -> int:
        """Upsert a wisdom entry by external id."""
        row = self.s.scalar(select(WisdomEntry).where(WisdomEntry.external_id == rec.external_id))
        if row is None:
            row = WisdomEntry(external_id=rec.external_id, origin=rec.origin)
            self.s.add(row)
            if rec.created_at:
                row.created_at = rec.created_at
        row.kind = rec.kind
        row.title = rec.title
        row.body = rec.body
        row.origin = rec.origin
        row.service_id = self.service_id(rec.service, create=bool(rec.service))
        row.repo_id = self.repo_id(rec.repo)
        row.path_glob = rec.path_glob
        row.line = rec.line
        row.severity = rec.severity
        row.status = rec.status
        row.document_id = self.document_id(rec.document_external_id)
        if rec.said_by_name or rec.said_by_email:
            row.said_by_person_id = self.people.person_for(rec.said_by_name, rec.said_by_email)
            row.said_by_name = rec.said_by_name or rec.said_by_email
        meta = dict(rec.meta)
        if rec.superseded_by_external_id:
            meta["superseded_by"] = rec.superseded_by_external_id
        row.meta = meta
        self.s.flush()
        return row.id

    def link_superseded_wisdom(self) -> None:
        """Point entries at their successors once both are stored (they arrive in any order)."""
        pending = self.s.scalars(select(WisdomEntry).where(WisdomEntry.superseded_by_id.is_(None)))
        for row in pending:
            target = (row.meta or {}).get("superseded_by")
            if target:
                row.superseded_by_id = self.s.scalar(
                    select(WisdomEntry.id).where(WisdomEntry.external_id == target)
                )

    def incident(self, rec: IncidentRecord) -> int:
        """Upsert an incident; a postmortem and a Slack channel of the same id merge."""
        row = self.s.scalar(select(Incident).where(Incident.external_id == rec.external_id))
        if row is None:
            row = Incident(external_id=rec.external_id, title=rec.title)
            self.s.add(row)
        # Fields one source lacks are filled from the other, never blanked.
        row.title = rec.title or row.title
        row.started_at = earliest(row.started_at, rec.started_at)
        row.ended_at = latest(row.ended_at, rec.ended_at)
        row.severity = rec.severity or row.severity
        row.root_cause = rec.root_cause or row.root_cause
        row.resolution = rec.resolution or row.resolution
        row.channel = rec.channel or row.channel
        pm = self.document_id(rec.postmortem_external_id)
        row.postmortem_document_id = pm or row.postmortem_document_id
        row.meta = {**(row.meta or {}), **rec.meta}
        self.s.flush()
        have = set(
            self.s.scalars(
                select(IncidentService.service_id).where(IncidentService.incident_id == row.id)
            )
        )
        for name in rec.services:
            sid = self.service_id(name, create=True)
            if sid is not None and sid not in have:
                self.s.add(IncidentService(incident_id=row.id, service_id=sid))
                have.add(sid)
        self.s.flush()
        return row.id

    def drop_missing(self, rec: DocumentSet) -> list[str]:
        """Forget what a file no longer says; returns the stale document ids to delete.

        Extracted wisdom under the prefix and not in the set goes now; so do the
        dependencies, event topics and CODEOWNERS rules whose evidence is that file and
        that this batch did not write again.
        """
        keep = rec.external_ids
        stale_docs = [
            e
            for e in self.s.scalars(
                select(Document.external_id).where(
                    Document.external_id.startswith(rec.prefix, autoescape=True)
                )
            )
            if e not in keep
        ]
        stale_wisdom = [
            wid
            for wid, ext in self.s.execute(
                select(WisdomEntry.id, WisdomEntry.external_id).where(
                    WisdomEntry.external_id.startswith(rec.prefix, autoescape=True),
                    WisdomEntry.origin == WisdomOrigin.EXTRACTED,
                )
            ).tuples()
            if ext not in keep
        ]
        for start in range(0, len(stale_wisdom), 500):
            self.s.execute(
                delete(WisdomEntry).where(WisdomEntry.id.in_(stale_wisdom[start : start + 500]))
            )
        match = _FILE_PREFIX.match(rec.prefix)
        if match:
            self._drop_file_facts(match["repo"], match["path"])
        return stale_docs

    def _drop_file_facts(self, repo: str, path: str) -> None:
        deps = self.s.scalars(
            select(ServiceDependency.id).where(
                ServiceDependency.evidence_repo == repo,
                ServiceDependency.evidence_path == path,
                ServiceDependency.kind != DependencyKind.ASYNC_EVENT,
            )
        ).all()
        gone = [d for d in deps if d not in self._written_deps]
        if gone:
            self.s.execute(delete(ServiceDependency).where(ServiceDependency.id.in_(gone)))
        topics = self.s.scalars(
            select(ServiceEvent.id).where(
                ServiceEvent.evidence_repo == repo, ServiceEvent.evidence_path == path
            )
        ).all()
        gone = [t for t in topics if t not in self._written_topics]
        if gone:
            self.s.execute(delete(ServiceEvent).where(ServiceEvent.id.in_(gone)))
        if path.rsplit("/", 1)[-1] == "CODEOWNERS":
            rid = self.repo_id(repo)
            owners = self.s.scalars(select(CodeOwner.id).where(CodeOwner.repo_id == rid)).all()
            gone = [o for o in owners if o not in self._written_owners]
            if gone:
                self.s.execute(delete(CodeOwner).where(CodeOwner.id.in_(gone)))
