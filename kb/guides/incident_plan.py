"""The incident trace plan: what an on-call engineer reads first, in the order they need it.

Sections: situation (with the likely direction of propagation), blast radius (sync and async
apart), what to check first, similar past incidents with what resolved them, recent changes
with their correlation, danger zones, who to page, and the checklist filled in.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from kb.contract.markdown import table


def _iso(when: datetime | None) -> str | None:
    return when.isoformat() if when else None


def _when(when: datetime | None) -> str:
    return when.strftime("%Y-%m-%d %H:%M UTC") if when else "—"


@dataclass
class Situation:
    """The service, the symptom, when, and where the trouble most likely comes from."""

    service: str
    symptom: str | None
    at: datetime
    since: datetime
    direction: str  # from_dependencies | from_service | from_producers
    reason: str
    kinds: list[str] = field(default_factory=list)  # the symptom's classes
    open_pages: list[dict[str, Any]] = field(default_factory=list)  # paged, not yet resolved

    def to_json(self) -> dict[str, Any]:
        """{"service", "symptom", "at", "since", "direction", "reason", "symptom_kinds"}."""
        return {
            "service": self.service,
            "symptom": self.symptom,
            "at": _iso(self.at),
            "since": _iso(self.since),
            "direction": self.direction,
            "reason": self.reason,
            "symptom_kinds": self.kinds,
            "open_pages": self.open_pages,
        }


@dataclass
class Link:
    """An edge of the service map as a plan shows it: the other service, how, and where."""

    service: str
    kind: str
    via: str
    sync: bool
    evidence: list[str]
    depth: int = 1
    why: str = ""

    def to_json(self) -> dict[str, Any]:
        """{"service", "kind", "via", "sync", "depth", "evidence", "why"}."""
        return {
            "service": self.service,
            "kind": self.kind,
            "via": self.via,
            "sync": self.sync,
            "depth": self.depth,
            "evidence": self.evidence,
            "why": self.why,
        }


@dataclass
class PastIncident:
    """A similar past incident, what caused and resolved it, and where it is written."""

    id: str
    title: str
    started_at: datetime | None
    severity: str | None
    services: list[str]
    root_cause: str | None
    resolution: str | None
    score: float
    reasons: list[str]
    citations: list[dict[str, Any]]  # {"kind", "title", "url", "where"}

    def to_json(self) -> dict[str, Any]:
        """The incident, its lines and citations, its similarity score and reasons."""
        return {
            "id": self.id,
            "title": self.title,
            "started_at": _iso(self.started_at),
            "severity": self.severity,
            "services": self.services,
            "root_cause": self.root_cause,
            "resolution": self.resolution,
            "score": round(self.score, 3),
            "reasons": self.reasons,
            "citations": self.citations,
        }


@dataclass
class RecentChange:
    """A change (a commit, its deploy) in the window, with its correlation and reasons."""

    service: str
    repo: str
    sha: str | None
    subject: str
    author: str
    authored_at: datetime | None
    deployed_at: datetime | None
    distance: int
    url: str | None
    score: float
    reasons: list[str]
    minutes_before: int
    deploy: dict[str, Any] | None = None

    def to_json(self) -> dict[str, Any]:
        """The change, where it went live, and why it is suspected."""
        return {
            "service": self.service,
            "repo": self.repo,
            "sha": self.sha,
            "subject": self.subject,
            "author": self.author,
            "authored_at": _iso(self.authored_at),
            "deployed_at": _iso(self.deployed_at),
            "distance": self.distance,
            "url": self.url,
            "score": round(self.score, 3),
            "minutes_before": self.minutes_before,
            "reasons": self.reasons,
            "deploy": self.deploy,
        }

    def headline(self) -> str:
        """'`order-service@1a2b3c4d` ORD-61: retry ... (alex)'."""
        at = f"@{self.sha[:8]}" if self.sha else ""
        return f"`{self.repo}{at}` {self.subject} ({self.author or 'unknown'})"


@dataclass
class Pager:
    """Whom to page for one service: current experts, code owners, who left."""

    service: str
    experts: list[dict[str, Any]]  # {"name", "reason"}
    code_owners: list[dict[str, Any]]  # {"owner", "name", "pattern"}
    departed: list[dict[str, Any]]  # {"name", "last_seen", "why"}
    warning: str | None

    def to_json(self) -> dict[str, Any]:
        """{"service", "experts", "code_owners", "departed", "warning"}."""
        return {
            "service": self.service,
            "experts": self.experts,
            "code_owners": self.code_owners,
            "departed": self.departed,
            "warning": self.warning,
        }


@dataclass
class IncidentPlan:
    """The whole plan; `trace` holds the stitched logs when logs were given."""

    situation: Situation
    fails: list[Link]
    queues: list[Link]
    check_first: list[Link]
    similar: list[PastIncident]
    known_issues: list[dict[str, Any]]
    changes: list[RecentChange]
    danger_zones: list[dict[str, Any]]
    page: list[Pager]
    checklist: list[str]
    trace: dict[str, Any] | None = None
    trace_markdown: str | None = None
    notes: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        """The stable `kb incident --json` object, sections in reading order."""
        return {
            "situation": self.situation.to_json(),
            "blast_radius": {
                "sync": [x.to_json() for x in self.fails],
                "async": [x.to_json() for x in self.queues],
            },
            "check_first": [x.to_json() for x in self.check_first],
            "similar_incidents": [x.to_json() for x in self.similar],
            "known_issues": self.known_issues,
            "recent_changes": [x.to_json() for x in self.changes],
            "danger_zones": self.danger_zones,
            "page": [x.to_json() for x in self.page],
            "checklist": self.checklist,
            "trace": self.trace,
            "notes": self.notes,
        }

    def to_markdown(self) -> str:
        """The plan as the on-call engineer reads it."""
        s = self.situation
        title = f"# Incident plan: {s.service}" + (f": {s.symptom}" if s.symptom else "")
        lines = [title, "", "## 1. Situation", ""]
        lines += [
            f"- service: **{s.service}**; symptom: {s.symptom or 'not given'}",
            f"- as of {_when(s.at)}; changes since {_when(s.since)}",
            f"- likely direction: **{DIRECTIONS.get(s.direction, s.direction)}**. {s.reason}",
        ]
        lines += [
            f"- open page: {p['title']} ({p['started_at'][:16].replace('T', ' ')} UTC)"
            + (f" — {p['url']}" if p.get("url") else "")
            for p in s.open_pages
        ]
        lines += ["", "## 2. Blast radius", ""]
        if not self.fails and not self.queues:
            lines.append("No service is known to depend on it.")
        for label, links in (("Fails with it (sync)", self.fails), ("Queues (async)", self.queues)):
            if links:
                lines.append(f"**{label}:**")
                lines += [f"- {_link(x)}" for x in links]
        lines += ["", "## 3. Check first", ""]
        if not self.check_first:
            lines.append(f"No dependency of {s.service} is known: look at it first.")
        lines += [f"{n}. {_link(x)}" for n, x in enumerate(self.check_first, 1)]
        lines += ["", "## 4. Similar past incidents", ""]
        if not self.similar:
            lines.append("None found.")
        for x in self.similar:
            title = x.title if x.title.startswith(x.id) else f"{x.id}: {x.title}"
            lines.append(f"- **{title}** ({_when(x.started_at)}, {x.severity or '?'}; "
                         f"{'; '.join(x.reasons)})")  # fmt: skip
            for label, text in (("Root cause", x.root_cause), ("Resolution", x.resolution)):
                if text:
                    lines.append(f"  - {label}: {' '.join(text.split())}")
            for c in x.citations:
                lines.append(f"  - source: {_cite(c)}")
        if self.known_issues:
            lines += ["", "Known issues of these services:"]
            lines += [
                f"- {k['title']} ({k.get('service') or '—'})"
                + (f" — {k['url']}" if k.get("url") else "")
                for k in self.known_issues
            ]
        lines += ["", "## 5. Recent changes", ""]
        if not self.changes:
            lines.append("No change in the window.")
        for n, change in enumerate(self.changes, 1):
            lines.append(f"{n}. **{change.score:.2f}** {change.headline()}: "
                         f"{'; '.join(change.reasons)}")  # fmt: skip
            if change.url:
                lines.append(f"   - {change.url}")
        lines += ["", "## 6. Danger zones", ""]
        if not self.danger_zones:
            lines.append("None recorded for these services.")
        lines += [
            f"- **{z['title']}** ({z['where']}, {z['severity']})"
            + (f" — {z['source']}" if z.get("source") else "")
            for z in self.danger_zones
        ]
        lines += ["", "## 7. Who to page", ""]
        for p in self.page:
            people = ", ".join(f"{e['name']} ({e['reason']})" for e in p.experts) or "nobody known"
            lines.append(f"- **{p.service}**: {people}")
            if p.code_owners:
                owners = ", ".join(
                    o["owner"] + (f" ({o['name']})" if o.get("name") else "") for o in p.code_owners
                )
                lines.append(f"  - CODEOWNERS: {owners}")
            for d in p.departed:
                lines.append(f"  - not {d['name']}: {d['why']}")
            if p.warning:
                lines.append(f"  - ⚠ {p.warning}")
        lines += ["", "## 8. Checklist", ""]
        lines += [f"- [ ] {item}" for item in self.checklist]
        if self.trace_markdown:
            lines += ["", "## Stitched logs", "", self.trace_markdown.strip()]
        if self.notes:
            lines += ["", *[f"_{n}_" for n in self.notes]]
        return "\n".join(lines) + "\n"

    def changes_table(self) -> list[str]:
        """The recent changes as a markdown table (postmortem drafts reuse it)."""
        rows = [
            [f"{c.score:.2f}", c.headline(), _when(c.deployed_at or c.authored_at),
             "; ".join(c.reasons)]
            for c in self.changes
        ]  # fmt: skip
        return table(["score", "change", "live", "why"], rows)


# How each direction of propagation reads in a sentence.
DIRECTIONS = {
    "from_dependencies": "from a dependency up to the service and its callers",
    "from_service": "from the service out to its callers and consumers",
    "from_producers": "from an upstream producer down to the service",
}


def _link(x: Link) -> str:
    via = f" {x.via}" if x.via else ""
    depth = f", {x.depth} hops" if x.depth > 1 else ""
    where = f" — evidence: {', '.join(x.evidence[:2])}" if x.evidence else ""
    why = f" ({x.why})" if x.why else ""
    return f"{x.service}: {x.kind}{via}{depth}{why}{where}"


def _cite(c: dict[str, Any]) -> str:
    label = f"{c['kind']}: {c['title']}"
    if c.get("where"):
        label += f" ({c['where']})"
    return f"[{label}]({c['url']})" if c.get("url") else label
