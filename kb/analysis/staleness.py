"""Staleness: which wisdom entries need re-verifying, and why.

An active entry is flagged when

- **its files changed substantially after it was recorded** (since `last_verified_at`, else
  `created_at`): its `path_glob` matches stored paths of its repo (a glob may match several;
  a plain path matches itself) and, after that time, one of them was deleted or renamed
  away, or they were changed by at least `min_commits` (default 3) non-merge commits.
  Git history stores no line counts, so "rewritten" is measured in commits, not lines;
- **the person behind it has departed**: its teller (`said_by`) or the author of its source
  document (for an ADR, postmortem or doc that names none: who added the file) left
  (known departure) or has had no activity for `departed_after_days` before the newest
  activity in kb (the bus factor's rule). Bots are not people here.

Hotspot danger zones (`hotspot:…`) are recomputed from history at every ingest, so they
are never stale by their files.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from kb.analysis.departure import has_departed
from kb.contract.kinds import ChangeType, WisdomKind
from kb.contract.markdown import table
from kb.store import history as sh
from kb.store import risk as sr
from kb.store.reader import Reader
from kb.store.store import Store

STALE_AFTER_COMMITS = 3
# Documents whose author is whoever wrote the file (when the document names no author).
_AUTHORED = frozenset({"adr", "postmortem", "doc"})
_GLOB_CHARS = frozenset("*?[")


@dataclass
class StaleReason:
    """One reason to re-verify an entry, with its evidence."""

    kind: str  # changed | renamed | deleted | departed
    detail: str
    evidence: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "detail": self.detail, "evidence": self.evidence}


@dataclass
class StaleEntry:
    """A wisdom entry flagged for re-verification."""

    entry: sr.WisdomRow
    since: datetime | None
    reasons: list[StaleReason]

    def to_json(self) -> dict[str, Any]:
        out = wisdom_json(self.entry)
        out["stale_since"] = self.since.isoformat() if self.since else None
        out["reasons"] = [r.to_json() for r in self.reasons]
        return out


def wisdom_json(row: sr.WisdomRow) -> dict[str, Any]:
    """A wisdom entry as `kb wisdom --json` prints it."""
    return {
        "id": row.external_id,
        "kind": row.kind,
        "title": row.title,
        "body": row.body,
        "severity": row.severity,
        "status": row.status,
        "origin": row.origin,
        "service": row.service,
        "repo": row.repo,
        "path": row.path_glob,
        "line": row.line,
        "said_by": row.said_by,
        "source": row.document_external_id,
        "source_author": row.document_author,
        "created_at": row.created_at.isoformat() if row.created_at else None,
        "last_verified_at": row.last_verified_at.isoformat() if row.last_verified_at else None,
    }


@dataclass
class WisdomList:
    """What `kb wisdom` lists: active entries, optionally of one service and kind."""

    entries: list[sr.WisdomRow]

    def __iter__(self) -> Iterator[sr.WisdomRow]:
        return iter(self.entries)

    def __len__(self) -> int:
        return len(self.entries)

    def to_json(self) -> dict[str, Any]:
        """The stable `kb wisdom --json` object."""
        return {"entries": [wisdom_json(r) for r in self.entries]}

    def to_markdown(self) -> str:
        """The entries as a table."""
        if not self.entries:
            return "No wisdom entries match."
        rows = [
            [
                r.kind,
                r.severity,
                ":".join(x for x in (r.repo, r.path_glob) if x) or r.service or "",
                r.title.splitlines()[0][:70] if r.title else "",
                r.said_by or r.origin,
            ]
            for r in self.entries
        ]
        return "\n".join(table(["kind", "severity", "where", "title", "said by"], rows))


@dataclass
class StaleWisdom:
    """What `kb wisdom --stale` lists: entries to re-verify, each with its reasons."""

    entries: list[StaleEntry]

    def __iter__(self) -> Iterator[StaleEntry]:
        return iter(self.entries)

    def __len__(self) -> int:
        return len(self.entries)

    def to_json(self) -> dict[str, Any]:
        """The stable `kb wisdom --stale --json` object."""
        return {"entries": [e.to_json() for e in self.entries]}

    def to_markdown(self) -> str:
        """Each entry with why it needs re-verifying."""
        if not self.entries:
            return "Nothing to re-verify."
        lines = [f"# {len(self.entries)} wisdom entries to re-verify", ""]
        for e in self.entries:
            where = e.entry.path_glob or e.entry.service or e.entry.repo or ""
            lines.append(f"## {e.entry.title} ({e.entry.kind}, {where})")
            lines.append(f"`{e.entry.external_id}`")
            lines.extend(f"- {r.detail}" for r in e.reasons)
            lines.append("")
        return "\n".join(lines)


@dataclass
class WisdomTable:
    """Every active entry with its stale flag, reasons and a link to its source: the table a
    reader filters by service, kind, severity, origin and staleness."""

    entries: list[sr.WisdomRow]
    stale: dict[str, StaleEntry]
    links: dict[str, str]

    def rows(self) -> list[dict[str, Any]]:
        """One flat row per entry (`kb wisdom --json`'s fields, plus stale, reasons, url)."""
        out = []
        for row in self.entries:
            item = wisdom_json(row)
            flagged = self.stale.get(row.external_id)
            item["stale"] = flagged is not None
            item["reasons"] = [r.detail for r in flagged.reasons] if flagged else []
            item["url"] = self.links.get(row.external_id)
            out.append(item)
        return out

    def to_json(self) -> dict[str, Any]:
        """{"entries": [...]} with `stale`, `reasons` and `url` on each entry."""
        return {"entries": self.rows()}

    def to_markdown(self) -> str:
        """The entries as a table, stale ones marked."""
        if not self.entries:
            return "No wisdom entries yet: ingest a repository (`kb ingest git PATH`)."
        rows = [
            [
                r["kind"], r["severity"], r["service"] or "—",
                ":".join(str(x) for x in (r["repo"], r["path"], r["line"]) if x) or "—",
                (r["title"] or "").splitlines()[0][:70] if r["title"] else "",
                "stale" if r["stale"] else "",
            ]
            for r in self.rows()
        ]  # fmt: skip
        head = ["kind", "severity", "service", "where", "title", ""]
        return "\n".join(table(head, rows)) + "\n"


def matches(glob: str, path: str) -> bool:
    """Whether a stored path is covered by an entry's path glob (a plain path: itself)."""
    glob = glob.strip().lstrip("/")
    if not _GLOB_CHARS.intersection(glob):
        # "src/legacy/" anchors a directory: every file under it.
        return path == glob or (glob.endswith("/") and path.startswith(glob))
    return fnmatch.fnmatchcase(path, glob)


class StalenessService:
    """Lists wisdom entries and flags those that need re-verification."""

    def __init__(
        self,
        store: Store,
        reader: Reader,
        departed_after_days: int = 270,
        min_commits: int = STALE_AFTER_COMMITS,
    ) -> None:
        self.store = store
        self.reader = reader
        self.departed_after_days = departed_after_days
        self.min_commits = min_commits

    def entries(self, service: str | None = None, kind: WisdomKind | None = None) -> WisdomList:
        """Active wisdom entries, optionally of one service (or repo) and kind."""
        return WisdomList(
            sr.wisdom_rows(self.store, service=service, kinds=(kind,) if kind else ())
        )

    def table(self, service: str | None = None, kind: WisdomKind | None = None) -> WisdomTable:
        """Every active entry with its stale flag, the reasons and a link to its source."""
        entries = self.entries(service, kind).entries
        stale = {e.entry.external_id: e for e in self.stale(service, kind)}
        return WisdomTable(entries, stale, sh.wisdom_links(self.reader))

    def stale(self, service: str | None = None, kind: WisdomKind | None = None) -> StaleWisdom:
        """The entries flagged for re-verification, with their reasons, oldest first."""
        rows = self.entries(service, kind).entries
        people = sh.people(self.reader)
        as_of = sh.latest_activity(self.reader)
        histories: dict[str, sh.RepoHistory | None] = {}
        out = []
        for row in rows:
            since = row.last_verified_at or row.created_at
            reasons: list[StaleReason] = []
            hist = None
            if row.repo and row.path_glob and since is not None:
                if row.repo not in histories:
                    histories[row.repo] = sh.repo_history(self.reader, row.repo)
                hist = histories[row.repo]
            # Hotspot danger zones are recomputed from history at every ingest.
            recomputed = row.external_id.startswith(sr.HOTSPOT_PREFIX)
            if hist is not None and since is not None and row.path_glob and not recomputed:
                reasons.extend(self._file_reasons(row.path_glob, since, hist))
            source_author = row.document_author_person_id
            if source_author is None and hist is not None and row.document_kind in _AUTHORED:
                source_author = _added_by(hist, row.path_glob or "")
            seen: set[int] = set()
            tellers = (("teller", row.said_by_person_id), ("author of its source", source_author))
            for role, pid in tellers:
                if pid is None or pid in seen:
                    continue
                seen.add(pid)
                reason = self._departed(people.get(pid), role, as_of)
                if reason is not None:
                    reasons.append(reason)
            if reasons:
                out.append(StaleEntry(row, since, reasons))
        return StaleWisdom(out)

    def _departed(
        self, person: sh.PersonRow | None, role: str, as_of: datetime | None
    ) -> StaleReason | None:
        """Why a person counts as departed (None if they don't or we can't tell)."""
        if person is None or person.is_bot:
            return None
        if not has_departed(
            person.left_at, person.last_activity_at, as_of, self.departed_after_days
        ):
            return None
        if person.left_at is not None:
            day = person.left_at.date().isoformat()
            return StaleReason(
                "departed",
                f"{person.name} ({role}) left on {day}",
                {"person": person.name, "role": role, "left_at": day},
            )
        assert person.last_activity_at is not None
        day = person.last_activity_at.date().isoformat()
        return StaleReason(
            "departed",
            f"{person.name} ({role}) has been inactive since {day}",
            {"person": person.name, "role": role, "last_activity": day},
        )

    def _file_reasons(self, glob: str, since: datetime, hist: sh.RepoHistory) -> list[StaleReason]:
        known = set(hist.files)
        for ch in hist.changes:
            known.add(ch.path)
            if ch.old_path:
                known.add(ch.old_path)
        anchored = {p for p in known if matches(glob, p)}
        if not anchored:
            return []
        touched: dict[int, list[str]] = {}
        renamed: dict[str, str] = {}
        deleted: list[str] = []
        for ch in hist.changes:
            commit = hist.commits[ch.commit_id]
            if commit.is_merge or commit.authored_at <= since:
                continue
            if ch.path in anchored or (ch.old_path in anchored):
                touched.setdefault(ch.commit_id, []).append(ch.old_path or ch.path)
            if ch.kind is ChangeType.DELETE and ch.path in anchored:
                deleted.append(ch.path)
            elif (
                ch.kind is ChangeType.RENAME and ch.old_path in anchored and ch.path not in anchored
            ):
                renamed[ch.old_path] = ch.path
        commits = [
            {
                "sha": hist.commits[cid].sha[:10],
                "subject": hist.commits[cid].subject[:120],
                "date": hist.commits[cid].authored_at.date().isoformat(),
                "author": hist.commits[cid].author_name,
                "paths": sorted(set(paths)),
            }
            for cid, paths in sorted(
                touched.items(), key=lambda kv: hist.commits[kv[0]].authored_at
            )
        ]
        reasons = []
        day = since.date().isoformat()
        for path in sorted(set(deleted)):
            reasons.append(
                StaleReason(
                    "deleted", f"{path} was deleted after {day}", {"path": path, "commits": commits}
                )
            )
        for old, new in sorted(renamed.items()):
            reasons.append(
                StaleReason(
                    "renamed",
                    f"{old} was renamed to {new} after {day}",
                    {"path": old, "renamed_to": new, "commits": commits},
                )
            )
        if not reasons and len(commits) >= self.min_commits:
            last = commits[-1]
            reasons.append(
                StaleReason(
                    "changed",
                    f"{glob} changed in {len(commits)} commits since {day} "
                    f"(last {last['sha'][:7]} {last['date']}: {last['subject']})",
                    {"commits": commits, "paths": sorted(anchored)},
                )
            )
        return reasons


def _added_by(hist: sh.RepoHistory, path: str) -> int | None:
    """The person who added a file (an ADR's or a postmortem's author, when it names none)."""
    for ch in hist.changes:
        if ch.path == path and ch.kind is ChangeType.ADD:
            return hist.commits[ch.commit_id].person_id
    return None
