"""The incident trace plan of a service and a symptom (`kb incident`), from stored knowledge.

`IncidentService.plan` reads the service map for directions, past incidents for what looked
alike and what resolved it, commits and deploy announcements for what changed, wisdom for the
danger zones, and history for whom to page. With `at` given, it sees only what was known
then: changes, deploys and incidents after `at` are hidden (the back-test relies on it).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kb.analysis.experts import ExpertService
from kb.analysis.hotspots import HotspotService
from kb.analysis.staleness import StalenessService
from kb.contract.kinds import WisdomKind
from kb.errors import NotFoundError
from kb.guides.backtest import Backtest, backtest, symptom_of
from kb.guides.changes import ChangeFinder
from kb.guides.incident_plan import DIRECTIONS, IncidentPlan, Link, PastIncident, Situation
from kb.guides.mapview import Neighbours, ServiceMap, blast_links, neighbours
from kb.guides.paging import pagers
from kb.guides.postmortem import PostmortemDraft, channel_messages, draft
from kb.guides.similarity import classes, likeness
from kb.store import history as sh
from kb.store.reader import Reader

if TYPE_CHECKING:
    from kb.guides.trace_report import TraceReport

SIMILAR_SHOWN = 5
CHANGES_SHOWN = 10
MIN_LIKENESS = 0.2
DANGER_ZONES_SHOWN = 8


_ORDER = {
    "latency": ("sync", "data", "async", "other"),
    "errors": ("sync", "data", "async", "other"),
    "backlog": ("async", "data", "sync", "other"),
    "data": ("async", "data", "sync", "other"),
}


def _group(link: Link) -> str:
    if link.sync:
        return "sync"
    return {"async_event": "async", "shared_db": "data"}.get(link.kind, "other")


def check_order(deps: list[Link], kinds: Sequence[str]) -> list[Link]:
    """Dependencies ordered for the symptom: sync first for timeouts and errors, async first
    for lag, then the best evidenced; one entry per service and kind."""
    order = next((_ORDER[k] for k in ("latency", "errors", "backlog", "data") if k in kinds),
                 _ORDER["latency"])  # fmt: skip
    seen: set[tuple[str, str]] = set()
    out = []
    for link in sorted(deps, key=lambda x: (order.index(_group(x)), -len(x.evidence), x.service)):
        if (link.service, link.kind) not in seen:
            seen.add((link.service, link.kind))
            out.append(link)
    return out


def direction(
    service: str, kinds: Sequence[str], deps: list[Link], trace: dict[str, Any] | None
) -> tuple[str, str]:
    """The likely direction of propagation and its reason."""
    names = {d.service for d in deps}
    if trace:
        for gap in trace.get("gaps") or []:
            if gap["service"] != service and (gap["service"] in names or not names):
                return "from_dependencies", (
                    f"the stitched logs show {gap['service']} never answered "
                    f"{gap.get('caller') or service}: {gap['detail']}"
                )
        first = trace.get("first_error") or {}
        if first.get("service") and first["service"] != service:
            where = "a dependency" if first["service"] in names else "another service"
            return "from_dependencies", (
                f"the first error in the stitched logs is in {first['service']} ({where})"
            )
    sync = [d.service for d in deps if d.sync]
    if {"latency", "errors"} & set(kinds) and sync:
        return "from_dependencies", (
            f"{service} waits on {', '.join(sorted(set(sync)))} synchronously: a slow or failing "
            "callee holds its workers, and its callers time out in turn"
        )
    producers = [d.service for d in deps if d.kind == "async_event"]
    if {"backlog", "data"} & set(kinds) and producers:
        return "from_producers", (
            f"{service} consumes events of {', '.join(sorted(set(producers)))}: a changed or "
            "replayed event upstream shows here first"
        )
    if not deps:
        return "from_service", f"no dependency of {service} is known: the fault is likely its own"
    return "from_service", (
        f"{service} calls nothing synchronously that the symptom points at: start with the "
        "service and its own changes"
    )


class IncidentService:
    """Incident trace plans over the stores, the service map and the analyses."""

    def __init__(
        self,
        reader: Reader,
        graph: Callable[[], ServiceMap],
        experts: ExpertService,
        staleness: StalenessService,
        hotspots: HotspotService,
        deploy_channels: str,
        deploy_pattern: str,
        blast: Callable[[str], Any] | None = None,
    ) -> None:
        self.reader = reader
        self._graph = graph
        self._blast = blast
        self.experts = experts
        self.staleness = staleness
        self.changes = ChangeFinder(reader, hotspots, staleness, deploy_channels, deploy_pattern)

    def now(self) -> datetime:
        """kb's "now": the newest activity stored."""
        return sh.latest_activity(self.reader) or datetime.now(UTC)

    def plan(
        self,
        service: str,
        symptom: str | None = None,
        at: datetime | None = None,
        since: timedelta = timedelta(hours=72),
        logs: Sequence[str | Path] = (),
        tz_by_file: dict[str, str] | None = None,
        exclude: str | None = None,
    ) -> IncidentPlan:
        """The plan for `service` showing `symptom` at `at` (kb's now when None), with the
        changes of the `since` before it and the stitched `logs`. `exclude` hides one
        incident (by label or external id): the one being back-tested."""
        graph = self._graph()
        node = graph.service(service)
        if node is None:
            known = ", ".join(sorted(s.name for s in graph.services)) or "none"
            raise NotFoundError(f"no service {service!r} (kb knows: {known})")
        name = node.name
        at = at or self.now()
        at = at.replace(tzinfo=UTC) if at.tzinfo is None else at  # naive means UTC
        around = neighbours(graph, name)
        if self._blast is not None:  # transitive, with paths: the service map's blast radius
            fails, queues = blast_links(self._blast(name).to_json())
        else:
            fails = [x for x in around.dependents if x.sync]
            queues = [x for x in around.dependents if not x.sync]
        kinds = sorted(classes(symptom or ""))
        trace, trace_md, notes = self._trace(logs, tz_by_file, at)
        way, reason = direction(name, kinds, around.depends_on, trace)
        check = check_order(around.depends_on, kinds)
        similar, pages_open = self._similar(name, symptom, around, at, since, exclude)
        changes = self.changes.recent(graph, name, at, since)
        involved = [name, *dict.fromkeys(c.service for c in check[:3])]
        repos = [n.repo for s in involved if (n := graph.service(s)) and n.repo]
        pages = pagers(self.reader, self.experts, graph, involved[:3])
        return IncidentPlan(
            situation=Situation(name, symptom, at, at - since, way, reason, kinds, pages_open),
            fails=fails,
            queues=queues,
            check_first=check,
            similar=similar,
            known_issues=self._known_issues({name, *(s for p in similar for s in p.services)}, at),
            changes=changes[:CHANGES_SHOWN],
            danger_zones=self._danger_zones(involved, repos)[:DANGER_ZONES_SHOWN],
            page=pages,
            checklist=checklist(name, way, check, changes, similar, pages, bool(logs)),
            trace=trace,
            trace_markdown=trace_md,
            notes=notes,
        )

    # -- sections ---------------------------------------------------------------------------

    def backtest(self, since: timedelta = timedelta(hours=72)) -> Backtest:
        """Every incident's plan made as of its start, scored against its write-up."""
        return backtest(
            self.reader,
            lambda service, symptom, at, window, exclude: self.plan(
                service, symptom=symptom, at=at, since=window, exclude=exclude
            ),
            since,
        )

    def postmortem(
        self,
        incident: str,
        logs: Sequence[str | Path] = (),
        tz_by_file: dict[str, str] | None = None,
    ) -> PostmortemDraft:
        """A postmortem draft of `incident` (its id, e.g. INC-2024-03, or external id)."""
        rows = sh.incident_rows(self.reader)
        want = incident.strip().casefold()
        row = next((r for r in rows if want in (r.label.casefold(), r.external_id.casefold())),
                   None)  # fmt: skip
        if row is None:
            known = ", ".join(r.label for r in rows if r.label.upper().startswith("INC"))
            raise NotFoundError(f"no incident {incident!r} (kb knows: {known or 'none'})")
        graph = self._graph()
        plan = None
        service = next((s for s in row.services if graph.service(s) is not None), None)
        if service is not None and row.started_at is not None:
            plan = self.plan(service, symptom=symptom_of(row.title, row.label),
                             at=row.started_at, exclude=row.label)  # fmt: skip
        trace = self.trace(logs, tz_by_file=tz_by_file).to_json() if logs else None
        return draft(row, channel_messages(self.reader, row), plan, trace)

    def trace(
        self,
        logs: Sequence[str | Path],
        trace_id: str | None = None,
        around: datetime | None = None,
        window: timedelta = timedelta(minutes=10),
        tz_by_file: dict[str, str] | None = None,
    ) -> TraceReport:
        """Stitch `logs` into one timeline, the request's path checked against the map's
        call edges (none when the map has none: then nothing is flagged)."""
        from kb.guides.stitch import stitch_logs

        edges = [(e.from_, e.to) for e in self._graph().edges if e.is_sync]
        return stitch_logs(
            list(logs), trace_id=trace_id, around=around, window=window,
            tz_by_file=tz_by_file, known_edges=edges or None,
        )  # fmt: skip

    def _trace(
        self, logs: Sequence[str | Path], tz_by_file: dict[str, str] | None, at: datetime
    ) -> tuple[dict[str, Any] | None, str | None, list[str]]:
        if not logs:
            return None, None, []
        report = self.trace(logs, tz_by_file=tz_by_file)
        data = report.to_json()
        notes = [
            f"the logs show {h['caller']} → {h['service']}, an edge the service map lacks"
            for h in data["hops"]
            if h["in_service_map"] is False
        ]
        return data, report.to_markdown(), notes

    def _similar(
        self, service: str, symptom: str | None, around: Neighbours, at: datetime,
        since: timedelta, exclude: str | None,
    ) -> tuple[list[PastIncident], list[dict[str, Any]]]:  # fmt: skip
        """Past incidents like this one, best first; and the pages of the window that are
        still open (no cause, no resolution stated): this incident as it was paged."""
        near = {x.service for x in (*around.depends_on, *around.dependents)}
        out = []
        pages = []
        for row in sh.incident_rows(self.reader):
            if exclude in (row.label, row.external_id):
                continue
            if row.started_at is not None and row.started_at >= at:
                continue  # later knowledge is hidden
            if row.ended_at is None or row.ended_at > at:
                continue  # still open then: nothing resolved it yet
            started = row.started_at
            if not (row.root_cause or row.resolution) and started and started >= at - since:
                if {service, *near} & set(row.services):
                    url = row.threads[0].get("url") if row.threads else None
                    pages.append({"id": row.label, "title": row.title,
                                  "started_at": started.isoformat(), "url": url})  # fmt: skip
                continue
            text = " ".join(x or "" for x in (row.title, row.root_cause, row.resolution))
            like = likeness(symptom, service, near, text, row.services, row.started_at, at)
            if like.score < MIN_LIKENESS:
                continue
            out.append(
                PastIncident(
                    row.label, row.title, row.started_at, row.severity, list(row.services),
                    row.root_cause, row.resolution, like.score, like.reasons, _citations(row),
                )
            )  # fmt: skip
        out.sort(key=lambda p: (-p.score, -(p.started_at.timestamp() if p.started_at else 0)))
        return out[:SIMILAR_SHOWN], pages

    def _known_issues(self, services: set[str], at: datetime) -> list[dict[str, Any]]:
        links = sh.wisdom_links(self.reader)
        rows = self.staleness.entries(kind=WisdomKind.KNOWN_ISSUE).entries
        return [
            {"id": w.external_id, "title": w.title, "service": w.service,
             "severity": w.severity, "url": links.get(w.external_id)}
            for w in rows
            if (w.service in services or w.repo in services)
            and (w.created_at is None or w.created_at <= at)
        ]  # fmt: skip

    def _danger_zones(self, services: list[str], repos: list[str]) -> list[dict[str, Any]]:
        links = sh.wisdom_links(self.reader)
        out = []
        for w in self.staleness.entries(kind=WisdomKind.DANGER_ZONE).entries:
            if w.service not in services and w.repo not in repos:
                continue
            where = ":".join(x for x in (w.repo, w.path_glob) if x) or (w.service or "")
            out.append(
                {"id": w.external_id, "title": w.title, "service": w.service, "where": where,
                 "severity": w.severity, "source": links.get(w.external_id)}
            )  # fmt: skip
        order = {"critical": 0, "high": 1, "medium": 2, "low": 3}
        out.sort(key=lambda z: (order.get(str(z["severity"]), 4), z["where"]))
        return out


def _citations(row: sh.IncidentRow) -> list[dict[str, Any]]:
    out = []
    if row.postmortem:
        pm = row.postmortem
        where = ":".join(x for x in (pm.get("repo"), pm.get("path")) if x)
        out.append({"kind": "postmortem", "title": pm["title"], "url": pm.get("url"),
                    "where": where})  # fmt: skip
    for t in row.threads[:2]:
        out.append({"kind": "slack", "title": t["title"], "url": t.get("url"), "where": ""})
    return out


def checklist(
    service: str, way: str, check: list[Link], changes: Sequence[Any],
    similar: list[PastIncident], pages: Sequence[Any], have_logs: bool,
) -> list[str]:  # fmt: skip
    """The on-call checklist, filled with what the plan found."""
    first = ", ".join(c.service for c in check[:3]) or service
    items = [
        "Synchronise timestamps: read every log and dashboard in UTC"
        + (" (the stitched logs below already are)" if have_logs else
           f"; stitch the logs with `kb trace LOG... --around TIME` or `kb incident {service} "
           "--logs LOG...`"),
        f"Direction of propagation: confirm it runs {DIRECTIONS.get(way, way)}: check {first}",
    ]  # fmt: skip
    if changes:
        top = changes[0]
        items.append(f"Changes: rule out {top.headline()} first ({'; '.join(top.reasons[:2])})")
    else:
        items.append("Changes: none in the window; ask in the deploy channel for manual ones")
    fix = next((p.resolution for p in similar if p.resolution), None)
    isolate = f"; last time: {' '.join(fix.split())[:160]}" if fix else ""
    items.append(f"Isolation and rollback: isolate {service}, roll back the suspect change"
                 + isolate)  # fmt: skip
    who = ", ".join(dict.fromkeys(e["name"] for p in pages for e in p.experts[:1]))
    items.append(f"Notify: page {who or 'the owning team'}; tell the owners of the services "
                 "in the blast radius")  # fmt: skip
    return items
