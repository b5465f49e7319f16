"""The catalogue: decision records by repository and number, and one page per service.

`adr(repo, number)` is the decision as written, with its status and its supersede chain;
`service(name)` is what kb knows of a service at a glance: owner, what it calls and what
calls it (with evidence), the topics it publishes and consumes, its decisions, incidents,
how much wisdom it has by kind, and who knows it now.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from kb.analysis.experts import ExpertService
from kb.contract.markdown import table
from kb.errors import NotFoundError
from kb.store import catalog as sc
from kb.store.store import Store

_ADR_NUMBER = re.compile(r"^(?:adr[-_ ]?)?0*(\d+)$", re.IGNORECASE)


def adr_number(text: str | int) -> int:
    """An ADR number from `3`, `"0003"` or `"ADR-3"`; NotFoundError otherwise."""
    if isinstance(text, int):
        return text
    m = _ADR_NUMBER.match(text.strip())
    if not m:
        raise NotFoundError(f"{text!r} is no ADR number (like 3, 0003 or ADR-3)")
    return int(m.group(1))


@dataclass(frozen=True)
class AdrRef:
    """Another decision named by this one (what it supersedes, what superseded it)."""

    id: str
    repo: str
    number: int | None
    title: str
    status: str | None

    def to_json(self) -> dict[str, Any]:
        """{"id", "repo", "number", "title", "status"}."""
        return {
            "id": self.id,
            "repo": self.repo,
            "number": self.number,
            "title": self.title,
            "status": self.status,
        }


def _ref(row: sc.AdrRow) -> AdrRef:
    return AdrRef(row.external_id, row.repo, row.number, row.title, row.status)


def _date(row: sc.AdrRow) -> str | None:
    if row.created_at is not None:
        return row.created_at.date().isoformat()
    date = row.meta.get("date")
    return str(date) if date else None


@dataclass
class AdrRecord:
    """One decision record: where it is, its status and links, and its text."""

    row: sc.AdrRow
    supersedes: list[AdrRef] = field(default_factory=list)
    superseded_by: list[AdrRef] = field(default_factory=list)

    def summary_json(self) -> dict[str, Any]:
        """The record without its text (what a listing shows)."""
        r = self.row
        return {
            "id": r.external_id,
            "repo": r.repo,
            "number": r.number,
            "title": r.title,
            "status": r.status,
            "date": _date(r),
            "path": r.path,
            "url": r.url,
            "service": r.service,
        }

    def to_json(self) -> dict[str, Any]:
        """The record, its supersede chain, deciders and full text."""
        out = self.summary_json()
        out["deciders"] = list(self.row.meta.get("deciders") or [])
        out["supersedes"] = [a.to_json() for a in self.supersedes]
        out["superseded_by"] = [a.to_json() for a in self.superseded_by]
        out["body"] = self.row.body
        return out

    def to_markdown(self) -> str:
        """A header of facts (status, links, chain), then the decision as written."""
        r = self.row
        lines = [f"# {r.title}", ""]
        status = r.status or "unknown"
        if self.superseded_by:
            status += " — superseded by " + ", ".join(a.title for a in self.superseded_by)
        lines.append(f"- status: {status}")
        if self.supersedes:
            lines.append("- supersedes: " + ", ".join(a.title for a in self.supersedes))
        date = _date(r)
        if date:
            lines.append(f"- date: {date}")
        deciders = self.row.meta.get("deciders") or []
        if deciders:
            lines.append("- deciders: " + ", ".join(str(d) for d in deciders))
        where = ":".join(x for x in (r.repo, r.path) if x)
        lines.append(f"- source: [{where}]({r.url})" if r.url else f"- source: {where}")
        lines += ["", "---", "", r.body.strip(), ""]
        return "\n".join(lines)


@dataclass
class AdrList:
    """Decision records, by repository and number."""

    adrs: list[AdrRecord]

    def to_json(self) -> dict[str, Any]:
        """{"adrs": [record without its text]}."""
        return {"adrs": [a.summary_json() for a in self.adrs]}

    def to_markdown(self) -> str:
        """The records as a table."""
        if not self.adrs:
            return "No decision records in kb."
        rows = [
            [a.row.repo, str(a.row.number or ""), a.row.title, a.row.status or ""]
            for a in self.adrs
        ]
        return "\n".join(table(["repo", "number", "title", "status"], rows)) + "\n"


@dataclass(frozen=True)
class Edge:
    """A dependency of the service (or on it), with where it shows."""

    service: str
    kind: str
    detail: str
    evidence: str | None  # repo:path:line

    def to_json(self) -> dict[str, Any]:
        """{"service", "kind", "detail", "evidence"}."""
        return {
            "service": self.service,
            "kind": self.kind,
            "detail": self.detail,
            "evidence": self.evidence,
        }


def _edge(row: sc.DependencyRow) -> Edge:
    evidence = None
    if row.evidence_path:
        evidence = ":".join(x for x in (row.evidence_repo, row.evidence_path) if x)
        if row.evidence_line:
            evidence += f":{row.evidence_line}"
    return Edge(row.other, row.kind, row.detail, evidence)


@dataclass
class ServiceSummary:
    """What kb knows of one service at a glance."""

    name: str
    repo: str | None
    path_prefix: str
    description: str | None
    owner_team: str | None
    owner: str | None
    depends_on: list[Edge]
    used_by: list[Edge]
    publishes: list[str]
    subscribes: list[str]
    adrs: list[AdrRef]
    incidents: list[dict[str, Any]]
    wisdom: dict[str, int]
    experts: list[dict[str, Any]]

    def to_json(self) -> dict[str, Any]:
        """The stable JSON of a service page."""
        return {
            "name": self.name,
            "repo": self.repo,
            "path_prefix": self.path_prefix,
            "description": self.description,
            "owner_team": self.owner_team,
            "owner": self.owner,
            "depends_on": [e.to_json() for e in self.depends_on],
            "used_by": [e.to_json() for e in self.used_by],
            "publishes": self.publishes,
            "subscribes": self.subscribes,
            "adrs": [a.to_json() for a in self.adrs],
            "incidents": self.incidents,
            "wisdom": self.wisdom,
            "experts": self.experts,
        }

    def to_markdown(self) -> str:
        """The service page: who owns it, its edges, topics, decisions, incidents, experts."""
        lines = [f"# {self.name}", ""]
        if self.description:
            lines += [self.description, ""]
        where = self.repo or "?"
        if self.path_prefix:
            where += f":{self.path_prefix}"
        owner = ", ".join(x for x in (self.owner_team and f"team {self.owner_team}", self.owner)
                          if x) or "unknown"  # fmt: skip
        lines += [f"- repository: {where}", f"- owner: {owner}", ""]
        for title, edges in (("Depends on", self.depends_on), ("Used by", self.used_by)):
            if edges:
                lines += [f"## {title}", ""]
                for e in edges:
                    detail = f" {e.detail}" if e.detail else ""
                    seen = f" ({e.evidence})" if e.evidence else ""
                    lines.append(f"- {e.service}: {e.kind}{detail}{seen}")
                lines.append("")
        if self.publishes or self.subscribes:
            lines += ["## Events", ""]
            lines += [f"- publishes {t}" for t in self.publishes]
            lines += [f"- consumes {t}" for t in self.subscribes]
            lines.append("")
        if self.adrs:
            lines += ["## Decisions", ""]
            lines += [f"- {a.title} ({a.status or 'unknown'})" for a in self.adrs]
            lines.append("")
        if self.incidents:
            lines += ["## Incidents", ""]
            for inc in self.incidents:
                when = f"{inc['started_at'][:10]} " if inc["started_at"] else ""
                sev = f" [{inc['severity']}]" if inc["severity"] else ""
                title = inc["title"]
                title = title if title.startswith(inc["id"]) else f"{inc['id']}: {title}"
                lines.append(f"- {when}{title}{sev}")
            lines.append("")
        if self.wisdom:
            counts = ", ".join(f"{n} {k}" for k, n in self.wisdom.items())
            lines += ["## What kb knows", "", f"- {counts}", ""]
        if self.experts:
            lines += ["## Who knows it", ""]
            for person in self.experts:
                left = " (has left)" if person["departed"] else ""
                lines.append(f"- **{person['name']}**{left}: {person['reason']}")
            lines.append("")
        return "\n".join(lines)


@dataclass
class ServiceList:
    """Every service kb knows, with its repository and description."""

    services: list[sc.ServiceRow]

    def to_json(self) -> dict[str, Any]:
        """{"services": [{"name", "repo", "description", "owner_team"}]}."""
        return {
            "services": [
                {
                    "name": s.name,
                    "repo": s.repo,
                    "description": s.description,
                    "owner_team": s.owner_team,
                }
                for s in self.services
            ]
        }

    def to_markdown(self) -> str:
        """The services as a table."""
        rows = [[s.name, s.repo or "", (s.description or "")[:80]] for s in self.services]
        return "\n".join(table(["service", "repo", "description"], rows)) + "\n"


def _label(inc: sc.IncidentRow) -> str:
    return str(inc.meta.get("inc_id") or inc.external_id.removeprefix("incident:"))


class CatalogService:
    """Decision records and service pages, from stored facts."""

    def __init__(self, store: Store, experts: ExpertService) -> None:
        self.store = store
        self.experts = experts

    def adrs(self, repo: str | None = None) -> AdrList:
        """Every decision record (or those of one repository or ADR folder)."""
        rows = sc.adrs(self.store)
        if repo is not None and repo not in {r.repo for r in rows}:
            raise _no_adrs(repo, rows)
        return AdrList([self._record(r, rows) for r in rows if repo is None or r.repo == repo])

    def adr(self, repo: str, number: int | str) -> AdrRecord:
        """The decision record `number` of a repository (or ADR folder)."""
        wanted = adr_number(number)
        rows = sc.adrs(self.store)
        mine = [r for r in rows if r.repo == repo]
        if not mine:
            raise _no_adrs(repo, rows)
        for row in mine:
            if row.number == wanted:
                return self._record(row, rows)
        numbers = ", ".join(str(r.number) for r in mine if r.number is not None)
        raise NotFoundError(f"{repo} has no ADR {wanted} (it has: {numbers})")

    @staticmethod
    def _record(row: sc.AdrRow, rows: list[sc.AdrRow]) -> AdrRecord:
        by_id = {r.external_id: r for r in rows}

        def refs(key: str) -> list[AdrRef]:
            return [_ref(by_id[i]) for i in row.meta.get(key) or [] if i in by_id]

        return AdrRecord(row, refs("supersedes"), refs("superseded_by"))

    def services(self) -> ServiceList:
        """Every service kb knows."""
        return ServiceList(sc.services(self.store))

    def service(self, name: str, experts: int = 3) -> ServiceSummary:
        """The page of one service (NotFoundError naming the known ones otherwise)."""
        facts = sc.service_facts(self.store, name.strip())
        if facts is None:
            known = ", ".join(s.name for s in sc.services(self.store)) or "none"
            raise NotFoundError(f"no service {name!r} (kb knows: {known})")
        svc = facts.service
        adrs = [
            _ref(r)
            for r in sc.adrs(self.store)
            if r.service == svc.name or (r.service is None and svc.repo and r.repo == svc.repo)
        ]
        people: list[dict[str, Any]] = []
        if svc.repo:
            who = self.experts.who(svc.name, limit=experts)
            people = [
                {"name": e.name, "departed": e.departed, "reason": e.reason()} for e in who.people
            ]
        return ServiceSummary(
            name=svc.name,
            repo=svc.repo,
            path_prefix=svc.path_prefix,
            description=svc.description,
            owner_team=svc.owner_team,
            owner=svc.owner,
            depends_on=[_edge(d) for d in facts.depends_on],
            used_by=[_edge(d) for d in facts.used_by],
            publishes=[t for t, role in facts.events if role == "publish"],
            subscribes=[t for t, role in facts.events if role == "subscribe"],
            adrs=adrs,
            incidents=[
                {
                    "id": _label(i),
                    "title": i.title,
                    "started_at": _iso(i.started_at),
                    "severity": i.severity,
                }
                for i in facts.incidents
            ],
            wisdom=facts.wisdom_by_kind,
            experts=people,
        )


def _no_adrs(repo: str, rows: list[sc.AdrRow]) -> NotFoundError:
    known = ", ".join(sorted({r.repo for r in rows})) or "none"
    return NotFoundError(f"no decision records in {repo!r} (kb has some in: {known})")


def _iso(when: datetime | None) -> str | None:
    return when.isoformat() if when else None
