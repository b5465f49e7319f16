"""The changes an incident plan suspects: commits and deploy announcements in the window
before the incident, in the service and what it depends on, scored by `correlation`.

A commit goes live at the first deploy of its repository announced after it (the deploy of
a later commit ships it too); when its repository announces deploys but none came after it,
it is not live yet and keeps half its score. A deploy whose commit kb does not hold is a
change of its own.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from kb.analysis.dangerzones import covers
from kb.analysis.hotspots import HotspotService
from kb.analysis.staleness import StalenessService
from kb.contract.kinds import WisdomKind
from kb.errors import NotFoundError
from kb.guides.correlation import ChangeEvidence, correlate, only_docs, path_kinds
from kb.guides.deploys import (
    Deploy,
    channel_of,
    is_deploy_channel,
    parse_deploys,
    split_patterns,
)
from kb.guides.incident_plan import RecentChange
from kb.guides.mapview import MapNode, ServiceMap, distances
from kb.store import changes as sc
from kb.store import history as sh
from kb.store.reader import Reader
from kb.store.risk import WisdomRow

HOTSPOTS_PER_REPO = 15


@dataclass
class _Candidate:
    service: str
    distance: int
    change: sc.Change | None
    deploy: Deploy | None


class ChangeFinder:
    """Finds and scores the changes before an incident."""

    def __init__(
        self,
        reader: Reader,
        hotspots: HotspotService,
        staleness: StalenessService,
        deploy_channels: str,
        deploy_pattern: str,
    ) -> None:
        self.reader = reader
        self.hotspots = hotspots
        self.staleness = staleness
        self.channels = split_patterns(deploy_channels)
        self.pattern = deploy_pattern
        self._hot: dict[str, set[str]] = {}
        self._zones: list[WisdomRow] = []
        self._people: dict[int, sh.PersonRow] = {}

    def deploys(self, services: Sequence[str], start: datetime, end: datetime) -> list[Deploy]:
        """Deploy announcements of `services` in [start, end], oldest first."""
        out = []
        for doc in sc.chat_documents(self.reader, ["#"], start, end):
            if not is_deploy_channel(channel_of(doc.title), self.channels):
                continue
            for d in parse_deploys(doc.body, services, self.pattern, doc.url):
                if start <= d.at <= end:
                    out.append(d)
        return sorted(out, key=lambda d: d.at)

    def recent(
        self, graph: ServiceMap, service: str, at: datetime, since: timedelta
    ) -> list[RecentChange]:
        """The changes of the `since` before `at`, strongest correlation first."""
        dist = distances(graph, service)
        nodes = {n: node for n in dist if (node := graph.service(n)) is not None and node.repo}
        start = at - since
        commits = sc.changes_between(self.reader, sorted({n.repo or "" for n in nodes.values()}),
                                     start, at)  # fmt: skip
        deploys = self.deploys(list(dist), start, at)
        by_sha = {c.ref.sha: c for c in commits}
        for c in sc.changes_by_sha(self.reader, [d.sha for d in deploys if d.sha]):
            if c.ref.authored_at <= at:
                by_sha.setdefault(c.ref.sha, c)
        found: dict[str, _Candidate] = {}
        for c in by_sha.values():
            owner = _owner(c, nodes, dist)
            if owner is not None:
                found[c.ref.sha] = _Candidate(owner, dist[owner], c, None)
        for d in deploys:
            match = next((k for k in found if d.sha and k.startswith(d.sha.lower())), None)
            if match is not None:
                found[match].deploy = found[match].deploy or d
            else:
                found[f"deploy:{d.service}:{d.at.isoformat()}"] = _Candidate(
                    d.service, dist.get(d.service, 2), None, d
                )
        shipped: dict[str, list[Deploy]] = {}
        for d in deploys:
            node = nodes.get(d.service)
            if node is not None and node.repo:
                shipped.setdefault(node.repo, []).append(d)
        self._hot = {}
        self._zones = self.staleness.entries(kind=WisdomKind.DANGER_ZONE).entries
        self._people = sh.people(self.reader)
        out = []
        for cand in found.values():
            if cand.change is not None and cand.change.is_merge and cand.deploy is None:
                continue  # its content is in the branch commits
            out.append(self._score(cand, service, at, shipped))
        out.sort(key=lambda r: (-r.score, -(r.deployed_at or r.authored_at or at).timestamp()))
        return out

    def _score(
        self, cand: _Candidate, service: str, at: datetime, shipped: dict[str, list[Deploy]]
    ) -> RecentChange:
        c, d = cand.change, cand.deploy
        touched: dict[str, list[str]] = {}
        paths = c.paths if c is not None else ()
        if c is not None:
            for p in paths:
                for kind in path_kinds(p) - {"docs"}:
                    touched.setdefault(kind, []).append(p)
            zones, hot_zones = self._zones_touched(c.ref.repo, paths)
            if zones:
                touched["danger zone"] = zones
            hot = [p for p in paths if p in self._hotspots(c.ref.repo) or p in hot_zones]
            if hot:
                touched["hotspot"] = hot
        live = d.at if d is not None else None
        not_live = False
        if c is not None and d is None:
            later = [x for x in shipped.get(c.ref.repo, []) if x.at >= c.ref.authored_at]
            if later:
                live, d = later[0].at, None
            not_live = bool(shipped.get(c.ref.repo)) and not later
        if live is not None:
            touched["deployed"] = []
        authored = c.ref.authored_at if c is not None else None
        ev = ChangeEvidence(
            live_at=live or authored or at,
            distance=cand.distance,
            touched=touched,
            author_departed=self._departed(c),
            docs_only=only_docs(paths),
        )
        corr = correlate(ev, at, service)
        score = corr.score
        if not_live:
            score *= 0.5
            corr.reasons.append("no deploy announced after it")
        return RecentChange(
            service=cand.service,
            repo=c.ref.repo if c is not None else cand.service,
            sha=c.ref.sha if c is not None else (d.sha if d else None),
            subject=c.ref.subject if c is not None else (d.text if d else ""),
            author=c.ref.author if c is not None else (d.by if d else ""),
            authored_at=authored,
            deployed_at=live,
            distance=cand.distance,
            url=c.ref.url if c is not None else (d.url if d else None),
            score=score,
            reasons=corr.reasons,
            minutes_before=corr.minutes_before,
            deploy=d.to_json() if d is not None else None,
        )

    def _zones_touched(self, repo: str, paths: Sequence[str]) -> tuple[list[str], set[str]]:
        """The danger zones the paths fall in, and the paths of hotspot-made ones (a file
        that breaks often is a hotspot, not a second kind of evidence)."""
        zones, hot = [], set()
        for w in self._zones:
            if w.repo != repo or not w.path_glob:
                continue
            inside = [p for p in paths if covers(w.path_glob, p)]
            if inside and "hotspot" in (w.meta or {}):
                hot.update(inside)
            elif inside:
                zones.append(w.title)
        return zones, hot

    def _hotspots(self, repo: str) -> set[str]:
        if repo not in self._hot:
            try:
                report = self.hotspots.hotspots(repo, limit=HOTSPOTS_PER_REPO)
                self._hot[repo] = {h.path for h in report if h.troubled}
            except NotFoundError:  # a repository without history has no hotspots
                self._hot[repo] = set()
        return self._hot[repo]

    def _departed(self, c: sc.Change | None) -> bool:
        if c is None or c.author_person_id is None:
            return False
        person = self._people.get(c.author_person_id)
        return person is not None and self.hotspots.busfactor.is_departed(person)


def _owner(c: sc.Change, nodes: dict[str, MapNode], dist: dict[str, int]) -> str | None:
    """The nearest service whose repository (and path, in a monorepo) the change touched."""
    best = None
    for name, node in nodes.items():
        if node.repo != c.ref.repo:
            continue
        prefix = node.path.strip("/")
        if prefix and c.paths and not any(covers(prefix, p) for p in c.paths):
            continue
        if best is None or dist[name] < dist[best]:
            best = name
    return best
