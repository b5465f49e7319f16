"""Read models of stored history for the knowledge-risk analyses: plain rows, no ORM.

Every query goes through `Reader` (the DBAPI driver, no SQLAlchemy): `kb bus-factor`
starts in a fraction of the time. Table and column names are the models' (kb.store.models).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, NamedTuple

from kb.contract.kinds import ChangeType, IdentityKind
from kb.store.decoders import json_value, string_list, utc, utc_or_none
from kb.store.reader import Reader


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


def repo_names(db: Reader) -> list[str]:
    return [name for (name,) in db.rows("SELECT name FROM repos ORDER BY name")]


def repo_history(db: Reader, name: str, *, with_changes: bool = True) -> RepoHistory | None:
    """Everything the truck factor needs of one repository, or None if it is unknown."""
    m = db.mark
    repo = db.one(f"SELECT id, head_commit FROM repos WHERE name = {m}", (name,))
    if repo is None:
        return None
    rid, head = repo
    files = dict(db.rows(f"SELECT path, excluded FROM repo_files WHERE repo_id = {m}", (rid,)))
    out = RepoHistory(rid, name, head, files)
    if not with_changes:
        return out
    commits = db.rows(
        "SELECT id, sha, author_name, author_email, committer_email, author_person_id,"
        " authored_at, co_authors, is_merge, is_fix, is_revert, substr(message, 1, 200)"
        f" FROM commits WHERE repo_id = {m} ORDER BY id",
        (rid,),
    )
    for cid, sha, an, ae, ce, pid, at, co, merge, fix, revert, msg in commits:
        out.commits[cid] = CommitRow(
            cid, sha, an or "", ae or "", ce, pid, utc(at), string_list(co),
            bool(merge), bool(fix), bool(revert), (msg or "").split("\n", 1)[0],
        )  # fmt: skip
    # IN, not a join: the commit_id index then yields the rows in order, with no sort.
    changes = db.rows(
        "SELECT commit_id, change_type, path, old_path FROM file_changes"
        f" WHERE commit_id IN (SELECT id FROM commits WHERE repo_id = {m})"
        " ORDER BY commit_id, id",
        (rid,),
    )
    kinds = {k.value: k for k in ChangeType}
    make = ChangeRow._make
    out.changes = [make((c, kinds[k], p, o)) for c, k, p, o in changes]
    return out


def people(db: Reader) -> dict[int, PersonRow]:
    rows = db.rows(
        "SELECT id, display_name, primary_email, is_bot, last_activity_at, left_at FROM people"
    )
    return {
        pid: PersonRow(pid, name, email, bool(bot), utc_or_none(last), utc_or_none(left))
        for pid, name, email, bot, last, left in rows
    }


def person_by_identity(db: Reader) -> dict[tuple[str, str], int]:
    """(kind, normalised value) -> person id, for every stored identity."""
    rows = db.rows("SELECT kind, value, person_id FROM identities")
    return {(str(IdentityKind(k)), v): pid for k, v, pid in rows}


def services(db: Reader) -> list[ServiceRow]:
    rows = db.rows(
        "SELECT s.id, s.name, r.name, s.path_prefix FROM services s"
        " LEFT OUTER JOIN repos r ON r.id = s.repo_id ORDER BY s.name"
    )
    return [ServiceRow(i, n, r, p or "") for i, n, r, p in rows]


def repos_with_path(db: Reader, path: str) -> list[tuple[str, str]]:
    """(repo, path) for every repo holding `path` at HEAD, as a file or a directory."""
    m = db.mark
    rows = db.rows(
        "SELECT DISTINCT r.name FROM repos r JOIN repo_files f ON f.repo_id = r.id"
        f" WHERE f.path = {m} OR f.path LIKE {m} ESCAPE '/' ORDER BY r.name",
        (path, _escape_like(path + "/") + "%"),
    )
    return [(name, path) for (name,) in rows]


def commit_paths(db: Reader, repo: str, sha: str) -> list[str]:
    """The paths a commit changed (sha or a unique prefix of it)."""
    m = db.mark
    rows = db.rows(
        "SELECT fc.path FROM file_changes fc JOIN commits c ON c.id = fc.commit_id"
        f" JOIN repos r ON r.id = c.repo_id WHERE r.name = {m} AND c.sha LIKE {m} ESCAPE '/'"
        " ORDER BY fc.id",
        (repo, _escape_like(sha) + "%"),
    )
    return list(dict.fromkeys(path for (path,) in rows))


def _escape_like(text: str) -> str:
    return text.replace("/", "//").replace("%", "/%").replace("_", "/_")


def source_cursor(db: Reader, kind: str, name: str) -> dict[str, Any]:
    """The cursor a source last checkpointed ({} when it never ran, or there is no kb yet)."""
    if not db.exists() or not db.has_table("sources"):
        return {}
    m = db.mark
    row = db.one(f"SELECT cursor FROM sources WHERE kind = {m} AND name = {m}", (kind, name))
    return dict(json_value(row[0]) or {}) if row else {}


def schema_revision(db: Reader) -> str | None:
    """The Alembic revision the database is at; None when there is no knowledge base yet."""
    if not db.exists() or not db.has_table("alembic_version"):
        return None
    row = db.one("SELECT version_num FROM alembic_version")
    return row[0] if row else None


def latest_activity(db: Reader) -> datetime | None:
    """The newest activity of anyone: the knowledge base's "now" for who has left."""
    row = db.one("SELECT max(last_activity_at) FROM people")
    return utc_or_none(row[0]) if row else None


def facts_version(db: Reader) -> tuple[Any, ...]:
    """Changes whenever anything a knowledge-risk report reads changes (one query)."""
    heads = (
        "SELECT group_concat(head_commit) FROM repos"
        if db.dialect == "sqlite"
        else "SELECT string_agg(head_commit, ',') FROM repos"
    )
    row = db.one(
        "SELECT (SELECT max(id) FROM commits), (SELECT count(id) FROM people),"
        " (SELECT max(last_activity_at) FROM people), (SELECT count(left_at) FROM people),"
        f" (SELECT count(id) FROM identities), (SELECT count(id) FROM services), ({heads})"
    )
    assert row is not None
    return tuple(row)
