"""Hotspots: the files that change often, break often, few people still know, and incidents name.

Each file analysed by the bus factor (at HEAD, with history, not vendored/generated/lock/
binary, not bots-only) gets an explainable score, a product of four factors::

    score = churn × trouble × knowledge × incidents
    churn     = log2(1 + commits that changed the file, renames followed, merges left out)
    trouble   = 1 + fixes + 2 × reverts        (commits flagged fix / revert at ingest)
    knowledge = 2 when no author of the file is still here, 1.5 when one is, else 1
    incidents = 1 + incidents linked to the file

A file is linked to an incident when the incident's title, root cause, resolution,
postmortem or Slack threads name its path (or its basename, when that basename is
distinctive and unique in a repo the incident touched), or when a commit changing the file
carries a ticket that those texts name, in a repo the incident touched (or carries the
incident's own INC id, in any repo).

The top files of each repo (5, above score 8) become `danger_zone` wisdom entries of origin
`extracted` (`hotspot:{repo}:{path}`), refreshed after every ingest run; only code that
broke (a fix, a revert or an incident) qualifies: not tests, not prose docs.
"""

from __future__ import annotations

import contextlib
import math
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import PurePosixPath
from typing import Any

from kb.analysis.authorship import Change, file_histories
from kb.analysis.busfactor import BusFactorReport, BusFactorService
from kb.contract.connector import SourceConfig
from kb.contract.kinds import Severity, SourceKind, WisdomKind, WisdomOrigin
from kb.contract.markdown import table
from kb.contract.records import WisdomRecord
from kb.errors import NotFoundError
from kb.store import history as sh
from kb.store import risk as sr
from kb.store.store import Store

DANGER_ZONES_PER_REPO = 5
MIN_DANGER_SCORE = 8.0
# Score thresholds of the danger zones' severity (a file with 4 fixes, one person left who
# knows it and one incident scores ~log2(21)·5·1.5·2 ≈ 66).
SEVERITY_AT = ((60.0, Severity.CRITICAL), (25.0, Severity.HIGH), (12.0, Severity.MEDIUM))
REVERT_WEIGHT = 2
EXAMPLE_COMMITS = 5

# Tests and prose churn with the code they follow; a danger zone is code one can break.
_NOT_DANGER = re.compile(
    r"(?:^|/)(?:tests?|spec|__tests__|testdata)/|(?:^|/)test_[^/]*$|_test\.\w+$|\.spec\.\w+$"
    r"|\.(?:md|markdown|mdx|rst|adoc)$",
    re.I,
)
_PATHLIKE = re.compile(r"[\w.\-/]*[\w\-]\.[A-Za-z0-9]{1,10}\b")
_TICKET = re.compile(r"\b[A-Z][A-Z0-9]{1,14}-\d+(?:-\d+)?\b")
# Basenames too common to say which file a text means.
_GENERIC_NAMES = frozenset(
    {
        "__init__.py", "__main__.py", "main.py", "main.go", "main.rs", "lib.rs", "mod.rs",
        "index.js", "index.ts", "index.tsx", "app.py", "setup.py", "conftest.py", "config.py",
        "settings.py", "utils.py", "util.py", "helpers.py", "models.py", "views.py", "urls.py",
        "types.py", "constants.py", "readme.md", "changelog.md", "makefile", "dockerfile",
        "package.json", "pyproject.toml", "go.mod", "cargo.toml",
    }
)  # fmt: skip


@dataclass(frozen=True)
class CommitRef:
    """A commit shown as evidence: short sha, subject, date."""

    sha: str
    subject: str
    date: str

    def to_json(self) -> dict[str, str]:
        return {"sha": self.sha, "subject": self.subject, "date": self.date}


@dataclass
class IncidentLink:
    """An incident that names a file, and how (mentioned, or through a commit's ticket)."""

    id: str
    title: str
    how: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "title": self.title, "how": self.how}


@dataclass
class Hotspot:
    """One file, its score and the evidence behind every factor of it."""

    repo: str
    path: str
    service: str | None
    changes: int
    fixes: list[CommitRef]
    reverts: list[CommitRef]
    last_change: datetime | None
    authors: list[str]  # names of the file's authors (degree of authorship)
    authors_here: list[str]  # of them, those not departed
    incidents: list[IncidentLink]
    score: float = 0.0
    factors: dict[str, float] = field(default_factory=dict)

    @property
    def severity(self) -> Severity:
        """The danger zone's severity, from the score."""
        for threshold, severity in SEVERITY_AT:
            if self.score >= threshold:
                return severity
        return Severity.LOW

    @property
    def troubled(self) -> bool:
        """Broke at least once: a fix, a revert or an incident."""
        return bool(self.fixes or self.reverts or self.incidents)

    @property
    def may_be_danger_zone(self) -> bool:
        """Code (not a test, not prose) that broke at least once."""
        return self.troubled and not _NOT_DANGER.search(self.path)

    def knowledge_phrase(self) -> str:
        """Who still knows the file, in words."""
        gone = [a for a in self.authors if a not in self.authors_here]
        if not self.authors_here:
            if gone:
                return f"no one still here knows it (authored by {_names(gone)}, departed)"
            return "no one clearly authors it"
        if len(self.authors_here) == 1:
            return f"only {self.authors_here[0]} still knows it"
        return f"known by {_names(self.authors_here)}"

    def summary(self) -> str:
        """The 3 AM sentence: what happened to this file and who can help."""
        parts = [f"changed {_times(self.changes)}"]
        trouble = []
        if self.fixes:
            trouble.append(f"{len(self.fixes)} fix{'es' if len(self.fixes) != 1 else ''}")
        if self.reverts:
            trouble.append(f"{len(self.reverts)} revert{'s' if len(self.reverts) != 1 else ''}")
        if trouble:
            parts[0] += ", " + " and ".join(trouble)
        if self.last_change is not None:
            parts[0] += f", last {self.last_change.date().isoformat()}"
        parts.append(self.knowledge_phrase())
        named = [i.id for i in self.incidents if "mentioned" in i.how]
        if named:
            parts.append("mentioned in " + ", ".join(named))
        for inc in self.incidents:
            if "mentioned" not in inc.how:
                tickets = ", ".join(h.removeprefix("changed under ") for h in inc.how)
                parts.append(f"changed for {inc.id} ({tickets})")
        return "; ".join(parts)

    def body(self) -> str:
        """The danger zone's text: the summary, then the commits and incidents behind it."""
        lines = [self.summary()[:1].upper() + self.summary()[1:] + "."]
        examples = (self.reverts + self.fixes)[:EXAMPLE_COMMITS]
        if examples:
            lines.append(
                "Recent fixes/reverts: "
                + "; ".join(f"{c.sha} {c.subject} ({c.date})" for c in examples)
                + "."
            )
        for inc in self.incidents:
            lines.append(f"{inc.id}: {inc.title} ({', '.join(inc.how)}).")
        lines.append(
            f"Hotspot score {self.score:g} = churn {self.factors['churn']:g} × trouble "
            f"{self.factors['trouble']:g} × knowledge {self.factors['knowledge']:g} × "
            f"incidents {self.factors['incidents']:g}."
        )
        return "\n".join(lines)

    def to_json(self) -> dict[str, Any]:
        return {
            "repo": self.repo,
            "path": self.path,
            "service": self.service,
            "score": self.score,
            "severity": self.severity.value,
            "factors": self.factors,
            "changes": self.changes,
            "fixes": len(self.fixes),
            "reverts": len(self.reverts),
            "last_change": self.last_change.isoformat() if self.last_change else None,
            "authors": self.authors,
            "authors_here": self.authors_here,
            "incidents": [i.to_json() for i in self.incidents],
            "fix_commits": [c.to_json() for c in self.fixes],
            "revert_commits": [c.to_json() for c in self.reverts],
            "summary": self.summary(),
        }

    def danger_zone(self) -> WisdomRecord:
        """The extracted danger-zone wisdom entry this hotspot stands for."""
        evidence = self.to_json()
        evidence["fix_commits"] = evidence["fix_commits"][:20]
        evidence["revert_commits"] = evidence["revert_commits"][:20]
        return WisdomRecord(
            external_id=sr.hotspot_id(self.repo, self.path),
            kind=WisdomKind.DANGER_ZONE,
            title=f"Hotspot: {self.path} breaks often",
            body=self.body(),
            origin=WisdomOrigin.EXTRACTED,
            service=self.service,
            repo=self.repo,
            path_glob=self.path,
            severity=self.severity,
            meta={"hotspot": evidence},
        )


@dataclass
class HotspotReport:
    """What `kb hotspots` shows: files ranked by hotspot score, best first."""

    hotspots: list[Hotspot]

    def __iter__(self) -> Iterator[Hotspot]:
        return iter(self.hotspots)

    def __len__(self) -> int:
        return len(self.hotspots)

    def __getitem__(self, index: int) -> Hotspot:
        return self.hotspots[index]

    def to_json(self) -> dict[str, Any]:
        """The stable `kb hotspots --json` object."""
        return {"hotspots": [h.to_json() for h in self.hotspots]}

    def to_markdown(self) -> str:
        """The ranking as a table, then each file's evidence."""
        if not self.hotspots:
            return "No history in kb yet: run `kb ingest git PATH` first."
        rows = [
            [
                f"{h.score:g}",
                f"`{h.repo}:{h.path}`",
                str(h.changes),
                str(len(h.fixes)),
                str(len(h.reverts)),
                ", ".join(h.authors_here) or "**no one**",
                ", ".join(i.id for i in h.incidents) or "—",
            ]
            for h in self.hotspots
        ]
        header = ["score", "file", "changes", "fixes", "reverts", "still here", "incidents"]
        lines = ["# Hotspots (churn × trouble × knowledge × incidents)", "", *table(header, rows)]
        return "\n".join(lines)


def _names(names: Sequence[str], most: int = 3) -> str:
    shown = ", ".join(names[:most])
    return shown + (f" (+{len(names) - most})" if len(names) > most else "")


def _times(n: int) -> str:
    return "once" if n == 1 else "twice" if n == 2 else f"{n} times"


def score(changes: int, fixes: int, reverts: int, authors_here: int, incidents: int) -> tuple[
    float, dict[str, float]
]:  # fmt: skip
    """The hotspot score and its four factors (see the module docstring)."""
    factors = {
        "churn": round(math.log2(1 + changes), 3),
        "trouble": float(1 + fixes + REVERT_WEIGHT * reverts),
        "knowledge": 2.0 if authors_here == 0 else 1.5 if authors_here == 1 else 1.0,
        "incidents": float(1 + incidents),
    }
    total = 1.0
    for value in factors.values():
        total *= value
    return round(total, 2), factors


class HotspotService:
    """Ranks files by hotspot score and keeps the top ones as extracted danger zones."""

    def __init__(
        self,
        store: Store,
        busfactor: BusFactorService,
        *,
        per_repo: int = DANGER_ZONES_PER_REPO,
        min_score: float = MIN_DANGER_SCORE,
    ) -> None:
        self.store = store
        self.busfactor = busfactor
        self.per_repo = per_repo
        self.min_score = min_score

    def hotspots(self, repo: str | None = None, limit: int | None = 20) -> HotspotReport:
        """Files ranked by hotspot score, best first (all repos, or one)."""
        names = sh.repo_names(self.busfactor.reader)
        if repo is not None and repo not in names:
            raise NotFoundError(f"no repository {repo!r} (known: {', '.join(names) or 'none'})")
        wanted = [repo] if repo is not None else names
        if not wanted:
            return HotspotReport([])
        report = self.busfactor.report(repo=repo, depth=0)
        incidents = sr.incident_texts(self.store)
        services = sh.services(self.busfactor.reader)
        out: list[Hotspot] = []
        for name in wanted:
            out.extend(self._repo_hotspots(name, report, incidents, services))
        out.sort(key=lambda h: (-h.score, h.repo, h.path))
        return HotspotReport(out if limit is None else out[:limit])

    def refresh_danger_zones(self, repo: str | None = None) -> dict[str, int]:
        """Rewrite the hotspot danger zones of one repo (or all): repo -> entries written.

        Idempotent: the previous hotspot entries of the repo are replaced, and a file that
        is no longer a hotspot loses its entry. Other danger zones are left alone.
        """
        spots = self.hotspots(repo=repo, limit=None)
        names = [repo] if repo is not None else sh.repo_names(self.busfactor.reader)
        written: dict[str, int] = {}
        for name in names:
            top = [
                h
                for h in spots
                if h.repo == name and h.may_be_danger_zone and h.score >= self.min_score
            ][: self.per_repo]
            sr.replace_hotspot_wisdom(self.store, name, [h.danger_zone() for h in top])
            written[name] = len(top)
        return written

    def after_ingest(self, source: SourceConfig) -> None:
        """Re-rank the hotspot danger zones after an ingest run: of the repo a git run read,
        else of every repo (a Slack or ADR run may bring incidents that name files)."""
        # NotFoundError: the run failed before its repo was stored.
        with contextlib.suppress(NotFoundError):
            self.refresh_danger_zones(source.name if source.kind == SourceKind.GIT else None)

    def _repo_hotspots(
        self,
        name: str,
        report: BusFactorReport,
        incidents: Sequence[sr.IncidentText],
        services: Sequence[sh.ServiceRow],
    ) -> list[Hotspot]:
        facts = report.facts.get(name)
        if facts is None or not facts.files:
            return []
        hist = facts.history  # loaded once, by the bus-factor report
        commits = hist.commits
        changes = [
            Change(ch.kind, ch.path, ch.old_path, (ch.commit_id,))
            for ch in hist.changes
            if not commits[ch.commit_id].is_merge
        ]
        histories = file_histories(facts.files, changes)
        tickets = sr.commit_tickets(self.store, name)
        links = _incident_links(name, facts.files, histories, tickets, incidents)
        out = []
        for path in facts.files:
            ids = sorted({c.devs[0] for c in histories.get(path, [])}, key=lambda i: (
                commits[i].authored_at, i))  # fmt: skip
            if not ids:
                continue
            rows = [commits[i] for i in ids]
            reverts = [_ref(c) for c in reversed(rows) if c.is_revert]
            fixes = [_ref(c) for c in reversed(rows) if c.is_fix and not c.is_revert]
            keys = facts.authorship.authors(path)
            authors = [report.developers[k].name for k in keys]
            here = [report.developers[k].name for k in keys if not report.developers[k].departed]
            linked = sorted(links.get(path, {}).values(), key=lambda i: i.id)
            spot = Hotspot(
                repo=name,
                path=path,
                service=_service_of(name, path, services),
                changes=len(rows),
                fixes=fixes,
                reverts=reverts,
                last_change=rows[-1].authored_at,
                authors=sorted(authors),
                authors_here=sorted(here),
                incidents=linked,
            )
            spot.score, spot.factors = score(
                spot.changes, len(fixes), len(reverts), len(here), len(linked)
            )
            out.append(spot)
        return out


def _ref(c: sh.CommitRow) -> CommitRef:
    return CommitRef(c.sha[:10], c.subject[:120], c.authored_at.date().isoformat())


def _service_of(repo: str, path: str, services: Iterable[sh.ServiceRow]) -> str | None:
    """The service owning `path`: the longest matching path prefix in that repo."""
    best: tuple[int, str] | None = None
    for svc in services:
        if svc.repo != repo:
            continue
        prefix = svc.path_prefix.strip("/")
        if prefix and not path.startswith(prefix + "/"):
            continue
        if best is None or len(prefix) > best[0]:
            best = (len(prefix), svc.name)
    return best[1] if best else None


def _incident_links(
    repo: str,
    files: Sequence[str],
    histories: dict[str, list[Change[int]]],
    tickets: dict[int, tuple[str, ...]],
    incidents: Sequence[sr.IncidentText],
) -> dict[str, dict[str, IncidentLink]]:
    """path -> incident id -> how the incident names the file."""
    by_name: dict[str, list[str]] = {}
    for path in files:
        by_name.setdefault(PurePosixPath(path).name.lower(), []).append(path)
    distinct = {n: ps[0] for n, ps in by_name.items() if len(ps) == 1 and n not in _GENERIC_NAMES}
    # The tickets each file was changed under (ADR numbers are per repo, not tickets).
    changed_under: dict[str, set[str]] = {}
    for path in files:
        for ch in histories.get(path, []):
            for ticket in tickets.get(ch.devs[0], ()):
                if not ticket.startswith("ADR-"):
                    changed_under.setdefault(ticket, set()).add(path)
    out: dict[str, dict[str, IncidentLink]] = {}

    def link(path: str, inc: sr.IncidentText, how: str) -> None:
        item = out.setdefault(path, {}).setdefault(
            inc.external_id, IncidentLink(inc.label, inc.title)
        )
        if how not in item.how:
            item.how.append(how)

    for inc in incidents:
        # Basenames and follow-up tickets only count in the repos the incident touched
        # (SHOP-412 spans repos; `consumer.py` exists in several); its own INC id anywhere.
        ours = not inc.repos or repo in inc.repos
        named: set[str] = set()
        for text in inc.texts:
            named.update(m.group(0).strip("./").lower() for m in _PATHLIKE.finditer(text))
        for token in sorted(named):
            if "/" in token:
                for path in files:
                    low = path.lower()
                    if low == token or low.endswith("/" + token) or token.endswith("/" + low):
                        link(path, inc, "mentioned")
            elif ours and token in distinct:
                link(distinct[token], inc, "mentioned")
        wanted = {t for text in inc.texts for t in _TICKET.findall(text)} if ours else set()
        wanted.add(inc.label)
        for ticket in sorted(wanted):
            for path in sorted(changed_under.get(ticket, ())):
                link(path, inc, f"changed under {ticket}")
    return out
