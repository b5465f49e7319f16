"""The onboarding guide: what a senior would tell a new hire, from the stores, every item cited.

`OnboardingService.guide(service=None)` writes the guide to the whole system or to one
service, in nine sections: the system overview with its map, the first week, what not to
touch, what goes against intuition, lessons from past incidents, unwritten rules, key
decisions (ADRs with their status and successors), who to ask per service (people who left
are not offered) and the open knowledge gaps. Each item cites its sources and is flagged
stale when its anchor changed or its teller left (`kb.analysis.staleness`).

No LLM writes it. With one configured, each section's one-sentence introduction may be
smoothed (`kb.guides.prose`); the items and their citations are never sent back through it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from kb.analysis.experts import ExpertService
from kb.analysis.incidents import IncidentLog
from kb.answer.gaps import KnowledgeGaps
from kb.errors import NotFoundError
from kb.guides.citations import Cite, Footnotes, Item, Section, one_line
from kb.guides.docs_text import ONBOARDING_DOC, is_first_week, list_items
from kb.guides.knowledge import GuideFacts, Scope
from kb.guides.neighbours import neighbours
from kb.store import history as sh

if TYPE_CHECKING:
    from kb.guides.prose import Smoother

HOTSPOTS_SYSTEM, HOTSPOTS_SERVICE = 5, 3  # hotspot danger zones listed
EXPERTS = 3
# Documents every newcomer reads, by file name (README, architecture, runbook ...).
_READ_FIRST = ("readme", "architecture", "runbook", "operations", "oncall", "services")
MapView = Callable[[str | None], str | None]  # the Mermaid map of the system or a service


@dataclass
class OnboardingGuide:
    """The guide: its scope, kb's "now", the map and the cited sections."""

    service: str | None
    as_of: datetime | None
    sections: list[Section]
    mermaid: str | None = None
    smoothed_by: str | None = None

    def to_json(self) -> dict[str, Any]:
        """The stable `kb onboarding --json` object."""
        return {
            "service": self.service,
            "as_of": self.as_of.isoformat() if self.as_of else None,
            "map": {"mermaid": self.mermaid},
            "smoothed_by": self.smoothed_by,
            "sections": [s.to_json() for s in self.sections],
            "stale": sum(bool(i.stale) for s in self.sections for i in s.items),
        }

    def to_markdown(self) -> str:
        """The guide as one markdown page, its sources numbered at the end."""
        scope = self.service or "the whole system"
        when = f" as of {self.as_of.date().isoformat()}" if self.as_of else ""
        lines = [f"# Onboarding: {scope}", ""]
        lines += [
            f"_Written by kb from what it has stored{when}. Every item cites its source; "
            f"⚠ marks one to re-verify. Regenerate with `kb onboarding"
            f"{' --service ' + self.service if self.service else ''}`._",
            "",
        ]
        notes = Footnotes()
        for section in self.sections:
            body = section.to_markdown(notes)
            if section.key == "overview" and self.mermaid:
                body[2:2] = ["```mermaid", self.mermaid.strip(), "```", ""]
            lines += body
        return "\n".join(lines + notes.to_markdown())


class OnboardingService:
    """Writes onboarding guides from stored knowledge."""

    def __init__(
        self,
        facts: Callable[[], GuideFacts],
        experts: ExpertService,
        incidents: Callable[[str | None], IncidentLog],
        gaps: Callable[[], KnowledgeGaps],
        service_map: MapView | None = None,
        smoother: Smoother | None = None,
    ) -> None:
        self.facts = facts
        self.experts = experts
        self.incidents = incidents
        self.gaps = gaps
        self.service_map = service_map
        self.smoother = smoother

    def guide(self, service: str | None = None) -> OnboardingGuide:
        """The guide to the whole system (None) or to one service."""
        f = self.facts()
        if service is not None and service not in {s.name for s in f.services}:
            known = ", ".join(s.name for s in f.services) or "none"
            raise NotFoundError(f"no service {service!r} (kb knows: {known})")
        scope = f.scope(service)
        sections = [
            self._overview(f, scope),
            self._first_week(f, scope),
            _wisdom_section(
                f,
                scope,
                "danger",
                "Do NOT touch",
                "Danger zones: code and data that break things when changed "
                "carelessly. Ask before editing them.",
                'kb knows no danger zone here. Teach one: `kb remember --kind danger_zone "…"`.',
            ),
            self._counterintuitive(f, scope),
            self._lessons(f, scope),
            self._rules(f, scope),
            self._decisions(f, scope),
            self._who(f, scope),
            self._gaps(scope),
        ]
        mermaid = self.service_map(service) if self.service_map is not None else None
        guide = OnboardingGuide(service, sh.latest_activity(f.reader), sections, mermaid)
        if self.smoother is not None:
            guide.smoothed_by = self.smoother.smooth(guide.sections)
        return guide

    # -- sections -------------------------------------------------------------------------

    def _overview(self, f: GuideFacts, scope: Scope) -> Section:
        readmes = {
            d.repo: d for d in f.docs(f.service_repos()) if (d.path or "").lower() == "readme.md"
        }
        items = []
        for s in f.services:
            if not scope.holds(s.name, s.repo):
                continue
            team = f" (team {s.owner_team})" if s.owner_team else ""
            text = f"**{s.name}**{team}: {one_line(s.description or 'no description', 240)}"
            doc = readmes.get(s.repo)
            cite = f.doc_cite(doc) if doc else Cite("service", s.name, s.repo)
            items.append(Item(text, [cite], service=s.name, id=f"service:{s.name}"))
        if scope.service is not None and scope.repo is not None:
            items += _edges(f, scope)
        what = (
            "the services kb knows" if scope.service is None else "the service and its neighbours"
        )
        return Section(
            "overview",
            "System overview",
            f"The map shows {what}: calls run caller → callee, events producer → consumer.",
            items,
            "kb knows no service yet: ingest the repositories (`kb ingest git PATH`).",
        )

    def _first_week(self, f: GuideFacts, scope: Scope) -> Section:
        items = [f.item(r) for r in f.wisdom(scope, "first_week")]
        for doc, li in _onboarding_items(f, scope):
            if is_first_week(li):
                items.append(Item(one_line(li.text), [f.doc_cite(doc)], id=doc.external_id))
        repos = _scope_repos(f, scope)
        for doc in f.docs(repos):
            stem = (doc.path or "").rsplit("/", 1)[-1].lower()
            if stem.startswith(_READ_FIRST):
                what = f"the {doc.repo} README" if stem == "readme.md" else doc.title
                items.append(Item(f"Read {what}", [f.doc_cite(doc)], id=doc.external_id))
        return Section(
            "first_week",
            "Your first week",
            "What to do and read first.",
            items,
            'kb knows no first-week advice yet. Teach some: `kb remember --kind first_week "…"`.',
        )

    def _counterintuitive(self, f: GuideFacts, scope: Scope) -> Section:
        items = [f.item(r) for r in f.wisdom(scope, "counterintuitive")] + f.replaced(scope)
        return Section(
            "counterintuitive",
            "Things that go against intuition",
            "Where the code or the old documents suggest one thing and the truth is another.",
            items,
            'kb knows no surprise here. Teach one: `kb remember --kind counterintuitive "…"`.',
        )

    def _lessons(self, f: GuideFacts, scope: Scope) -> Section:
        lessons = {r.path_glob: r for r in f.wisdom(scope, "lessons") if r.kind == "incident"}
        items, labels = [], []
        for entry in self.incidents(scope.service).incidents:
            r = entry.row
            if not (r.postmortem or r.root_cause or r.resolution):
                continue  # an alert nobody wrote up teaches nothing yet
            cites, stale = [], []
            if r.postmortem:
                pm = r.postmortem
                cites.append(
                    Cite(
                        "postmortem",
                        pm["title"],
                        ":".join(x for x in (pm.get("repo"), pm.get("path")) if x),
                        pm.get("url"),
                    )
                )
                lesson = lessons.pop(pm.get("path"), None)
                if lesson is not None:
                    stale = list(f.stale.get(lesson.external_id, []))
            cites += [
                Cite("slack", one_line(t["title"], 90), r.channel and f"#{r.channel}", t.get("url"))
                for t in r.threads[:2]
            ]
            cites += [
                Cite(
                    "commit",
                    c["subject"],
                    f"{c['repo']}@{c['sha'][:10]}",
                    c["url"],
                    c["author"],
                    c["date"],
                )
                for c in entry.changes
                if c["why"].startswith("names") and c["fix"]
            ][:2]
            if not cites:
                continue
            labels.append(r.label)
            title = r.title.removeprefix(r.label).strip(" :-—") or r.title
            when = r.started_at.date().isoformat() if r.started_at else "date unknown"
            detail = " ".join(
                x
                for x in (
                    r.root_cause and f"Cause: {one_line(r.root_cause, 220)}",
                    r.resolution and f"Fix: {one_line(r.resolution, 220)}",
                )
                if x
            )
            items.append(
                Item(
                    f"**{r.label}** {title} ({when})",
                    cites,
                    detail or None,
                    ", ".join(r.services) or None,
                    r.severity,
                    r.external_id,
                    stale,
                )
            )
        items += [f.item(r) for r in lessons.values()]
        # A known issue written for an incident listed above is that incident's own lesson.
        items += [
            f.item(r)
            for r in f.wisdom(scope, "lessons")
            if r.kind != "incident" and not any(lb in r.title for lb in labels)
        ]
        return Section(
            "lessons",
            "Lessons from past incidents",
            "What broke, why, and what fixed it.",
            items,
            "kb knows no incident here.",
        )

    def _rules(self, f: GuideFacts, scope: Scope) -> Section:
        items = [f.item(r) for r in f.wisdom(scope, "rules")]
        for doc, li in _onboarding_items(f, scope):
            if not is_first_week(li):
                items.append(Item(one_line(li.text), [f.doc_cite(doc)], id=doc.external_id))
        return Section(
            "rules",
            "Unwritten rules",
            "How things are done here, though no linter checks it.",
            items,
            'kb knows no unwritten rule here. Teach one: `kb remember "…"`.',
        )

    def _decisions(self, f: GuideFacts, scope: Scope) -> Section:
        items = [f.adr_item(a) for a in f.decisions(scope)]
        return Section(
            "decisions",
            "Key decisions",
            "The architecture decision records, with their status and what replaced them.",
            items,
            "kb knows no decision record here.",
        )

    def _who(self, f: GuideFacts, scope: Scope) -> Section:
        items = []
        for s in f.services:
            if not scope.holds(s.name, s.repo) or not s.repo:
                continue
            try:
                experts = self.experts.who(s.name, limit=EXPERTS)
            except NotFoundError:
                continue
            where = f"{s.repo}:{s.path_prefix}" if s.path_prefix else s.repo
            history = Cite("history", f"git history of {where}", where)
            for e in experts.current:
                items.append(
                    Item(
                        f"**{s.name}**: {e.name} — {e.reason()}",
                        [history],
                        service=s.name,
                        id=f"expert:{s.name}:{e.name}",
                    )
                )
            owner = ", ".join(x for x in (s.owner_team and f"team {s.owner_team}", s.owner) if x)
            if owner and not experts.current:
                items.append(
                    Item(
                        f"**{s.name}**: {owner} (owner)",
                        [Cite("service", s.name, s.repo)],
                        service=s.name,
                    )
                )
        return Section(
            "ask",
            "Who to ask",
            "People who know each service now (people who left are not offered).",
            items,
            "kb knows no one to ask yet.",
        )

    def _gaps(self, scope: Scope) -> Section:
        items = []
        for group in self.gaps().groups:
            if scope.service is not None and group.service != scope.service:
                continue
            ask = f"; best placed to answer: {', '.join(group.ask)}" if group.ask else ""
            for q in group.questions:
                why = "unanswered" if not q.answered else "voted down"
                day = q.asked_at.date().isoformat()
                items.append(
                    Item(
                        f"{q.question} ({why}{ask})",
                        [Cite("question", f"asked in kb ({q.id})", q.channel, None, q.asker, day)],
                        service=group.service,
                        id=q.id,
                    )
                )
        return Section(
            "gaps",
            "Open knowledge gaps",
            "Questions kb could not answer well: "
            "whoever learns the answer, teach it (`kb remember`).",
            items,
            "No open question.",
        )


def _wisdom_section(
    f: GuideFacts, scope: Scope, key: str, title: str, intro: str, empty: str
) -> Section:
    rows = f.wisdom(scope, key)
    hotspots = HOTSPOTS_SYSTEM if scope.service is None else HOTSPOTS_SERVICE
    kept, seen = [], 0
    for r in rows:
        if r.external_id.startswith("hotspot:"):
            seen += 1
            if seen > hotspots:
                continue
        kept.append(f.item(r))
    return Section(key, title, intro, kept, empty)


def _scope_repos(f: GuideFacts, scope: Scope) -> set[str]:
    """The organisation's own repositories, and the service's when the guide is to one."""
    org = set(sh.repo_names(f.reader)) - f.service_repos()
    return org | ({scope.repo} if scope.repo else set())


def _onboarding_items(f: GuideFacts, scope: Scope) -> list[tuple[Any, Any]]:
    out = []
    for doc in f.docs(_scope_repos(f, scope)):
        if ONBOARDING_DOC.search(doc.path or ""):
            out += [(doc, li) for li in list_items(doc.body)]
    return out


def _edges(f: GuideFacts, scope: Scope) -> list[Item]:
    """The service's neighbours on the service graph, each cited where the edge shows."""
    items = []
    for n in neighbours(f.graph, scope.service or ""):
        via = f" via `{n.via}`" if n.via else ""
        items.append(
            Item(
                f"{scope.service} {n.phrase} **{n.other}** ({n.kind}{via})",
                n.cites(),
                service=scope.service,
            )
        )
    return items
