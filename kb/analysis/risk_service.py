"""The knowledge-risk views a manager looks at: KPIs, the treemap, leavers, risk over time.

Built over the bus-factor and hotspot services; results are kept while the stored facts stay
the same, so a dashboard that redraws on every click recomputes nothing.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any

from kb.analysis.busfactor import BusFactorService
from kb.analysis.hotspots import Hotspot, HotspotService
from kb.analysis.risk_history import MAX_POINTS, RiskHistory, risk_history
from kb.analysis.risk_views import (
    TREEMAP_DEPTH,
    DepartureSimulation,
    KnowledgeTreemap,
    RiskOverview,
    knowledge_treemap,
    risk_overview,
    simulate_departure,
)
from kb.store import history as sh


class KnowledgeRiskService:
    """Overview, treemap, leaver simulation and history of the knowledge risk."""

    def __init__(self, busfactor: BusFactorService, hotspots: HotspotService) -> None:
        self.busfactor = busfactor
        self.hotspots = hotspots
        self.reader = busfactor.reader
        self._cache: dict[tuple[Any, ...], tuple[tuple[Any, ...], Any]] = {}
        self._lock = threading.Lock()

    def _kept(self, key: tuple[Any, ...], version: tuple[Any, ...]) -> Any:
        with self._lock:
            hit = self._cache.get(key)
        return hit[1] if hit is not None and hit[0] == version else None

    def _keep(self, key: tuple[Any, ...], version: tuple[Any, ...], value: Any) -> None:
        with self._lock:
            self._cache[key] = (version, value)

    def people(self) -> list[str]:
        """Names of everyone who authors a file and has not left (the leavers one may pick)."""
        return [p["name"] for p in self.overview().people if not p["departed"]]

    def overview(self, repo: str | None = None) -> RiskOverview:
        """System and per-service truck factor, orphaned share, who alone holds knowledge."""
        return risk_overview(self.busfactor.report(repo=repo))

    def treemap(
        self, leavers: Sequence[str] = (), repo: str | None = None, depth: int = TREEMAP_DEPTH
    ) -> KnowledgeTreemap:
        """Repositories → directories → files with their truck factor and the leavers' share."""
        report = self.busfactor.report(repo=repo, without=leavers)
        sizes = {name: sh.file_sizes(self.reader, name) for name in report.facts}
        return knowledge_treemap(report, sizes, report.without, depth=depth)

    def simulate_departure(
        self, people: Sequence[str], repo: str | None = None
    ) -> DepartureSimulation:
        """What becomes unknowable if `people` (names, emails or handles) leave."""
        report = self.busfactor.report(repo=repo, without=people)
        return simulate_departure(report, report.without, self._hotspots(repo))

    def history(self, repo: str | None = None, max_points: int = MAX_POINTS) -> RiskHistory:
        """The truck factor and orphaned share as of each month of the stored history."""
        version = sh.facts_version(self.reader)
        key = ("history", repo, max_points)
        kept = self._kept(key, version)
        if kept is not None:
            return kept
        report = self.busfactor.report(repo=repo)
        people = sh.people(self.reader)
        left_at = {
            key: people[d.person_id].left_at
            for key, d in report.developers.items()
            if d.person_id is not None and d.person_id in people
        }
        out = risk_history(
            report, left_at, self.busfactor.departed_after_days, max_points=max_points
        )
        self._keep(key, version, out)
        return out

    def _hotspots(self, repo: str | None) -> list[Hotspot]:
        version = sh.kb_version(self.reader)
        key = ("hotspots", repo)
        kept = self._kept(key, version)
        if kept is None:
            kept = list(self.hotspots.hotspots(repo=repo, limit=None))
            self._keep(key, version, kept)
        return kept
