"""`KB.servicemap`: the service map and every analysis over it, one typed result each.

`map()` draws the graph, `blast_radius()` follows dependents, `impact()` finds who consumes a
contract, topic, RPC or endpoint, `coupling()` finds services that change together,
`contracts()` audits the calls against the specs, `assess()` weighs whether a service should
stay separate. The graph is read once per change of the stored facts.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from kb.analysis.servicemap.blast import BlastRadius, blast_radius
from kb.analysis.servicemap.graph import ServiceGraph, load_graph
from kb.analysis.servicemap.render import ServiceMap, neighbourhood
from kb.errors import NotFoundError
from kb.store.reader import Reader

if TYPE_CHECKING:
    from kb.analysis.experts import ExpertService
    from kb.analysis.servicemap.assess import Assessment
    from kb.analysis.servicemap.contracts import ContractAudit
    from kb.analysis.servicemap.coupling import Coupling
    from kb.analysis.servicemap.impact import Impact


class ServiceMapService:
    """The service map over the stored facts; `experts()` says who needs to hear of a change."""

    def __init__(self, reader: Reader, experts: Callable[[], ExpertService] | None = None) -> None:
        self.reader = reader
        self._experts = experts  # built on first need: `kb map` never loads it
        self._lock = threading.Lock()
        self._cached: tuple[tuple[Any, ...], ServiceGraph] | None = None

    def graph(self) -> ServiceGraph:
        """The stored graph, reread only when the stored facts changed."""
        from kb.store.history import kb_version

        version = kb_version(self.reader)
        with self._lock:
            if self._cached is not None and self._cached[0] == version:
                return self._cached[1]
        graph = load_graph(self.reader)
        with self._lock:
            self._cached = (version, graph)
        return graph

    def resolve(self, name: str) -> str:
        """The service `name` means (by name or alias), or NotFoundError listing the known."""
        graph = self.graph()
        node = graph.service(name)
        if node is None:
            known = ", ".join(graph.names()) or "none"
            raise NotFoundError(f"no service {name!r} (kb knows: {known})")
        return node.name

    def map(self, service: str | None = None, depth: int | None = None) -> ServiceMap:
        """The whole map, or the services within `depth` edges of `service` (default 1)."""
        graph = self.graph()
        if service is None:
            return ServiceMap(graph, unreadable=self.unreadable())
        name = self.resolve(service)
        depth = 1 if depth is None else depth
        return ServiceMap(neighbourhood(graph, name, depth), name, depth, self.unreadable())

    def evidence_links(self, smap: ServiceMap | None = None) -> dict[str, str]:
        """Web links to the evidence of every edge of `smap` (default: the whole map), keyed
        `repo:path:line` (`repo:path` for a whole file), at the commit kb ingested.

        Only repositories with a web remote (or `--web-url`) get links.
        """
        from kb.contract.weblinks import file_url
        from kb.store.service_graph import repo_web_links

        repos = repo_web_links(self.reader)
        links: dict[str, str] = {}
        for edge in (smap or self.map()).graph.edges:
            for loc in edge.evidence:
                if loc.repo in repos:
                    web_url, forge, head = repos[loc.repo]
                    links[str(loc)] = file_url(web_url, forge, head, loc.path, loc.line)
        return links

    def unreadable(self) -> list[dict[str, str]]:
        """What the last ingest of each repository could not read, with file:line."""
        from kb.store.history import source_rows

        return [
            {"where": str(f.get("where", "")), "message": str(f.get("message", ""))}
            for row in source_rows(self.reader)
            if row.kind == "git"
            for f in (row.last_report or {}).get("failures", []) or []
        ]

    def blast_radius(self, service: str) -> BlastRadius:
        """Who fails (sync paths) and whose work queues (async paths) when `service` fails."""
        return blast_radius(self.graph(), self.resolve(service))

    def coupling(self, min_support: int = 3, window_hours: float = 0.5) -> Coupling:
        """Services that change together, the undeclared pairs flagged."""
        from kb.analysis.servicemap.coupling import coupling

        return coupling(self.reader, self.graph(), min_support, window_hours)

    def impact(self, target: str) -> Impact:
        """Who consumes a contract path, topic, RPC or endpoint; what changes with it; who
        needs to hear."""
        from kb.analysis.servicemap.impact import impact

        return impact(self.reader, self.graph(), target, self._experts() if self._experts else None)

    def contracts(self, service: str | None = None) -> ContractAudit:
        """Calls and topics the contracts lack, errors never handled, endpoints nobody calls."""
        from kb.analysis.servicemap.contracts import audit

        return audit(self.reader, self.graph(), self.resolve(service) if service else None)

    def assess(self, service: str | None = None) -> Assessment:
        """Keep separate or consider merging, per service, with reasons and evidence."""
        from kb.analysis.servicemap.assess import assess

        names = [self.resolve(service)] if service else None
        return assess(self.reader, self.graph(), names, self.coupling())
