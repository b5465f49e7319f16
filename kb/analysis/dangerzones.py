"""Danger zones of a path: what kb knows one must be careful with before editing it.

Someone (or a coding agent) about to change a file asks: is it a danger zone, why, and
whom do I ask? The answer gathers the active wisdom entries anchored to

- the **file** itself (its path, or a glob that matches it),
- a **directory** holding it (an entry anchored to `src/legacy/` or `src/legacy`),
- a file **inside** the path, when the path is a directory,
- its **service** as a whole (danger zones, unwritten rules, known issues and
  counterintuitive facts with no path: "never deploy on Fridays"),

each with its source (a code comment at its line, an ADR, a postmortem, a taught note;
hotspot entries carry their evidence in their text), then who knows the file now (the
experts of `kb who`) and who told kb about it.
"""

from __future__ import annotations

import fnmatch
import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from kb.analysis.experts import Area, ExpertService
from kb.contract.kinds import SEVERITY_RANK, Severity, WisdomKind, WisdomOrigin
from kb.errors import NotFoundError
from kb.store import catalog as sc
from kb.store import history as sh
from kb.store import risk as sr
from kb.store.reader import Reader
from kb.store.store import Store

SCOPES = ("file", "directory", "inside", "service")
# What applies to a whole service when it names no path.
SERVICE_WIDE = frozenset(
    {
        WisdomKind.DANGER_ZONE,
        WisdomKind.UNWRITTEN_RULE,
        WisdomKind.KNOWN_ISSUE,
        WisdomKind.COUNTERINTUITIVE,
    }
)
EXPERTS = 3
_GLOB_CHARS = frozenset("*?[")


@dataclass
class DangerZone:
    """One wisdom entry that bears on the path, how it does, and where it comes from."""

    id: str
    kind: str
    title: str
    body: str
    severity: str
    origin: str
    repo: str | None
    path: str | None
    line: int | None
    service: str | None
    said_by: str | None
    scope: str  # file | directory | inside | service
    created_at: datetime | None
    source: sc.SourceLink | None = None
    teller_departed: bool = False

    @property
    def where(self) -> str:
        """repo:path:line, or the service."""
        if self.path:
            loc = ":".join(x for x in (self.repo, self.path) if x)
            return f"{loc}:{self.line}" if self.line else loc
        return self.service or self.repo or ""

    def to_json(self) -> dict[str, Any]:
        """One zone: the entry, its scope and its source (with a web link when known)."""
        src = self.source
        return {
            "id": self.id,
            "kind": self.kind,
            "title": self.title,
            "body": self.body,
            "severity": self.severity,
            "origin": self.origin,
            "scope": self.scope,
            "repo": self.repo,
            "path": self.path,
            "line": self.line,
            "service": self.service,
            "said_by": self.said_by,
            "created_at": self.created_at.date().isoformat() if self.created_at else None,
            "source": None
            if src is None
            else {
                "id": src.external_id,
                "kind": src.kind,
                "title": src.title,
                "repo": src.repo,
                "path": src.path,
                "url": src.url,
            },
        }


@dataclass
class Contact:
    """Someone to ask before changing the path, and why them."""

    name: str
    departed: bool
    reason: str

    def to_json(self) -> dict[str, Any]:
        """{"name", "departed", "reason"}: the shape of an answer's `ask`."""
        return {"name": self.name, "departed": self.departed, "reason": self.reason}


@dataclass
class DangerZones:
    """What `kb danger-zones PATH` answers: the zones that bear on a path and whom to ask."""

    query: str
    path: str
    repos: list[str]
    services: list[str]
    zones: list[DangerZone]
    ask: list[Contact] = field(default_factory=list)
    total: int | None = None  # zones before a limit; None: all are listed

    @property
    def danger_zone(self) -> bool:
        """Whether a danger zone covers the path itself (not only its service)."""
        return any(z.kind == WisdomKind.DANGER_ZONE and z.scope != "service" for z in self.zones)

    def to_json(self) -> dict[str, Any]:
        """The stable `kb danger-zones --json` object."""
        return {
            "query": self.query,
            "path": self.path,
            "repos": self.repos,
            "services": self.services,
            "danger_zone": self.danger_zone,
            "zones": [z.to_json() for z in self.zones],
            "total": len(self.zones) if self.total is None else self.total,
            "ask": [c.to_json() for c in self.ask],
        }

    def to_markdown(self) -> str:
        """The verdict, each zone with its source numbered, then whom to ask."""
        where = ", ".join(f"{r}:{self.path}" if self.path else r for r in self.repos)
        where = where or self.path or self.query
        head = "Danger zone" if self.danger_zone else "No danger zone recorded"
        lines = [f"# {head}: {where}", ""]
        if self.services:
            lines += [f"Service: {', '.join(self.services)}", ""]
        sources: list[str] = []
        if self.zones:
            lines += ["**Watch out**", ""]
        for z in self.zones:
            cite = ""
            if z.source is not None:
                sources.append(_source_line(len(sources) + 1, z.source, z))
                cite = f" [{len(sources)}]"
            teller = f" (told by {z.said_by})" if z.said_by else ""
            body = " ".join(z.body.split())
            body = body if len(body) <= 400 else body[:399].rstrip() + "…"
            lines.append(
                f"- **{z.severity}** {z.kind} ({z.scope}, {z.where}): {z.title}{teller}{cite}"
            )
            if body and body != z.title:
                lines.append(f"  {body}")
        total = len(self.zones) if self.total is None else self.total
        if total > len(self.zones):
            lines.append(f"- … {total - len(self.zones)} more")
        if not self.zones:
            lines.append("kb knows no danger zone, rule or known issue for this path.")
        if sources:
            lines += ["", "**Sources**", "", *sources]
        if self.ask:
            lines += ["", "**Ask**", ""]
            for c in self.ask:
                left = " (has left)" if c.departed else ""
                lines.append(f"- **{c.name}**{left}: {c.reason}")
        return "\n".join(lines) + "\n"


def _source_line(n: int, src: sc.SourceLink, zone: DangerZone) -> str:
    title = src.title.replace("[", "(").replace("]", ")")
    label = f"[{title}]({src.url})" if src.url else title
    where = ""
    if not src.url:
        loc = ":".join(x for x in (src.repo, src.path) if x)
        if loc and zone.line and src.path == zone.path:
            loc = f"{loc}:{zone.line}"
        where = f" ({loc})" if loc else ""
    return f"- [{n}] {src.kind}: {label}{where}"


def covers(anchor: str, path: str) -> bool:
    """Whether an entry anchored at `anchor` (a path, a directory or a glob) covers `path`."""
    anchor = anchor.strip().lstrip("/")
    if _GLOB_CHARS.intersection(anchor):
        return fnmatch.fnmatchcase(path, anchor) or fnmatch.fnmatchcase(path, anchor + "/*")
    anchor = anchor.rstrip("/")
    return path == anchor or path.startswith(anchor + "/")


class DangerZoneService:
    """Danger zones of a path: anchored wisdom, the service's rules, and whom to ask."""

    def __init__(self, store: Store, reader: Reader, experts: ExpertService) -> None:
        self.store = store
        self.reader = reader
        self.experts = experts

    def for_path(self, query: str, limit: int | None = None) -> DangerZones:
        """The danger zones bearing on `query` (`repo:path`, a repo-relative path, or an
        absolute path inside a checkout named like a repo), with whom to ask."""
        query = query.strip()
        if not query:
            raise NotFoundError("give the path of a file or directory")
        repos, path = self._resolve(query)
        services = self._services(repos, path)
        zones = self._zones(repos, path, services)
        zones.sort(key=_rank)
        ask = self._contacts(query, repos, path, zones)
        total = len(zones)
        if limit is not None:
            zones = zones[:limit]
        return DangerZones(query, path, repos, services, zones, ask, total)

    # -- what the query names -------------------------------------------------------------

    def _resolve(self, query: str) -> tuple[list[str], str]:
        """(repos holding the path, the repo-relative path); no repo if none holds it."""
        known = sh.repo_names(self.reader)
        repo, sep, rest = query.partition(":")
        if sep and repo in known:
            return [repo], _clean(rest)
        path = _clean(query)
        held = [r for r, _ in sh.repos_with_path(self.reader, path)] if path else []
        if held:
            return held, path
        # A path given from outside the repository: `…/inventory-service/src/x.py`.
        parts = path.split("/")
        for i, part in enumerate(parts):
            if part in known:
                return [part], "/".join(parts[i + 1 :])
        return [], path

    def _services(self, repos: list[str], path: str) -> list[str]:
        """The services owning the path: the longest matching prefix in each repo."""
        out = []
        rows = sh.services(self.reader)
        for repo in repos:
            best: tuple[int, str] | None = None
            for svc in rows:
                prefix = svc.path_prefix.strip("/")
                if svc.repo != repo or (prefix and not covers(prefix, path)):
                    continue
                if best is None or len(prefix) > best[0]:
                    best = (len(prefix), svc.name)
            if best is not None:
                out.append(best[1])
        return out

    # -- the zones ------------------------------------------------------------------------

    def _zones(self, repos: list[str], path: str, services: list[str]) -> list[DangerZone]:
        found: list[tuple[DangerZone, sr.WisdomRow]] = []
        for row in sr.wisdom_rows(self.store):
            if row.kind == WisdomKind.DESIGN_RATIONALE:
                continue  # decisions are cited by `ask`; they forbid no edit
            scope = self._scope(row, repos, path, services)
            if scope is None:
                continue
            zone = DangerZone(
                id=row.external_id, kind=row.kind, title=row.title, body=row.body,
                severity=row.severity, origin=row.origin, repo=row.repo, path=row.path_glob,
                line=row.line, service=row.service, said_by=row.said_by, scope=scope,
                created_at=row.created_at,
            )  # fmt: skip
            found.append((zone, row))
        docs = {row.document_external_id for _, row in found if row.document_external_id}
        lines = {
            row.document_external_id: row.line
            for _, row in found
            if row.document_external_id and row.line
        }
        links = sc.source_links(self.store, docs, lines)
        people = sh.people(self.reader) if any(r.said_by_person_id for _, r in found) else {}
        for zone, row in found:
            if row.document_external_id:
                zone.source = links.get(row.document_external_id)
            teller = people.get(row.said_by_person_id) if row.said_by_person_id else None
            if teller is not None:
                zone.teller_departed = self.experts.busfactor.is_departed(teller)
        return [zone for zone, _ in found]

    @staticmethod
    def _scope(row: sr.WisdomRow, repos: list[str], path: str, services: list[str]) -> str | None:
        """How an entry bears on the path (None: it does not)."""
        if row.repo and repos and row.repo not in repos:
            return None
        if row.path_glob:
            if not path:  # the whole repository was asked about
                return "inside" if row.repo in repos else None
            if covers(row.path_glob, path):
                glob = row.path_glob.strip().strip("/")
                return "file" if glob == path or _GLOB_CHARS.intersection(glob) else "directory"
            if covers(path, row.path_glob.strip().lstrip("/")):
                return "inside"
            return None
        if row.service and row.service in services and row.kind in SERVICE_WIDE:
            return "service"
        return None

    # -- whom to ask ----------------------------------------------------------------------

    def _contacts(
        self, query: str, repos: list[str], path: str, zones: list[DangerZone]
    ) -> list[Contact]:
        out: list[Contact] = []
        if repos:
            areas = [Area(repo, path) for repo in repos]
            experts = self.experts.for_areas(query, "path", areas, limit=EXPERTS)
            for e in experts.people:
                out.append(Contact(e.name, e.departed, e.reason()))
        named = {c.name for c in out}
        for z in zones:
            # Only a person vouches for what they taught; an agent's note names no one to ask.
            if z.said_by and z.said_by not in named and z.origin == WisdomOrigin.TAUGHT:
                named.add(z.said_by)
                out.append(Contact(z.said_by, z.teller_departed, f"told kb: {z.title}"))
        # Current people first: they are whom to ask; who left is who knew.
        return sorted(out, key=lambda c: c.departed)


def _clean(path: str) -> str:
    path = path.strip().replace("\\", "/")
    path = re.sub(r"^\./+", "", path)
    return path.strip("/")


def _rank(z: DangerZone) -> tuple[int, int, int, str]:
    return (
        SCOPES.index(z.scope),
        -SEVERITY_RANK.get(Severity(z.severity), 0),
        0 if z.kind == WisdomKind.DANGER_ZONE else 1,
        z.id,
    )
