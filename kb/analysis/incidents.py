"""The incident log: every incident with its write-ups, related known issues and the changes
correlated with it.

A change is correlated with an incident when its commit names the incident's id (a fix or a
follow-up), or when it changed one of the incident's repositories in the `SUSPECT_HOURS`
before the incident started (a suspect), or was a revert while it lasted.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from kb.analysis.staleness import StalenessService
from kb.contract.kinds import WisdomKind
from kb.contract.markdown import table
from kb.store import history as sh
from kb.store import risk as sr
from kb.store.reader import Reader

SUSPECT_HOURS = 72


def _iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


@dataclass
class IncidentEntry:
    """One incident and what is known around it."""

    row: sh.IncidentRow
    known_issues: list[dict[str, Any]] = field(default_factory=list)
    changes: list[dict[str, Any]] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        """The incident as plain JSON."""
        r = self.row
        return {
            "id": r.label,
            "external_id": r.external_id,
            "title": r.title,
            "started_at": _iso(r.started_at),
            "ended_at": _iso(r.ended_at),
            "minutes": round((r.ended_at - r.started_at).total_seconds() / 60)
            if r.started_at and r.ended_at
            else None,
            "severity": r.severity,
            "services": list(r.services),
            "repos": list(r.repos),
            "root_cause": r.root_cause,
            "resolution": r.resolution,
            "channel": r.channel,
            "postmortem": r.postmortem,
            "threads": list(r.threads),
            "known_issues": self.known_issues,
            "changes": self.changes,
        }

    def to_markdown(self) -> str:
        """The incident as a short write-up with its correlated changes."""
        r = self.row
        when = r.started_at.strftime("%Y-%m-%d %H:%M UTC") if r.started_at else "date unknown"
        lines = [f"## {r.label}: {r.title}", "", f"{when}, severity {r.severity or 'unknown'}"]
        if r.services:
            lines[-1] += f", services: {', '.join(r.services)}"
        for label, text in (("Root cause", r.root_cause), ("Resolution", r.resolution)):
            if text:
                lines += ["", f"**{label}.** {text}"]
        if r.postmortem:
            pm = r.postmortem
            lines += ["", f"Postmortem: {pm['title']} ({pm.get('repo') or ''}:{pm.get('path')})"]
        if self.known_issues:
            lines += ["", "Related known issues:"]
            lines += [f"- {k['title']} ({k['service'] or '—'})" for k in self.known_issues]
        if self.changes:
            lines += ["", "Correlated changes:"]
            lines += [
                f"- `{c['repo']}@{c['sha'][:10]}` {c['subject']} ({c['date']}, {c['why']})"
                for c in self.changes
            ]
        return "\n".join(lines) + "\n"


@dataclass
class IncidentLog:
    """Incidents newest first (the dashboard's timeline and detail)."""

    incidents: list[IncidentEntry]

    def to_json(self) -> dict[str, Any]:
        """{"incidents": [...]}, newest first."""
        return {"incidents": [i.to_json() for i in self.incidents]}

    def to_markdown(self) -> str:
        """A timeline table, then each incident."""
        if not self.incidents:
            return (
                "No incidents yet: ingest postmortems (`kb ingest git PATH`) or incident "
                "channels (`kb ingest slack-export`)."
            )
        rows = [
            [
                i.row.started_at.date().isoformat() if i.row.started_at else "—",
                i.row.label,
                i.row.severity or "—",
                ", ".join(i.row.services) or "—",
                i.row.title,
            ]
            for i in self.incidents
        ]
        lines = ["# Incidents", "", *table(["date", "id", "severity", "services", "title"], rows)]
        lines += ["", *(i.to_markdown() for i in self.incidents)]
        return "\n".join(lines)


class IncidentLogService:
    """Reads incidents and correlates them with known issues and changes."""

    def __init__(self, reader: Reader, staleness: StalenessService) -> None:
        self.reader = reader
        self.staleness = staleness

    def log(self, service: str | None = None) -> IncidentLog:
        """Every incident (or those touching `service`), newest first."""
        rows = sh.incident_rows(self.reader)
        if service is not None:
            rows = [r for r in rows if service in r.services or service in r.repos]
        if not rows:
            return IncidentLog([])
        issues = self.staleness.entries(kind=WisdomKind.KNOWN_ISSUE).entries
        links = sh.wisdom_links(self.reader)
        return IncidentLog([self._entry(r, issues, links) for r in rows])

    def _entry(
        self, row: sh.IncidentRow, issues: list[sr.WisdomRow], links: dict[str, str]
    ) -> IncidentEntry:
        entry = IncidentEntry(row)
        for w in issues:
            text = f"{w.title}\n{w.body}"
            if (
                (w.service and w.service in row.services)
                or (w.repo and w.repo in row.repos)
                or row.label in text
            ):
                entry.known_issues.append(
                    {
                        "id": w.external_id,
                        "title": w.title,
                        "service": w.service,
                        "severity": w.severity,
                        "url": links.get(w.external_id),
                    }
                )
        seen: set[str] = set()

        def add(refs: list[sh.CommitRef], why: str, only_reverts: bool = False) -> None:
            for c in refs:
                if c.sha in seen or (only_reverts and not c.is_revert):
                    continue
                seen.add(c.sha)
                entry.changes.append(
                    {
                        "repo": c.repo,
                        "sha": c.sha,
                        "subject": c.subject,
                        "author": c.author,
                        "date": c.authored_at.date().isoformat(),
                        "at": c.authored_at.isoformat(),
                        "fix": c.is_fix,
                        "revert": c.is_revert,
                        "url": c.url,
                        "why": why,
                    }
                )

        add(sh.commits_naming(self.reader, row.label), f"names {row.label}")
        if row.started_at is not None:
            before = row.started_at - timedelta(hours=SUSPECT_HOURS)
            add(
                sh.commits_between(self.reader, row.repos, before, row.started_at),
                f"changed in the {SUSPECT_HOURS} h before",
            )
            end = row.ended_at or row.started_at + timedelta(hours=24)
            add(
                sh.commits_between(self.reader, row.repos, row.started_at, end),
                "reverted during the incident",
                only_reverts=True,
            )
        return entry
