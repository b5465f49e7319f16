"""Read models for incident plans: changes in a window, their files, code owners, channel
messages (deploy announcements). Plain rows through `Reader`, like `kb.store.history`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from kb.store.decoders import utc, utc_or_none
from kb.store.history import CommitRef, _stamp
from kb.store.reader import Reader


@dataclass(frozen=True, slots=True)
class Change:
    """A commit as a candidate cause: who, when, what it touched, whether its author left."""

    ref: CommitRef
    is_merge: bool
    author_person_id: int | None
    paths: tuple[str, ...]


_CHANGE = (
    "SELECT c.id, r.name, c.sha, substr(c.message, 1, 300), c.author_name, c.authored_at,"
    " c.is_fix, c.is_revert, r.web_url, r.forge, c.is_merge, c.author_person_id"
    " FROM commits c JOIN repos r ON r.id = c.repo_id"
)


def _changes(db: Reader, rows: list[tuple[Any, ...]]) -> list[Change]:
    from kb.contract.weblinks import commit_url

    paths: dict[int, list[str]] = {}
    ids = [row[0] for row in rows]
    m = db.mark
    for start in range(0, len(ids), 200):
        part = ids[start : start + 200]
        marks = ", ".join([m] * len(part))
        for cid, path in db.rows(
            f"SELECT commit_id, path FROM file_changes WHERE commit_id IN ({marks})"
            " ORDER BY commit_id, id",
            part,
        ):
            paths.setdefault(cid, []).append(path)
    out = []
    for cid, repo, sha, msg, author, at, fix, revert, web, forge, merge, pid in rows:
        ref = CommitRef(
            repo, sha, (msg or "").split("\n", 1)[0][:200], author or "", utc(at), bool(fix),
            bool(revert), commit_url(web, forge or "github", sha) if web else None,
        )  # fmt: skip
        out.append(Change(ref, bool(merge), pid, tuple(paths.get(cid, []))))
    return out


def changes_between(
    db: Reader, repos: Sequence[str], start: datetime, end: datetime, limit: int = 200
) -> list[Change]:
    """Commits (merges too) of `repos` authored in [start, end], newest first, with paths."""
    if not repos:
        return []
    m = db.mark
    marks = ", ".join([m] * len(repos))
    rows = db.rows(
        f"{_CHANGE} WHERE r.name IN ({marks}) AND c.authored_at >= {m} AND c.authored_at <= {m}"
        f" ORDER BY c.authored_at DESC LIMIT {int(limit)}",
        (*repos, _stamp(db, start), _stamp(db, end)),
    )
    return _changes(db, rows)


def changes_by_sha(db: Reader, shas: Sequence[str]) -> list[Change]:
    """The commits whose sha starts with one of `shas` (7 hex digits or more)."""
    wanted = [s.lower() for s in shas if len(s) >= 7]
    if not wanted:
        return []
    m = db.mark
    where = " OR ".join([f"c.sha LIKE {m}"] * len(wanted))
    rows = db.rows(f"{_CHANGE} WHERE {where}", [s + "%" for s in wanted])
    return _changes(db, rows)


@dataclass(frozen=True, slots=True)
class OwnerRow:
    """A CODEOWNERS rule of a repository, with the person it names when kb knows them."""

    repo: str
    pattern: str
    owner: str
    person_id: int | None
    person: str | None


def code_owners(db: Reader, repos: Sequence[str]) -> list[OwnerRow]:
    """The CODEOWNERS rules of `repos`, in file order."""
    if not repos:
        return []
    m = db.mark
    marks = ", ".join([m] * len(repos))
    rows = db.rows(
        "SELECT r.name, o.pattern, o.owner, o.person_id, p.display_name FROM code_owners o"
        " JOIN repos r ON r.id = o.repo_id LEFT OUTER JOIN people p ON p.id = o.person_id"
        f" WHERE r.name IN ({marks}) ORDER BY r.name, o.line, o.id",
        tuple(repos),
    )
    return [OwnerRow(*row) for row in rows]


@dataclass(frozen=True, slots=True)
class ChannelDocument:
    """A stored chat conversation (a thread, or a channel's day) and its text."""

    external_id: str
    title: str
    body: str
    url: str | None
    created_at: datetime | None
    updated_at: datetime | None


def chat_documents(
    db: Reader, title_prefixes: Sequence[str], start: datetime, end: datetime
) -> list[ChannelDocument]:
    """Slack conversations whose title starts with one of `title_prefixes` ('#deploys')
    and that overlap [start, end], oldest first."""
    if not title_prefixes:
        return []
    m = db.mark
    like = " OR ".join([f"title LIKE {m}"] * len(title_prefixes))
    rows = db.rows(
        "SELECT external_id, title, body, url, created_at, updated_at FROM documents"
        f" WHERE kind = {m} AND ({like}) AND updated_at >= {m} AND created_at <= {m}"
        " ORDER BY created_at",
        ("slack", *(p + "%" for p in title_prefixes), _stamp(db, start), _stamp(db, end)),
    )
    return [
        ChannelDocument(e, t, b or "", u, utc_or_none(c), utc_or_none(up))
        for e, t, b, u, c, up in rows
    ]
