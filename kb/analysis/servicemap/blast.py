"""`kb blast-radius SERVICE`: who depends on a service, transitively, by path and kind.

A caller waits on a synchronous call (HTTP, gRPC), so when the service fails its callers
fail, and their callers in turn. An event consumer does not wait: when its producer fails,
its work queues (nothing arrives, or messages pile up) but it stays up. A dependent reached
through any event on its path is therefore "queues"; one reached through sync calls only is
"fails". Services sharing its database are listed apart ("shares data"). Libraries are build
time, not run time: `kb impact` covers them.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Any

from kb.analysis.servicemap.graph import (
    ASYNC_KINDS,
    DATA_KINDS,
    SYNC_KINDS,
    Edge,
    Location,
    ServiceGraph,
)

FAILS = "fails"
QUEUES = "queues"
SHARES_DATA = "shares data"


@dataclass(frozen=True)
class Hop:
    """A dependent: how the failure reaches it (path from the failing service), at what depth."""

    service: str
    effect: str  # fails | queues | shares data
    depth: int
    path: list[str]
    kinds: list[str]
    vias: list[str]
    evidence: list[Location | None]

    def to_json(self) -> dict[str, Any]:
        """{"service", "effect", "depth", "path", "kinds", "via", "evidence"}."""
        return {
            "service": self.service,
            "effect": self.effect,
            "depth": self.depth,
            "path": list(self.path),
            "kinds": list(self.kinds),
            "via": list(self.vias),
            "evidence": [loc.to_json() if loc else None for loc in self.evidence],
        }


@dataclass
class BlastRadius:
    """Who fails and whose work queues when `service` fails, each with its path."""

    service: str
    fails: list[str]
    queues: list[str]
    hops: list[Hop] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        """{"service", "fails", "queues", "dependents": [hop...]}."""
        return {
            "service": self.service,
            "fails": list(self.fails),
            "queues": list(self.queues),
            "dependents": [h.to_json() for h in self.hops],
        }

    def to_markdown(self) -> str:
        """Who fails, whose work queues, and each path with its evidence."""
        out = [f"# Blast radius of {self.service}", ""]
        if not self.hops:
            return "\n".join([*out, "Nothing depends on it.", ""])
        out.append(
            f"**Fail with it** (sync calls only): {', '.join(self.fails) or 'none'}.  \n"
            f"**Their work queues** (an event on the way): {', '.join(self.queues) or 'none'}."
        )
        out += [
            "",
            "| service | effect | depth | path | evidence |",
            "| --- | --- | --- | --- | --- |",
        ]
        for h in self.hops:
            steps = [h.path[0]]
            for name, kind, via in zip(h.path[1:], h.kinds, h.vias, strict=True):
                steps.append(f"→ {name} ({kind}{': ' + via if via else ''})")
            ev = next((str(loc) for loc in reversed(h.evidence) if loc), "")
            out.append(f"| {h.service} | {h.effect} | {h.depth} | {' '.join(steps)} | {ev} |")
        return "\n".join(out) + "\n"


def _dependents_of(graph: ServiceGraph) -> dict[str, list[tuple[str, Edge]]]:
    """service -> [(a service depending on it, the edge)] for run-time edges."""
    out: dict[str, list[tuple[str, Edge]]] = {}
    for e in graph.edges:
        if e.kind in SYNC_KINDS:  # the caller depends on the callee
            out.setdefault(e.to, []).append((e.from_, e))
        elif e.kind in ASYNC_KINDS:  # the consumer depends on the producer
            out.setdefault(e.from_, []).append((e.to, e))
    return out


def blast_radius(graph: ServiceGraph, service: str) -> BlastRadius:
    """Breadth first from `service`: sync-only paths first (fails), then any path (queues)."""
    deps = _dependents_of(graph)
    hops: dict[str, Hop] = {}
    origin = Hop(service, FAILS, 0, [service], [], [], [])
    for sync_only in (True, False):
        # The second pass also spreads from everything that fails: its consumers queue.
        queue: deque[Hop] = deque([origin, *hops.values()])
        seen = {service} | set(hops)
        while queue:
            at = queue.popleft()
            for dependent, edge in deps.get(at.service, []):
                if dependent in seen or (sync_only and edge.kind not in SYNC_KINDS):
                    continue
                seen.add(dependent)
                kinds = [*at.kinds, edge.kind]
                hop = Hop(
                    dependent,
                    FAILS if all(k in SYNC_KINDS for k in kinds) else QUEUES,
                    at.depth + 1,
                    [*at.path, dependent],
                    kinds,
                    [*at.vias, edge.via],
                    [*at.evidence, _evidence_at(graph, edge, dependent)],
                )
                hops[dependent] = hop
                queue.append(hop)
    for e in graph.edges:
        if e.kind in DATA_KINDS and service in (e.from_, e.to):
            other = e.to if e.from_ == service else e.from_
            if other not in hops:
                ev = _evidence_at(graph, e, other)
                hops[other] = Hop(other, SHARES_DATA, 1, [service, other], [e.kind], [e.via], [ev])
    ordered = sorted(hops.values(), key=lambda h: (h.depth, h.effect != FAILS, h.service))
    return BlastRadius(
        service,
        [h.service for h in ordered if h.effect == FAILS],
        [h.service for h in ordered if h.effect == QUEUES],
        ordered,
    )


def _evidence_at(graph: ServiceGraph, edge: Edge, dependent: str) -> Location | None:
    """The edge's evidence in the dependent's own code when there is some, else its first."""
    node = graph.service(dependent)
    for loc in edge.evidence:
        if node is not None and loc.repo == node.repo and loc.path.startswith(node.path):
            return loc
    return edge.evidence[0] if edge.evidence else None
