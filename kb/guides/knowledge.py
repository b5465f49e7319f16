"""What the onboarding guide and the agent context files cite, read once per guide.

`GuideFacts` holds every active wisdom entry with its stale reasons and source, the
decision records, the services and the docs of the repositories, and turns each into a
cited `Item`. Which wisdom goes where is one pure rule, `section_of`:

- `danger_zone` entries are "do NOT touch", except code comments marked HACK, XXX or FIXME:
  those explain a surprise in the code ("Stripe reports soft declines as a 200"), so they are
  "against intuition", with `counterintuitive` entries;
- `unwritten_rule` entries are unwritten rules, `first_week` entries the first week;
- `incident` entries (postmortem lessons) and `known_issue` entries are lessons;
- `design_rationale` entries stand for their ADRs (the key decisions).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from kb.analysis.catalog import AdrList, AdrRecord
from kb.analysis.servicemap.graph import load_graph
from kb.analysis.staleness import StaleEntry
from kb.contract.kinds import SEVERITY_RANK, DocumentKind, Severity, WisdomKind, WisdomOrigin
from kb.guides.citations import Cite, Item, one_line
from kb.store import catalog as sc
from kb.store import guides as sg
from kb.store import history as sh
from kb.store import risk as sr
from kb.store.reader import Reader
from kb.store.store import Store

_SURPRISE = re.compile(r"^\W*(?:HACK|XXX|FIXME)\b")
_INACTIVE = frozenset({"superseded", "deprecated", "rejected"})


def section_of(row: sr.WisdomRow) -> str | None:
    """The guide section a wisdom entry belongs to (None: it stands for a decision)."""
    kind = row.kind
    if kind == WisdomKind.DANGER_ZONE:
        code = row.document_kind == DocumentKind.CODE
        return "counterintuitive" if code and _SURPRISE.match(row.title) else "danger"
    return {
        WisdomKind.COUNTERINTUITIVE: "counterintuitive",
        WisdomKind.UNWRITTEN_RULE: "rules",
        WisdomKind.FIRST_WEEK: "first_week",
        WisdomKind.INCIDENT: "lessons",
        WisdomKind.KNOWN_ISSUE: "lessons",
    }.get(WisdomKind(kind))


def _day(when: datetime | None) -> str | None:
    return when.date().isoformat() if when else None


def _where(repo: str | None, path: str | None, line: int | None = None) -> str | None:
    loc = ":".join(x for x in (repo, path) if x)
    if loc and line:
        loc += f":{line}"
    return loc or None


@dataclass
class Scope:
    """What a guide covers: one service (its repository and path) or the whole system."""

    service: str | None
    repo: str | None = None
    prefix: str = ""

    def holds(self, service: str | None, repo: str | None, path: str | None = None) -> bool:
        """Whether something of `service` (or at `repo:path`) belongs to this scope."""
        if self.service is None:
            return True
        if service is not None:
            return service == self.service
        if repo is None or repo != self.repo:
            return False
        return not self.prefix or not path or path.startswith(self.prefix)


class GuideFacts:
    """Stored knowledge read once, and made into cited items."""

    def __init__(self, store: Store, reader: Reader, stale: list[StaleEntry], adrs: AdrList):
        self.store = store
        self.reader = reader
        self.rows = sr.wisdom_rows(store)
        self.stale = {e.entry.external_id: [r.detail for r in e.reasons] for e in stale}
        self.adrs = adrs.adrs
        self.services = sc.services(store)
        self.graph = load_graph(reader)
        docs = {r.document_external_id for r in self.rows if r.document_external_id}
        lines = {
            r.document_external_id: r.line for r in self.rows if r.document_external_id and r.line
        }
        self.links = sc.source_links(store, docs, lines)
        self.wisdom_urls = sh.wisdom_links(reader)
        # An ADR is stale when the rationale extracted from it is.
        self.doc_stale: dict[str, list[str]] = {}
        for r in self.rows:
            if r.document_external_id and r.external_id in self.stale:
                self.doc_stale.setdefault(r.document_external_id, []).extend(
                    self.stale[r.external_id]
                )

    # -- scope ----------------------------------------------------------------------------

    def scope(self, service: str | None) -> Scope:
        """The scope of a guide to `service` (the whole system for None)."""
        if service is None:
            return Scope(None)
        for s in self.services:
            if s.name == service:
                return Scope(s.name, s.repo, s.path_prefix.strip("/"))
        return Scope(service)

    def service_repos(self) -> set[str]:
        """Repositories that hold a service (the others are the organisation's own)."""
        return {s.repo for s in self.services if s.repo}

    # -- wisdom ---------------------------------------------------------------------------

    def wisdom(self, scope: Scope, section: str) -> list[sr.WisdomRow]:
        """The active entries of a section in scope, most severe first, hotspots last."""
        rows = [
            r
            for r in self.rows
            if section_of(r) == section and scope.holds(r.service, r.repo, r.path_glob)
        ]
        return sorted(rows, key=_rank)

    def item(self, row: sr.WisdomRow) -> Item:
        """A wisdom entry as a cited item, flagged when stale."""
        title = one_line(row.title, 200)
        first = one_line(row.body.split("\n\n", 1)[0], 300)
        if first.startswith(title.rstrip("…").rstrip()):
            # The title is the body's first line cut short: say the whole first paragraph.
            text, detail = first, None
        else:
            text, detail = title, one_line(row.body) or None
        return Item(
            text=text,
            cites=[self.cite(row)],
            detail=detail,
            service=row.service,
            severity=row.severity,
            id=row.external_id,
            stale=list(self.stale.get(row.external_id, [])),
        )

    def cite(self, row: sr.WisdomRow) -> Cite:
        """Where an entry comes from: a note and its teller, its document, or git history."""
        url = self.wisdom_urls.get(row.external_id)
        day = _day(row.created_at)
        if row.origin in (WisdomOrigin.TAUGHT, WisdomOrigin.AGENT_TAUGHT):
            kind = "note" if row.origin == WisdomOrigin.TAUGHT else "agent note"
            where = _where(row.repo, row.path_glob, row.line) or row.service
            return Cite(kind, one_line(row.title, 80), where, url, row.said_by or "?", day)
        link = self.links.get(row.document_external_id or "")
        if link is not None:
            where = _where(link.repo, link.path, row.line if link.path == row.path_glob else None)
            return Cite(link.kind, link.title, where, link.url or url, row.said_by)
        if row.external_id.startswith(sr.HOTSPOT_PREFIX):
            where = _where(row.repo, row.path_glob)
            return Cite("history", f"git history of {row.path_glob}", where, url)
        return Cite(
            row.kind, one_line(row.title, 80), _where(row.repo, row.path_glob), url, row.said_by
        )

    # -- decisions ------------------------------------------------------------------------

    def decisions(self, scope: Scope) -> list[AdrRecord]:
        """The decision records in scope: the service's, or those of every repository."""
        return [a for a in self.adrs if scope.holds(a.row.service, a.row.repo, a.row.path)]

    def adr_cite(self, adr: AdrRecord) -> Cite:
        """An ADR as a source."""
        r = adr.row
        return Cite("adr", r.title, _where(r.repo, r.path), r.url, None, _adr_day(adr))

    def adr_item(self, adr: AdrRecord) -> Item:
        """A decision with its status, what it supersedes and what superseded it."""
        r = adr.row
        status = r.status or "unknown"
        text = f"{r.title} — **{status}**"
        if adr.superseded_by:
            text += "; superseded by " + ", ".join(a.title for a in adr.superseded_by)
        if adr.supersedes:
            text += "; supersedes " + ", ".join(a.title for a in adr.supersedes)
        return Item(
            text=text,
            cites=[self.adr_cite(adr)],
            service=r.service,
            id=r.external_id,
            stale=list(dict.fromkeys(self.doc_stale.get(r.external_id, []))),
        )

    def replaced(self, scope: Scope) -> list[Item]:
        """Decisions no longer in force: what the code or older docs may still suggest."""
        out = []
        for adr in self.decisions(scope):
            if (adr.row.status or "") not in _INACTIVE:
                continue
            now = ", ".join(a.title for a in adr.superseded_by)
            text = f"{adr.row.title} is {adr.row.status}" + (
                f": follow {now} instead" if now else ": it is no longer in force"
            )
            cites = [self.adr_cite(adr)]
            by_id = {a.row.external_id: a for a in self.adrs}
            cites += [self.adr_cite(by_id[a.id]) for a in adr.superseded_by if a.id in by_id]
            out.append(Item(text, cites, service=adr.row.service, id=adr.row.external_id))
        return out

    # -- documents ------------------------------------------------------------------------

    def docs(
        self, repos: set[str], kinds: tuple[DocumentKind, ...] = (DocumentKind.DOC,)
    ) -> list[sg.DocRow]:
        """Documents of `kinds` in `repos`."""
        return sg.documents(self.store, kinds, repos) if repos else []

    @staticmethod
    def doc_cite(doc: sg.DocRow) -> Cite:
        """A document as a source."""
        return Cite(
            doc.kind, doc.title, _where(doc.repo, doc.path), doc.url, None, _day(doc.created_at)
        )


def _adr_day(adr: AdrRecord) -> str | None:
    if adr.row.created_at is not None:
        return adr.row.created_at.date().isoformat()
    date = adr.row.meta.get("date")
    return str(date) if date else None


def _rank(row: sr.WisdomRow) -> tuple[int, int, str, str]:
    hotspot = row.external_id.startswith(sr.HOTSPOT_PREFIX)
    severity = SEVERITY_RANK.get(Severity(row.severity), 0)
    return (hotspot, -severity, row.service or "", row.external_id)
