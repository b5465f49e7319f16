"""A service's neighbours on the stored service graph, said the way a person reads them.

The edges come from `kb.analysis.servicemap.graph` (sync edges run caller -> callee, async
edges producer -> consumer, library edges user -> library); this module only phrases each
one from the point of view of one service and cites where it shows.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from kb.analysis.servicemap.graph import Edge, ServiceGraph
from kb.guides.citations import Cite

# (kind, outgoing?) -> how the service relates to the other end.
_PHRASES = {
    ("async_event", True): "publishes to",
    ("async_event", False): "consumes from",
    ("shared_db", True): "shares a database with",
    ("shared_db", False): "shares a database with",
    ("library", True): "uses the library",
    ("library", False): "is used as a library by",
}


@dataclass(frozen=True)
class Neighbour:
    """One edge seen from a service: the other end, how, via what, where it shows."""

    other: str
    kind: str
    via: str
    outgoing: bool
    evidence: tuple[str, ...]
    contracts: tuple[str, ...]

    @property
    def phrase(self) -> str:
        """ "calls", "is called by", "publishes to" ..."""
        if self.kind in ("sync_http", "grpc"):
            return "calls" if self.outgoing else "is called by"
        return _PHRASES.get(
            (self.kind, self.outgoing), "depends on" if self.outgoing else "is depended on by"
        )

    @property
    def sync(self) -> bool:
        """Whether the caller waits for the answer."""
        return self.kind in ("sync_http", "grpc")

    def cites(self) -> list[Cite]:
        """Where the edge shows in code or config (the first two places), else its contract."""
        out = [
            Cite("code", e.split(":", 2)[1] if e.count(":") else e, e) for e in self.evidence[:2]
        ]
        return out or [Cite("contract", c, c) for c in self.contracts[:1]]

    def to_json(self) -> dict[str, Any]:
        """{"service", "kind", "via", "direction", "evidence", "contracts"}."""
        return {
            "service": self.other,
            "kind": self.kind,
            "via": self.via,
            "direction": "out" if self.outgoing else "in",
            "evidence": list(self.evidence),
            "contracts": list(self.contracts),
        }


def _neighbour(edge: Edge, outgoing: bool) -> Neighbour:
    return Neighbour(
        edge.to if outgoing else edge.from_,
        edge.kind,
        edge.via,
        outgoing,
        tuple(str(loc) for loc in edge.evidence),
        tuple(edge.contracts),
    )


def neighbours(graph: ServiceGraph, service: str) -> list[Neighbour]:
    """Every edge of `service`: what it calls and publishes first, then who calls it."""
    out = [_neighbour(e, True) for e in graph.edges if e.from_ == service and e.to != service]
    out += [_neighbour(e, False) for e in graph.edges if e.to == service and e.from_ != service]
    # An edge seen only in configuration adds nothing once the code shows what it calls.
    named = {(n.other, n.kind, n.outgoing) for n in out if n.via}
    out = [n for n in out if n.via or (n.other, n.kind, n.outgoing) not in named]
    return sorted(out, key=lambda n: (not n.outgoing, not n.sync, n.kind, n.other, n.via))
