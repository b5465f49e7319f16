"""Read models of stored history for the knowledge-risk analyses: plain rows, no ORM objects."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, NamedTuple

from sqlalchemy import Connection, func, select

from kb.models import (
    ChangeType,
    Commit,
    FileChange,
    Identity,
    IdentityKind,
    Person,
    Repo,
    RepoFile,
    Service,
)
from kb.store import db
from kb.store.search import as_utc
from kb.store.store import Store


class CommitRow(NamedTuple):
    """One commit, as the analyses read it. A tuple: tens of thousands per repository."""

    id: int
    sha: str
    author_name: str
    author_email: str
    committer_email: str | None
    person_id: int | None
    authored_at: datetime
    co_authors: tuple[str, ...]
    is_merge: bool
    is_fix: bool
    is_revert: bool
    subject: str


class ChangeRow(NamedTuple):
    commit_id: int
    kind: ChangeType
    path: str
    old_path: str | None


@dataclass
class RepoHistory:
    """One repository's stored facts: its files at HEAD, commits and changes, oldest first."""

    repo_id: int
    name: str
    head: str | None
    files: dict[str, str | None]  # path -> exclusion reason (None: analysed)
    commits: dict[int, CommitRow] = field(default_factory=dict)
    changes: list[ChangeRow] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class PersonRow:
    id: int
    name: str
    email: str | None
    is_bot: bool
    last_activity_at: datetime | None
    left_at: datetime | None


@dataclass(frozen=True, slots=True)
class ServiceRow:
    id: int
    name: str
    repo: str | None
    path_prefix: str


def repo_names(store: Store) -> list[str]:
    with store.transaction() as s:
        return list(s.scalars(select(Repo.name).order_by(Repo.name)))


def repo_history(store: Store, name: str, *, with_changes: bool = True) -> RepoHistory | None:
    """Everything the truck factor needs of one repository, or None if it is unknown."""
    with store.transaction() as s:
        repo = s.execute(select(Repo.id, Repo.head_commit).where(Repo.name == name)).first()
        if repo is None:
            return None
        rid, head = repo
        files = dict(
            s.execute(select(RepoFile.path, RepoFile.excluded).where(RepoFile.repo_id == rid))
            .tuples()
            .all()
        )
        out = RepoHistory(rid, name, head, files)
        if not with_changes:
            return out
        # Plain tuples straight from the driver: a large repository has tens of thousands of
        # commits and hundreds of thousands of changes, and SQLAlchemy result rows (with their
        # per-column type processing) cost more than the queries themselves.
        conn = s.connection()
        mark = db.placeholder(conn)
        commits = _driver_rows(
            conn,
            "SELECT id, sha, author_name, author_email, committer_email, author_person_id,"
            " authored_at, co_authors, is_merge, is_fix, is_revert, substr(message, 1, 200)"
            f" FROM {Commit.__tablename__} WHERE repo_id = {mark} ORDER BY id",
            (rid,),
        )
        for cid, sha, an, ae, ce, pid, at, co, merge, fix, revert, msg in commits:
            out.commits[cid] = CommitRow(
                cid, sha, an or "", ae or "", ce, pid, _utc(at), _co_authors(co),
                bool(merge), bool(fix), bool(revert), (msg or "").split("\n", 1)[0],
            )  # fmt: skip
        # IN, not a join: the commit_id index then yields the rows in order, with no sort.
        changes = _driver_rows(
            conn,
            f"SELECT commit_id, change_type, path, old_path FROM {FileChange.__tablename__}"
            f" WHERE commit_id IN (SELECT id FROM {Commit.__tablename__} WHERE repo_id = {mark})"
            " ORDER BY commit_id, id",
            (rid,),
        )
        kinds = {k.value: k for k in ChangeType}
        make = ChangeRow._make
        out.changes = [make((c, kinds[k], p, o)) for c, k, p, o in changes]
        return out


def _driver_rows(conn: Connection, sql: str, params: tuple[Any, ...]) -> Sequence[Any]:
    """The rows of `sql`, as the DBAPI cursor under `conn` returns them: plain tuples."""
    cursor = conn.connection.cursor()
    try:
        cursor.execute(sql, params)
        return cursor.fetchall()
    finally:
        cursor.close()


def _utc(value: str | datetime) -> datetime:
    """A stored timestamp as `UTCDateTime` reads it back: timezone-aware, in UTC."""
    if isinstance(value, str):  # SQLite keeps the UTC time as ISO text with no offset
        return datetime.fromisoformat(value + "+00:00")  # several times faster than .replace()
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _co_authors(value: str | list[str] | None) -> tuple[str, ...]:
    """The stored JSON list: text on SQLite (most often "[]"), decoded already on PostgreSQL."""
    if isinstance(value, str):
        if value == "[]":
            return ()
        value = json.loads(value)
    return tuple(value or ())


def people(store: Store) -> dict[int, PersonRow]:
    with store.transaction() as s:
        q = select(
            Person.id, Person.display_name, Person.primary_email, Person.is_bot,
            Person.last_activity_at, Person.left_at,
        )  # fmt: skip
        return {
            pid: PersonRow(pid, name, email, bool(bot), as_utc(last), as_utc(left))
            for pid, name, email, bot, last, left in s.execute(q).tuples()
        }


def person_by_identity(store: Store) -> dict[tuple[str, str], int]:
    """(kind, normalised value) -> person id, for every stored identity."""
    with store.transaction() as s:
        q = select(Identity.kind, Identity.value, Identity.person_id)
        return {(str(IdentityKind(k)), v): pid for k, v, pid in s.execute(q).tuples()}


def services(store: Store) -> list[ServiceRow]:
    with store.transaction() as s:
        q = (
            select(Service.id, Service.name, Repo.name, Service.path_prefix)
            .join(Repo, Repo.id == Service.repo_id, isouter=True)
            .order_by(Service.name)
        )
        return [ServiceRow(i, n, r, p or "") for i, n, r, p in s.execute(q).tuples()]


def repos_with_path(store: Store, path: str) -> list[tuple[str, str]]:
    """(repo, path) for every repo holding `path` at HEAD, as a file or a directory."""
    with store.transaction() as s:
        q = (
            select(Repo.name)
            .join(RepoFile, RepoFile.repo_id == Repo.id)
            .where((RepoFile.path == path) | RepoFile.path.startswith(path + "/", autoescape=True))
            .distinct()
            .order_by(Repo.name)
        )
        return [(name, path) for name in s.scalars(q)]


def commit_paths(store: Store, repo: str, sha: str) -> list[str]:
    """The paths a commit changed (sha or a unique prefix of it)."""
    with store.transaction() as s:
        q = (
            select(FileChange.path)
            .join(Commit, Commit.id == FileChange.commit_id)
            .join(Repo, Repo.id == Commit.repo_id)
            .where(Repo.name == repo, Commit.sha.startswith(sha, autoescape=True))
        )
        return list(dict.fromkeys(s.scalars(q)))


def facts_version(store: Store) -> tuple[Any, ...]:
    """Changes whenever anything a knowledge-risk report reads changes (one query)."""
    with store.transaction() as s:
        row = s.execute(
            select(
                select(func.max(Commit.id)).scalar_subquery(),
                select(func.count(Person.id)).scalar_subquery(),
                select(func.max(Person.last_activity_at)).scalar_subquery(),
                select(func.count(Person.left_at)).scalar_subquery(),
                select(func.count(Identity.id)).scalar_subquery(),
                select(func.count(Service.id)).scalar_subquery(),
                select(func.group_concat(Repo.head_commit)).scalar_subquery()
                if store.engine.dialect.name == "sqlite"
                else select(func.string_agg(Repo.head_commit, ",")).scalar_subquery(),
            )
        ).one()
        return tuple(row)
