"""Read models of the service map's stored facts: plain rows through the driver, no ORM.

`kb map --json` must answer in a fraction of a second, so like `kb.store.history` every
query goes through `Reader` (sqlite3 or psycopg) and returns tuples; table and column
names are the models' (kb.store.models; tests/test_reader.py runs each query on a database
built from the models alone).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, NamedTuple

from kb.store.decoders import json_value, utc
from kb.store.reader import Reader


def service_rows(db: Reader) -> list[tuple[str, str | None, str, str | None, str | None]]:
    """(name, repo, folder, owner team, owner person's name) of every service (libraries,
    the targets of library edges, are not services)."""
    rows = db.rows(
        "SELECT s.name, r.name, s.path_prefix, s.owner_team, p.display_name FROM services s"
        " LEFT OUTER JOIN repos r ON r.id = s.repo_id"
        " LEFT OUTER JOIN people p ON p.id = s.owner_person_id"
        f" WHERE s.kind = {db.mark} ORDER BY s.name",
        ("service",),
    )
    return [(n, r, (p or "").rstrip("/"), t, o) for n, r, p, t, o in rows]


def dependency_rows(db: Reader) -> list[tuple[Any, ...]]:
    """(from, to, kind, detail, evidence repo, path, line, contract path) of every stored
    edge, in a stable order."""
    return db.rows(
        "SELECT a.name, b.name, d.kind, d.detail, d.evidence_repo, d.evidence_path,"
        " d.evidence_line, d.contract_path FROM service_dependencies d"
        " JOIN services a ON a.id = d.from_service_id JOIN services b ON b.id = d.to_service_id"
        " ORDER BY a.name, b.name, d.kind, d.detail, d.id"
    )


def event_rows(db: Reader) -> list[tuple[Any, ...]]:
    """(service, topic, role, evidence repo, path, line, contract path) of every topic use."""
    return db.rows(
        "SELECT s.name, e.topic, e.role, e.evidence_repo, e.evidence_path, e.evidence_line,"
        " e.contract_path FROM service_events e JOIN services s ON s.id = e.service_id"
        " ORDER BY e.topic, s.name, e.role"
    )


def owner_rule_rows(db: Reader) -> list[tuple[str, str, str, int | None]]:
    """(repo, pattern, owner, line) of every CODEOWNERS rule, in file order per repo."""
    rows = db.rows(
        "SELECT r.name, c.pattern, c.owner, c.line FROM code_owners c"
        " JOIN repos r ON r.id = c.repo_id ORDER BY r.name, c.line, c.id"
    )
    return [(r, p, o, ln) for r, p, o, ln in rows]


class ChangeCommit(NamedTuple):
    """A non-merge commit as co-change analysis reads it."""

    id: int
    repo: str
    sha: str
    author: str  # the person id when the author is known, else the e-mail
    author_name: str
    authored_at: datetime
    tickets: tuple[str, ...]
    subject: str


def change_commits(db: Reader) -> list[ChangeCommit]:
    """Every non-merge commit of every repository, oldest first."""
    rows = db.rows(
        "SELECT c.id, r.name, c.sha, c.author_person_id, c.author_email, c.author_name,"
        " c.authored_at, c.tickets, substr(c.message, 1, 200) FROM commits c"
        f" JOIN repos r ON r.id = c.repo_id WHERE c.is_merge = {db.mark}"
        " ORDER BY c.authored_at, c.id",
        (False,),
    )
    return [
        ChangeCommit(
            cid, repo, sha, f"p{pid}" if pid is not None else (email or "").lower(), name or "",
            utc(at), tuple((tickets or "").split()), (msg or "").split("\n", 1)[0],
        )
        for cid, repo, sha, pid, email, name, at, tickets, msg in rows
    ]  # fmt: skip


def changed_paths(db: Reader, repo: str) -> list[tuple[int, str]]:
    """(commit id, path) of every file change of one repository's commits."""
    return db.rows(
        "SELECT commit_id, path FROM file_changes"
        f" WHERE commit_id IN (SELECT c.id FROM commits c JOIN repos r ON r.id = c.repo_id"
        f" WHERE r.name = {db.mark})",
        (repo,),
    )


def commits_touching(db: Reader, repo: str, path: str) -> list[int]:
    """Ids of the commits of `repo` that changed `path` (a file, or anything under a folder)."""
    m = db.mark
    if not path.strip("/"):
        return [cid for (cid,) in db.rows(
            f"SELECT c.id FROM commits c JOIN repos r ON r.id = c.repo_id WHERE r.name = {m}",
            (repo,),
        )]  # fmt: skip
    like = path.rstrip("/").replace("/", "//").replace("%", "/%").replace("_", "/_") + "//%"
    rows = db.rows(
        "SELECT DISTINCT fc.commit_id FROM file_changes fc JOIN commits c ON c.id = fc.commit_id"
        f" JOIN repos r ON r.id = c.repo_id WHERE r.name = {m}"
        f" AND (fc.path = {m} OR fc.path LIKE {m} ESCAPE '/')",
        (repo, path.rstrip("/"), like),
    )
    return [cid for (cid,) in rows]


def commit_files(db: Reader, ids: list[int]) -> list[tuple[int, str, str]]:
    """(commit id, repo, path) of every file the given commits changed."""
    out: list[tuple[int, str, str]] = []
    for start in range(0, len(ids), 500):
        part = ids[start : start + 500]
        marks = ", ".join([db.mark] * len(part))
        out += db.rows(
            "SELECT fc.commit_id, r.name, fc.path FROM file_changes fc"
            " JOIN commits c ON c.id = fc.commit_id JOIN repos r ON r.id = c.repo_id"
            f" WHERE fc.commit_id IN ({marks}) ORDER BY fc.id",
            part,
        )
    return out


class ContractDoc(NamedTuple):
    """A stored contract (OpenAPI or AsyncAPI): where it is, whose, and what it lists."""

    repo: str | None
    path: str | None
    service: str | None
    spec: str  # openapi | asyncapi
    title: str
    meta: dict[str, Any]


def contract_docs(db: Reader) -> list[ContractDoc]:
    """Every stored contract document."""
    rows = db.rows(
        "SELECT r.name, d.path, s.name, d.title, d.meta FROM documents d"
        " LEFT OUTER JOIN repos r ON r.id = d.repo_id"
        " LEFT OUTER JOIN services s ON s.id = d.service_id"
        f" WHERE d.kind = {db.mark} ORDER BY r.name, d.path",
        ("contract",),
    )
    out = []
    for repo, path, service, title, meta in rows:
        data = dict(json_value(meta) or {})
        out.append(ContractDoc(repo, path, service, str(data.get("spec") or ""), title, data))
    return out


def repo_checkouts(db: Reader) -> dict[str, tuple[str, str | None]]:
    """repo name -> (where it was ingested from, the commit ingested)."""
    return {
        name: (location, head)
        for name, location, head in db.rows("SELECT name, location, head_commit FROM repos")
    }


def repo_web_links(db: Reader) -> dict[str, tuple[str, str, str]]:
    """repo name -> (web URL, forge, commit ingested), for repositories kb can link to."""
    return {
        name: (web_url, forge or "github", head)
        for name, web_url, forge, head in db.rows(
            "SELECT name, web_url, forge, head_commit FROM repos"
            " WHERE web_url IS NOT NULL AND head_commit IS NOT NULL"
        )
    }


def alias_rows(db: Reader) -> list[tuple[str, str]]:
    """(service, alias) of every other spelling of a service, in the order found."""
    return db.rows(
        "SELECT s.name, a.alias FROM service_aliases a JOIN services s ON s.id = a.service_id"
        " ORDER BY s.name, a.position, a.id"
    )


def infrastructure_rows(db: Reader) -> list[tuple[str, str]]:
    """(name, kind) of every piece of infrastructure, once per name."""
    rows = db.rows("SELECT name, kind FROM infrastructure ORDER BY name, id")
    seen: dict[str, str] = {}
    for name, kind in rows:
        seen.setdefault(name, kind)
    return list(seen.items())


def evidence_rows(db: Reader) -> list[tuple[Any, ...]]:
    """(from, to, kind, detail, repo, path, line) of every place that shows a stored edge,
    in the order stored (an edge without such rows has only its own evidence columns)."""
    return db.rows(
        "SELECT a.name, b.name, d.kind, d.detail, e.repo, e.path, e.line"
        " FROM dependency_evidence e JOIN service_dependencies d ON d.id = e.dependency_id"
        " JOIN services a ON a.id = d.from_service_id JOIN services b ON b.id = d.to_service_id"
        " ORDER BY d.id, e.position"
    )
