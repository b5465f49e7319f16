"""Who knows this now: people behind a path, a service or a topic, with the evidence.

A person's claim on an area rests on three kinds of evidence, in this order of weight:
authorship (files of the area whose degree of authorship makes them an author), recent
changes (commits to the area in the last `RECENT_DAYS`), and the Slack threads about it
they took part in. People who left (by `left_at` or inactivity) are listed apart, flagged:
they are who knew it, not who to ask.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from kb.analysis.busfactor import BusFactorReport, BusFactorService
from kb.contract.identity import normalise_name
from kb.errors import NotFoundError
from kb.store import history as sh
from kb.store.reader import Reader

if TYPE_CHECKING:
    from kb.store.search import SourceRef

RECENT_DAYS = 180
TOPIC_HITS = 10
_AUTHORSHIP, _RECENCY, _THREADS = 1.0, 0.6, 0.3


@dataclass
class Expert:
    """One person's claim on an area."""

    name: str
    departed: bool
    last_activity: datetime | None
    score: float = 0.0
    files_authored: int = 0
    commits: int = 0
    recent_commits: int = 0
    last_change: datetime | None = None
    threads: int = 0
    evidence: dict[str, list[str]] = field(
        default_factory=lambda: {"files": [], "commits": [], "threads": []}
    )

    def reason(self) -> str:
        """One line a person reads: why this one."""
        parts = []
        if self.files_authored:
            parts.append(f"authors {self.files_authored} file{'s' * (self.files_authored > 1)}")
        if self.commits:
            since = f", last {self.last_change.date().isoformat()}" if self.last_change else ""
            parts.append(f"{self.commits} commit{'s' * (self.commits > 1)}{since}")
        if self.threads:
            parts.append(f"in {self.threads} Slack thread{'s' * (self.threads > 1)}")
        return "; ".join(parts) or "mentioned"

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "departed": self.departed,
            "last_activity": self.last_activity.date().isoformat() if self.last_activity else None,
            "score": round(self.score, 3),
            "files_authored": self.files_authored,
            "commits": self.commits,
            "recent_commits": self.recent_commits,
            "last_change": self.last_change.date().isoformat() if self.last_change else None,
            "threads": self.threads,
            "reason": self.reason(),
            "evidence": self.evidence,
        }


@dataclass
class Experts:
    """The answer to `kb who`: the area understood, then people, current ones first."""

    query: str
    kind: str  # service | repo | path | topic
    scope: list[str]  # "repo:path-prefix" areas looked at
    files: int
    people: list[Expert]

    @property
    def current(self) -> list[Expert]:
        return [p for p in self.people if not p.departed]

    @property
    def departed(self) -> list[Expert]:
        return [p for p in self.people if p.departed]

    def to_markdown(self) -> str:
        """Who knows the area, with their evidence; who knew it but left, apart."""
        lines = [f"# Who knows {self.query}", "", f"{self.kind}: {', '.join(self.scope[:5])}", ""]
        if not self.people:
            lines.append("No one kb knows of.")
        for e in self.current:
            lines.append(f"- **{e.name}**: {e.reason()}")
            evidence = e.evidence
            for line in (
                *evidence["files"][:3],
                *evidence["commits"][:2],
                *evidence["threads"][:2],
            ):
                lines.append(f"  - {line}")
        if self.departed:
            lines += ["", "Knew it, but left:"]
            for e in self.departed:
                seen = e.last_activity.date().isoformat() if e.last_activity else "?"
                lines.append(f"- {e.name} (last seen {seen}): {e.reason()}")
        return "\n".join(lines) + "\n"

    def to_json(self) -> dict[str, Any]:
        return {
            "query": self.query,
            "kind": self.kind,
            "scope": self.scope,
            "files": self.files,
            "people": [p.to_json() for p in self.current],
            "departed": [p.to_json() for p in self.departed],
        }


@dataclass(frozen=True)
class Area:
    """A part of a repository: a file, a directory or (prefix "") all of it."""

    repo: str
    prefix: str  # "" = the whole repo; a file path or a directory
    weight: float = 1.0

    def holds(self, path: str) -> bool:
        return not self.prefix or path == self.prefix or path.startswith(self.prefix + "/")


class ExpertService:
    """`who(query)` over the bus-factor facts, history and (for topics) retrieval."""

    def __init__(
        self,
        reader: Reader,
        busfactor: BusFactorService,
        search: Callable[[str, int], Sequence[SourceRef]] | None = None,
    ) -> None:
        self.reader = reader
        self.busfactor = busfactor
        self.search = search

    def who(self, query: str, limit: int = 5) -> Experts:
        """People who know `query` (a path, `repo:path`, a service, a repo or a topic) now."""
        query = query.strip()
        if not query:
            raise NotFoundError("ask about a path, a service or a topic")
        kind, areas, threads = self._areas(query)
        return self.for_areas(query, kind, areas, threads, limit)

    def for_areas(
        self,
        query: str,
        kind: str,
        areas: Sequence[Area],
        threads: Sequence[SourceRef] = (),
        limit: int = 5,
    ) -> Experts:
        repos = sorted({a.repo for a in areas})
        report = self.busfactor.report(repos=repos) if repos else None
        experts: dict[str, Expert] = {}
        files = 0
        if report is not None:
            files = self._from_history(report, areas, experts)
        if threads:
            self._from_threads(threads, report, experts)
        ranked = sorted(experts.values(), key=lambda e: (-e.score, e.name))
        current = [e for e in ranked if not e.departed][:limit]
        gone = [e for e in ranked if e.departed][: max(2, limit // 2)]
        scope = [f"{a.repo}:{a.prefix}" if a.prefix else a.repo for a in areas]
        return Experts(query, kind, scope, files, current + gone)

    # -- what the query names -----------------------------------------------------------------

    def _areas(self, query: str) -> tuple[str, list[Area], list[SourceRef]]:
        folded = query.casefold()
        for svc in sh.services(self.reader):
            if svc.name.casefold() == folded and svc.repo:
                return "service", [Area(svc.repo, svc.path_prefix.strip("/"))], []
        repos = sh.repo_names(self.reader)
        for name in repos:
            if name.casefold() == folded:
                return "repo", [Area(name, "")], []
        repo_part, sep, path_part = query.partition(":")
        if sep and repo_part in repos:
            return "path", [Area(repo_part, path_part.strip("/"))], []
        if not any(c.isspace() for c in query):  # a file or directory of some repo?
            matches = sh.repos_with_path(self.reader, query.strip("/"))
            if matches:
                return "path", [Area(r, p) for r, p in matches], []
        if self.search is None:
            raise NotFoundError(f"{query!r} is no service, repository or path kb knows")
        hits = list(self.search(query, TOPIC_HITS))
        areas: list[Area] = []
        threads: list[SourceRef] = []
        for rank, hit in enumerate(hits):
            weight = 1.0 / (1 + rank)
            if hit.kind == "slack":
                threads.append(hit)
            elif hit.kind == "commit" and hit.repo and hit.commit:
                for path in sh.commit_paths(self.reader, hit.repo, hit.commit):
                    areas.append(Area(hit.repo, path, weight))
            elif hit.repo and hit.path:
                areas.append(Area(hit.repo, hit.path, weight))
        if not areas and not threads:
            raise NotFoundError(f"nothing in kb is about {query!r}")
        return "topic", areas, threads

    # -- evidence -------------------------------------------------------------------------------

    def _from_history(
        self, report: BusFactorReport, areas: Sequence[Area], experts: dict[str, Expert]
    ) -> int:
        horizon = (report.as_of or datetime.max) - timedelta(days=RECENT_DAYS)
        seen_files: set[tuple[str, str]] = set()
        for area in areas:
            facts = report.facts.get(area.repo)
            if facts is None:
                continue
            paths = [p for p in facts.files if area.holds(p)]
            if not paths:
                continue
            for path in paths:
                seen_files.add((area.repo, path))
                for key in facts.authorship.authors(path):
                    e = self._expert(report, key, experts)
                    e.files_authored += 1
                    e.score += _AUTHORSHIP * area.weight / len(paths)
                    if len(e.evidence["files"]) < 5:
                        e.evidence["files"].append(f"{area.repo}:{path}")
            commits = _commits_touching(facts.history, area, facts.credit)
            total = sum(len(keys) for _, keys in commits) or 1
            for commit, keys in commits:
                for key in keys:
                    e = self._expert(report, key, experts)
                    e.commits += 1
                    if e.last_change is None or commit.authored_at > e.last_change:
                        e.last_change = commit.authored_at
                    if commit.authored_at >= horizon:
                        e.recent_commits += 1
                        e.score += _RECENCY * area.weight / total
                    sha = f"{commit.sha[:10]} {commit.subject[:70]}"
                    if sha not in e.evidence["commits"]:
                        e.evidence["commits"].insert(0, sha)
                        del e.evidence["commits"][5:]
        return len(seen_files)

    def _from_threads(
        self,
        threads: Iterable[SourceRef],
        report: BusFactorReport | None,
        experts: dict[str, Expert],
    ) -> None:
        people = sh.people(self.reader)
        by_name = {normalise_name(p.name): p for p in people.values() if not p.is_bot}
        keys = {d.person_id: k for k, d in report.developers.items()} if report else {}
        for rank, hit in enumerate(threads):
            for name in hit.meta.get("participants", []) or []:
                person = by_name.get(normalise_name(str(name)))
                if person is None:
                    continue
                key = keys.get(person.id)
                if report is not None and key is not None:
                    e = self._expert(report, key, experts)
                else:
                    e = experts.setdefault(
                        f"p{person.id}",
                        Expert(
                            person.name, self.busfactor.is_departed(person), person.last_activity_at
                        ),
                    )
                e.threads += 1
                e.score += _THREADS / (1 + rank)
                title = hit.url or hit.title
                if title not in e.evidence["threads"] and len(e.evidence["threads"]) < 3:
                    e.evidence["threads"].append(title)

    @staticmethod
    def _expert(report: BusFactorReport, key: str, experts: dict[str, Expert]) -> Expert:
        e = experts.get(key)
        if e is None:
            dev = report.developers[key]
            e = experts[key] = Expert(dev.name, dev.departed, dev.last_activity)
        return e


def _commits_touching(
    history: sh.RepoHistory, area: Area, credit: dict[int, tuple[str, ...]]
) -> list[tuple[sh.CommitRow, tuple[str, ...]]]:
    """Commits (newest first) that changed a path of the area, with who is credited."""
    ids = {ch.commit_id for ch in history.changes if area.holds(ch.path)}
    rows = [(history.commits[i], credit.get(i, ())) for i in ids if i in history.commits]
    rows.sort(key=lambda r: r[0].authored_at, reverse=True)
    return [(c, keys) for c, keys in rows if keys]
