"""Read-side SQL of the assistant: full-text search, source details, wisdom, experts."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import func, or_, select, text

from kb.contract.identity import service_of_repo
from kb.contract.kinds import ChangeType
from kb.contract.weblinks import commit_url, file_url
from kb.store.decoders import utc_or_none
from kb.store.models import (
    Chunk,
    Commit,
    Document,
    DocumentKind,
    FileChange,
    Person,
    Repo,
    Service,
    WisdomEntry,
    WisdomKind,
    WisdomStatus,
)
from kb.store.schema import PG_TSVECTOR
from kb.store.store import Store

_WORD = re.compile(r"[A-Za-z0-9_]{2,}")


@dataclass(frozen=True)
class SourceRef:
    """A stored document, or a commit that is none, as a source a person can open and cite.

    Retrieval scores chunks of it, an answer cites it: both hold this one object.
    """

    document_id: int  # negative: a commit with no document (minus the commit's id)
    external_id: str
    kind: str
    title: str
    repo: str | None
    service: str | None
    path: str | None
    commit: str | None
    url: str | None
    author: str | None
    created_at: datetime | None
    status: str | None
    meta: dict[str, Any]


class SourceFields:
    """What a hit or a citation tells of its source, read through the source it holds."""

    source: SourceRef

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


@dataclass(frozen=True)
class ChunkSource:
    """A chunk and the source it belongs to (what retrieval scores)."""

    chunk_id: str
    chunk_text: str
    heading: str | None
    start_line: int | None
    doc: SourceRef


@dataclass(frozen=True)
class WisdomItem:
    """A wisdom entry as the answer service shows it."""

    id: int
    external_id: str
    kind: str
    title: str
    body: str
    service: str | None
    repo: str | None
    path: str | None
    line: int | None
    severity: str
    status: str
    origin: str
    said_by: str | None
    created_at: datetime | None
    document_external_id: str | None
    # The metadata of the document it came from: a private channel's entry says so there.
    meta: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Contributor:
    """Someone's authorship of an area, for "who knows this now"."""

    person_id: int
    name: str
    commits: int
    last_commit: datetime | None
    first_commit: datetime | None
    last_activity: datetime | None
    left_at: datetime | None
    is_bot: bool


def lexical_search(store: Store, terms: Sequence[str], k: int) -> list[tuple[str, float]]:
    """Chunks matching any of `terms` by full-text rank, best first: (chunk id, score)."""
    words = [w for w in terms if _WORD.fullmatch(w)]
    if not words:
        return []
    with store.transaction() as s:
        if store.dialect == "sqlite":
            query = " OR ".join(f'"{w}"' for w in words)
            rows = s.execute(
                text(
                    "SELECT c.id, bm25(chunk_fts) AS rank FROM chunk_fts "
                    "JOIN chunks c ON c.rowid = chunk_fts.rowid "
                    "WHERE chunk_fts MATCH :q ORDER BY rank LIMIT :k"
                ),
                {"q": query, "k": k},
            )
            # bm25() is lower-is-better; negate so every score is higher-is-better.
            return [(cid, -float(rank)) for cid, rank in rows]
        query = " or ".join(words)
        rows = s.execute(
            text(
                f"SELECT id, ts_rank_cd({PG_TSVECTOR}, q) AS rank "
                f"FROM chunks, websearch_to_tsquery('english', :q) q "
                f"WHERE {PG_TSVECTOR} @@ q ORDER BY rank DESC LIMIT :k"
            ),
            {"q": query, "k": k},
        )
        return [(cid, float(rank)) for cid, rank in rows]


@dataclass(frozen=True)
class CommitMessage:
    """A commit whose message is not a document of its own (too short to be one)."""

    id: int
    sha: str
    repo: str
    message: str


def commits_without_document(store: Store) -> list[CommitMessage]:
    """Every commit whose message is not a document (documents are searched as chunks)."""
    with store.transaction() as s:
        documented = set(
            s.scalars(select(Document.commit_sha).where(Document.kind == DocumentKind.COMMIT))
        )
        rows = s.execute(
            select(Commit.id, Commit.sha, Repo.name, Commit.message).join(
                Repo, Commit.repo_id == Repo.id
            )
        )
        return [
            CommitMessage(cid, sha, repo, message)
            for cid, sha, repo, message in rows.tuples()
            if sha not in documented
        ]


def commit_sources(store: Store, commit_ids: Sequence[int]) -> dict[int, ChunkSource]:
    """Commits shown as sources, like a commit document's chunk (ids negated: no document)."""
    if not commit_ids:
        return {}
    with store.transaction() as s:
        rows = s.execute(
            select(Commit, Repo.name, Person.display_name, Repo.web_url, Repo.forge)
            .join(Repo, Commit.repo_id == Repo.id)
            .outerjoin(Person, Commit.author_person_id == Person.id)
            .where(Commit.id.in_(list(commit_ids)))
        )
        out: dict[int, ChunkSource] = {}
        for c, repo, who, web_url, forge in rows.tuples():
            message = c.message.strip()
            doc = SourceRef(
                document_id=-c.id, external_id=f"git:{repo}:commit:{c.sha}",
                kind=DocumentKind.COMMIT.value, title=message.partition("\n")[0].strip(),
                repo=repo, service=service_of_repo(repo), path=None, commit=c.sha,
                url=commit_url(web_url, forge or "github", c.sha) if web_url else None,
                author=who or c.author_name, created_at=utc_or_none(c.authored_at), status=None,
                meta={"tickets": c.tickets.split(), "is_revert": c.is_revert,
                      "is_fix": c.is_fix},
            )  # fmt: skip
            out[c.id] = ChunkSource(f"commit:{repo}:{c.sha}", message, None, None, doc)
        return out


def chunk_sources(store: Store, chunk_ids: Iterable[str]) -> dict[str, ChunkSource]:
    """Chunks with their documents (ids the SQL store doesn't know are left out)."""
    ids = list(dict.fromkeys(chunk_ids))
    out: dict[str, ChunkSource] = {}
    if not ids:
        return out
    with store.transaction() as s:
        for start in range(0, len(ids), 500):
            rows = s.execute(
                select(
                    Chunk,
                    Document,
                    Repo.name,
                    Service.name,
                    Person.display_name,
                    Repo.web_url,
                    Repo.forge,
                )
                .join(Document, Chunk.document_id == Document.id)
                .outerjoin(Repo, Document.repo_id == Repo.id)
                .outerjoin(Service, Document.service_id == Service.id)
                .outerjoin(Person, Document.author_person_id == Person.id)
                .where(Chunk.id.in_(ids[start : start + 500]))
            )
            for chunk, doc, repo, service, author, web_url, forge in rows.tuples():
                ref = SourceRef(
                    document_id=doc.id, external_id=doc.external_id, kind=doc.kind.value,
                    title=doc.title, repo=repo, service=service or service_of_repo(repo),
                    path=doc.path, commit=doc.commit_sha,
                    url=doc.url or _web_link(web_url, forge, doc, chunk.start_line),
                    author=author or doc.author_name, created_at=doc.created_at,
                    status=doc.status.value if doc.status else None, meta=dict(doc.meta or {}),
                )  # fmt: skip
                out[chunk.id] = ChunkSource(
                    chunk.id, chunk.text, chunk.heading, chunk.start_line, ref
                )
    return out


def _web_link(
    web_url: str | None, forge: str | None, doc: Document, line: int | None
) -> str | None:
    """A git source's web link: the file at its commit (at the chunk's line), or the commit."""
    if not web_url or not doc.commit_sha:
        return None
    if doc.path:
        at = doc.meta.get("line") if isinstance((doc.meta or {}).get("line"), int) else line
        return file_url(
            web_url, forge or "github", doc.commit_sha, doc.path, at if at and at > 1 else None
        )
    return commit_url(web_url, forge or "github", doc.commit_sha)


def service_names(store: Store) -> list[str]:
    """Every known service name."""
    with store.transaction() as s:
        return sorted(s.scalars(select(Service.name)))


def service_descriptions(store: Store) -> dict[str, str | None]:
    """Every known service name with its catalog description (None when it has none)."""
    with store.transaction() as s:
        return dict(
            s.execute(select(Service.name, Service.description).order_by(Service.name))
            .tuples()
            .all()
        )


def person_names(store: Store) -> list[str]:
    """Display names of the people kb knows, bots left out."""
    with store.transaction() as s:
        names = s.scalars(select(Person.display_name).where(Person.is_bot.is_(False)))
        return sorted({n for n in names if n})


def documents_by_external_id(store: Store, external_ids: Iterable[str]) -> dict[str, int]:
    """Document ids of external ids (unknown ones left out)."""
    ids = list(external_ids)
    if not ids:
        return {}
    with store.transaction() as s:
        rows = s.execute(
            select(Document.external_id, Document.id).where(Document.external_id.in_(ids))
        )
        return dict(rows.tuples().all())


def first_chunks(store: Store, document_ids: Iterable[int]) -> dict[int, str]:
    """The first chunk id of each document (to cite a document found by structure)."""
    ids = list(document_ids)
    if not ids:
        return {}
    with store.transaction() as s:
        rows = s.execute(
            select(Chunk.document_id, Chunk.id)
            .where(Chunk.document_id.in_(ids))
            .order_by(Chunk.document_id, Chunk.ordinal)
        )
        out: dict[int, str] = {}
        for doc_id, cid in rows.tuples():
            out.setdefault(doc_id, cid)
        return out


@dataclass(frozen=True)
class Passage:
    """One chunk of a document, in document order (what an answer quotes from)."""

    chunk_id: str
    ordinal: int
    heading: str | None
    text: str


def document_passages(store: Store, document_id: int, limit: int = 40) -> list[Passage]:
    """The first `limit` chunks of a document, in order."""
    with store.transaction() as s:
        rows = s.execute(
            select(Chunk.id, Chunk.ordinal, Chunk.heading, Chunk.text)
            .where(Chunk.document_id == document_id)
            .order_by(Chunk.ordinal)
            .limit(limit)
        )
        return [Passage(cid, n, heading, body) for cid, n, heading, body in rows.tuples()]


def wisdom(
    store: Store,
    services: Sequence[str] = (),
    kinds: Sequence[WisdomKind] = (),
    active_only: bool = True,
) -> list[WisdomItem]:
    """Wisdom entries, optionally of some services and kinds."""
    with store.transaction() as s:
        q = (
            select(
                WisdomEntry,
                Service.name,
                Repo.name,
                Person.display_name,
                Document.external_id,
                Document.meta,
            )
            .outerjoin(Service, WisdomEntry.service_id == Service.id)
            .outerjoin(Repo, WisdomEntry.repo_id == Repo.id)
            .outerjoin(Person, WisdomEntry.said_by_person_id == Person.id)
            .outerjoin(Document, WisdomEntry.document_id == Document.id)
        )
        if services:
            q = q.where((Service.name.in_(services)) | (Repo.name.in_(services)))
        if kinds:
            q = q.where(WisdomEntry.kind.in_(kinds))
        if active_only:
            q = q.where(WisdomEntry.status == WisdomStatus.ACTIVE)
        return [
            WisdomItem(
                id=w.id,
                external_id=w.external_id,
                kind=w.kind.value,
                title=w.title,
                body=w.body,
                service=svc or service_of_repo(repo),
                repo=repo,
                path=w.path_glob,
                line=w.line,
                severity=w.severity.value,
                status=w.status.value,
                origin=w.origin.value,
                said_by=who or w.said_by_name,
                created_at=w.created_at,
                document_external_id=doc,
                meta=dict(meta or {}),
            )
            for w, svc, repo, who, doc, meta in s.execute(q.order_by(WisdomEntry.id)).tuples()
        ]


def successors(store: Store, document_external_ids: Iterable[str]) -> dict[str, str]:
    """For superseded ADR documents, the document of the decision that replaced them."""
    ids = list(document_external_ids)
    if not ids:
        return {}
    with store.transaction() as s:
        old = WisdomEntry.__table__.alias("old")
        new = WisdomEntry.__table__.alias("new")
        old_doc = Document.__table__.alias("old_doc")
        new_doc = Document.__table__.alias("new_doc")
        rows = s.execute(
            select(old_doc.c.external_id, new_doc.c.external_id)
            .select_from(old)
            .join(new, old.c.superseded_by_id == new.c.id)
            .join(old_doc, old.c.document_id == old_doc.c.id)
            .join(new_doc, new.c.document_id == new_doc.c.id)
            .where(old_doc.c.external_id.in_(ids))
        )
        return dict(rows.tuples().all())


def contributors(
    store: Store, repo: str | None = None, paths: Sequence[str] = (), since: datetime | None = None
) -> list[Contributor]:
    """People who changed a repo (or some of its paths), most commits first."""
    with store.transaction() as s:
        q = (
            select(
                Person.id,
                Person.display_name,
                func.count(func.distinct(Commit.id)),
                func.max(Commit.authored_at),
                func.min(Commit.authored_at),
                Person.last_activity_at,
                Person.left_at,
                Person.is_bot,
            )
            .join(Commit, Commit.author_person_id == Person.id)
            .join(Repo, Commit.repo_id == Repo.id)
        )
        if repo:
            q = q.where(Repo.name == repo)
        if paths:
            q = q.join(FileChange, FileChange.commit_id == Commit.id).where(
                FileChange.path.in_(list(paths))
            )
        if since:
            q = q.where(Commit.authored_at >= since)
        q = q.group_by(Person.id).order_by(func.count(func.distinct(Commit.id)).desc())
        out = []
        for pid, name, n, last, first, activity, left, bot in s.execute(q).tuples():
            out.append(
                Contributor(
                    pid,
                    name,
                    int(n),
                    utc_or_none(last),
                    utc_or_none(first),
                    activity,
                    left,
                    bool(bot),
                )
            )
        return out


def first_commit(store: Store, repo: str, path: str) -> int | None:
    """The id of the commit that added a file of a repo: the earliest that touched its path,
    followed back through renames ("docs/adr/…" moved to "docs/decisions/…")."""
    found: int | None = None
    seen: set[str] = set()
    with store.transaction() as s:
        while path and path not in seen and len(seen) < 10:
            seen.add(path)
            row = s.execute(
                select(Commit.id, FileChange.change_type, FileChange.old_path)
                .join(FileChange, FileChange.commit_id == Commit.id)
                .join(Repo, Commit.repo_id == Repo.id)
                .where(Repo.name == repo, FileChange.path == path)
                .order_by(Commit.authored_at, Commit.id)
                .limit(1)
            ).first()
            if row is None:
                break
            found = row[0]
            if row[1] != ChangeType.RENAME or not row[2]:
                break
            path = row[2]
    return found


def commits_mentioning(store: Store, needles: Sequence[str], limit: int = 5) -> list[str]:
    """External ids of commit documents whose message mentions any needle (e.g. ADR-0003)."""
    if not needles:
        return []
    with store.transaction() as s:
        q = (
            select(Document.external_id)
            .where(Document.kind == DocumentKind.COMMIT)
            .where(or_(*[Document.body.contains(n, autoescape=True) for n in needles]))
            .order_by(Document.created_at)
            .limit(limit)
        )
        return list(s.scalars(q))


def term_frequencies(store: Store, terms: Sequence[str]) -> tuple[int, dict[str, int]]:
    """(number of chunks, chunks containing each term): how rare a question's words are."""
    words = [w for w in terms if _WORD.fullmatch(w)]
    with store.transaction() as s:
        total = int(s.scalar(select(func.count()).select_from(Chunk)) or 0)
        out: dict[str, int] = {}
        for w in words:
            if store.dialect == "sqlite":
                n = s.scalar(
                    text("SELECT count(*) FROM chunk_fts WHERE chunk_fts MATCH :q"), {"q": f'"{w}"'}
                )
            else:
                n = s.scalar(
                    text(
                        f"SELECT count(*) FROM chunks "
                        f"WHERE {PG_TSVECTOR} @@ plainto_tsquery('english', :q)"
                    ),
                    {"q": w},
                )
            out[w] = int(n or 0)
        return total, out


def unmentioned(store: Store, names: Sequence[str]) -> list[str]:
    """Of names the full-text index does not hold, those nothing else mentions either: no
    document title or path, commit message, person or service contains them (as a
    case-insensitive substring: "DTO" is in "AdrDto.ts"). Chunk text is left to the index,
    which a scan of would cost a second at 100k chunks."""
    out: list[str] = []
    columns = (
        Document.title,
        Document.path,
        Commit.message,
        Person.display_name,
        Service.name,
    )
    with store.transaction() as s:
        for name in names:
            needle = name.lower()
            mentioned = (
                select(col).where(func.lower(col).contains(needle, autoescape=True)).limit(1)
                for col in columns
            )
            if any(s.scalar(q) is not None for q in mentioned):
                continue
            out.append(name)
    return out


def service_documents(
    store: Store, services: Sequence[str], kinds: Sequence[str], danger_only: bool = False
) -> list[int]:
    """Ids of documents of the given services (by service or repo) and kinds."""
    if not services:
        return []
    with store.transaction() as s:
        q = (
            select(Document.id, Document.meta)
            .outerjoin(Service, Document.service_id == Service.id)
            .outerjoin(Repo, Document.repo_id == Repo.id)
            .where(or_(Service.name.in_(list(services)), Repo.name.in_(list(services))))
            .where(Document.kind.in_(list(kinds)))
        )
        return [
            doc_id
            for doc_id, meta in s.execute(q).tuples()
            if not danger_only or (meta or {}).get("wisdom") == "danger_zone"
        ]
