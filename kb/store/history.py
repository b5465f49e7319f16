"""Read models of stored history for the knowledge-risk analyses: plain rows, no ORM.

Every query goes through `Reader` (the DBAPI driver, no SQLAlchemy): `kb bus-factor`
starts in a fraction of the time. Table and column names are the models' (kb.store.models).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
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


def kb_version(db: Reader) -> tuple[Any, ...]:
    """Changes whenever anything the dashboard shows changes (two cheap queries).

    The facts of the knowledge-risk reports, plus documents, wisdom, incidents, questions and
    their votes, service dependencies and ingest runs. () when there is no knowledge base.
    """
    if not db.exists() or not db.has_table("alembic_version"):
        return ()
    runs = "(SELECT max(id) FROM ingest_runs)" if db.has_table("ingest_runs") else "NULL"
    row = db.one(
        "SELECT (SELECT max(id) FROM documents), (SELECT count(id) FROM documents),"
        " (SELECT max(id) FROM wisdom_entries), (SELECT count(id) FROM wisdom_entries),"
        " (SELECT max(last_verified_at) FROM wisdom_entries), (SELECT max(id) FROM incidents),"
        " (SELECT count(id) FROM questions), (SELECT max(feedback_at) FROM questions),"
        " (SELECT count(id) FROM service_dependencies), (SELECT max(last_synced_at) FROM sources),"
        f" {runs}, (SELECT max(version_num) FROM alembic_version)"
    )
    assert row is not None
    return (*facts_version(db), *(str(v) if v is not None else None for v in row))


def file_sizes(db: Reader, repo: str) -> dict[str, int | None]:
    """path -> size in bytes of every file of `repo` at its ingested HEAD."""
    m = db.mark
    rows = db.rows(
        "SELECT f.path, f.size FROM repo_files f JOIN repos r ON r.id = f.repo_id"
        f" WHERE r.name = {m}",
        (repo,),
    )
    return dict(rows)


@dataclass(frozen=True, slots=True)
class SourceRow:
    """A configured source, how often it ran, and its last run's summary."""

    kind: str
    name: str
    location: str
    created_at: datetime | None
    last_synced_at: datetime | None
    runs: int
    last_started_at: datetime | None
    last_finished_at: datetime | None
    last_ok: bool | None
    last_report: dict[str, Any] | None


def source_rows(db: Reader) -> list[SourceRow]:
    """Every source with its last ingest run (none before runs were recorded)."""
    if not db.exists() or not db.has_table("sources"):
        return []
    last: dict[int, tuple[Any, ...]] = {}
    counts: dict[int, int] = {}
    if db.has_table("ingest_runs"):
        for sid, n in db.rows("SELECT source_id, count(id) FROM ingest_runs GROUP BY source_id"):
            counts[sid] = int(n)
        rows = db.rows(
            "SELECT source_id, started_at, finished_at, ok, report FROM ingest_runs"
            " WHERE id IN (SELECT max(id) FROM ingest_runs GROUP BY source_id)"
        )
        last = {row[0]: row[1:] for row in rows}
    out = []
    for sid, kind, name, location, created, synced in db.rows(
        "SELECT id, kind, name, location, created_at, last_synced_at FROM sources"
        " ORDER BY kind, name"
    ):
        started, finished, ok, report = last.get(sid, (None, None, None, None))
        out.append(
            SourceRow(
                kind, name, location, utc_or_none(created), utc_or_none(synced),
                counts.get(sid, 0), utc_or_none(started), utc_or_none(finished),
                None if ok is None else bool(ok),
                dict(json_value(report) or {}) if report is not None else None,
            )
        )  # fmt: skip
    return out


def wisdom_links(db: Reader) -> dict[str, str]:
    """Wisdom entry external id -> a web link to its source: the document's own link, else the
    file (at its line) at the repository's HEAD on its forge. Entries with neither are left out.
    """
    from kb.contract.weblinks import file_url

    rows = db.rows(
        "SELECT w.external_id, d.url, r.web_url, r.forge, r.head_commit, w.path_glob, w.line"
        " FROM wisdom_entries w LEFT OUTER JOIN documents d ON d.id = w.document_id"
        " LEFT OUTER JOIN repos r ON r.id = w.repo_id"
    )
    out: dict[str, str] = {}
    for ext, url, web, forge, head, path, line in rows:
        if url:
            out[ext] = url
        elif web and head and path and not set(path) & set("*?["):
            out[ext] = file_url(web, forge or "github", head, path.rstrip("/"), line)
    return out


@dataclass(frozen=True, slots=True)
class IncidentRow:
    """An incident with its services and where it is written up."""

    id: int
    external_id: str
    label: str
    title: str
    started_at: datetime | None
    ended_at: datetime | None
    severity: str | None
    root_cause: str | None
    resolution: str | None
    channel: str | None
    services: tuple[str, ...]
    repos: tuple[str, ...]
    postmortem: dict[str, Any] | None  # title, repo, path, url
    threads: tuple[dict[str, Any], ...]  # the Slack documents: title, url


def incident_rows(db: Reader) -> list[IncidentRow]:
    """Every incident, newest first, with its services, postmortem and Slack threads."""
    if not db.exists() or not db.has_table("incidents"):
        return []
    services: dict[int, list[tuple[str, str | None]]] = {}
    for iid, name, repo in db.rows(
        "SELECT i.incident_id, s.name, r.name FROM incident_services i"
        " JOIN services s ON s.id = i.service_id LEFT OUTER JOIN repos r ON r.id = s.repo_id"
        " ORDER BY s.name"
    ):
        services.setdefault(iid, []).append((name, repo))
    rows = db.rows(
        "SELECT i.id, i.external_id, i.title, i.started_at, i.ended_at, i.severity,"
        " i.root_cause, i.resolution, i.channel, i.meta, d.title, d.path, d.url, r.name"
        " FROM incidents i LEFT OUTER JOIN documents d ON d.id = i.postmortem_document_id"
        " LEFT OUTER JOIN repos r ON r.id = d.repo_id"
    )
    thread_ids: set[str] = set()
    metas = {}
    for row in rows:
        meta = dict(json_value(row[9]) or {})
        metas[row[0]] = meta
        thread_ids.update(str(d) for d in meta.get("documents", []) or [])
    threads: dict[str, dict[str, Any]] = {}
    ids = sorted(thread_ids)
    m = db.mark
    for start in range(0, len(ids), 200):
        part = ids[start : start + 200]
        marks = ", ".join([m] * len(part))
        for ext, title, url in db.rows(
            f"SELECT external_id, title, url FROM documents WHERE external_id IN ({marks})", part
        ):
            threads[ext] = {"title": title, "url": url}
    out = []
    for iid, ext, title, started, ended, sev, cause, fix, channel, _, pt, pp, pu, pr in rows:
        meta = metas[iid]
        label = str(meta.get("inc_id") or "")
        if not label and ext.startswith("incident:"):
            label = ext.removeprefix("incident:")
        if not label:  # an alert thread with no incident id: where and when it started
            when = utc_or_none(started)
            label = f"#{channel or 'incident'}" + (f" {when:%Y-%m-%d %H:%M}" if when else "")
        svc = services.get(iid, [])
        repos = {r for _, r in svc if r}
        if pr:
            repos.add(pr)
        if meta.get("repo"):
            repos.add(str(meta["repo"]))
        out.append(
            IncidentRow(
                iid, ext, label, title or label, utc_or_none(started), utc_or_none(ended), sev,
                cause, fix, channel, tuple(n for n, _ in svc), tuple(sorted(repos)),
                {"title": pt, "repo": pr, "path": pp, "url": pu} if pt is not None else None,
                tuple(threads[d] for d in meta.get("documents", []) or [] if d in threads),
            )
        )  # fmt: skip
    out.sort(
        key=lambda r: (r.started_at is None, -(r.started_at.timestamp() if r.started_at else 0))
    )
    return out


@dataclass(frozen=True, slots=True)
class CommitRef:
    """A commit as a link in a list: repo, sha, subject, author, date, web link."""

    repo: str
    sha: str
    subject: str
    author: str
    authored_at: datetime
    is_fix: bool
    is_revert: bool
    url: str | None


def _commit_refs(rows: list[tuple[Any, ...]]) -> list[CommitRef]:
    from kb.contract.weblinks import commit_url

    out = []
    for repo, sha, msg, author, at, fix, revert, web, forge in rows:
        out.append(
            CommitRef(
                repo, sha, (msg or "").split("\n", 1)[0][:200], author or "", utc(at), bool(fix),
                bool(revert), commit_url(web, forge or "github", sha) if web else None,
            )
        )  # fmt: skip
    return out


_COMMIT_REF = (
    "SELECT r.name, c.sha, substr(c.message, 1, 300), c.author_name, c.authored_at, c.is_fix,"
    " c.is_revert, r.web_url, r.forge FROM commits c JOIN repos r ON r.id = c.repo_id"
)


def commits_between(
    db: Reader, repos: Sequence[str], start: datetime, end: datetime, limit: int = 50
) -> list[CommitRef]:
    """Non-merge commits of `repos` authored in [start, end], newest first."""
    if not repos:
        return []
    m = db.mark
    marks = ", ".join([m] * len(repos))
    rows = db.rows(
        f"{_COMMIT_REF} WHERE r.name IN ({marks}) AND c.authored_at >= {m}"
        f" AND c.authored_at <= {m} AND c.is_merge = {m}"
        f" ORDER BY c.authored_at DESC LIMIT {int(limit)}",
        (*repos, _stamp(db, start), _stamp(db, end), False),
    )
    return _commit_refs(rows)


def commits_naming(db: Reader, text: str, limit: int = 50) -> list[CommitRef]:
    """Commits whose message names `text` (an incident id), newest first."""
    m = db.mark
    rows = db.rows(
        f"{_COMMIT_REF} WHERE c.message LIKE {m} ESCAPE '/' ORDER BY c.authored_at DESC"
        f" LIMIT {int(limit)}",
        ("%" + _escape_like(text) + "%",),
    )
    return _commit_refs(rows)


def _stamp(db: Reader, when: datetime) -> Any:
    """A time as the backend compares it: SQLite keeps ISO text in UTC with no offset."""
    if db.dialect == "sqlite":
        return when.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
    return when
