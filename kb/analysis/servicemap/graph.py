"""The service graph as the store holds it: services, evidenced edges, infrastructure.

`load_graph(reader)` reads the stored facts through the driver read model (no ORM, so
`kb map --json` starts fast): services with their owners, dependency edges with every
location that shows them, event topics (async edges run from producer to consumer across
the broker), and the CODEOWNERS rules the Conway check and "who needs to hear" use.
Every analysis of the service map (blast radius, impact, coupling, contracts, assessment)
starts from a `ServiceGraph`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from kb.contract.identity import service_key
from kb.contract.kinds import InfraKind
from kb.store import service_graph as rows
from kb.store.reader import Reader

SYNC_KINDS = frozenset({"sync_http", "grpc"})
ASYNC_KINDS = frozenset({"async_event"})
DATA_KINDS = frozenset({"shared_db"})


@dataclass(frozen=True, slots=True, order=True)
class Location:
    """A place in a repository that shows a fact: repo, path and line (None: whole file)."""

    repo: str
    path: str
    line: int | None = None

    def to_json(self) -> dict[str, Any]:
        """{"repo", "path", "line"}."""
        return {"repo": self.repo, "path": self.path, "line": self.line}

    def __str__(self) -> str:
        where = f"{self.repo}:{self.path}"
        return f"{where}:{self.line}" if self.line is not None else where


@dataclass(slots=True)
class ServiceNode:
    """A service: where its code lives, who owns it, and the other names it goes by."""

    name: str
    repo: str | None
    path: str
    owner: str | None
    aliases: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        """{"name", "repo", "path", "owner", "aliases"}."""
        return {
            "name": self.name,
            "repo": self.repo,
            "path": self.path,
            "owner": self.owner,
            "aliases": list(self.aliases),
        }


@dataclass(slots=True)
class Edge:
    """`from_` depends on / talks to `to`, of a kind, via a topic, RPC, endpoint or setting.

    Sync edges run caller -> callee, async edges producer -> consumer, library edges
    user -> library; a shared_db edge is symmetric (its ends in name order).
    """

    from_: str
    to: str
    kind: str
    via: str
    evidence: list[Location] = field(default_factory=list)
    contracts: list[str] = field(default_factory=list)  # contract files that define `via`

    def to_json(self) -> dict[str, Any]:
        """{"from", "to", "kind", "via", "evidence": [{"repo", "path", "line"}]}."""
        return {
            "from": self.from_,
            "to": self.to,
            "kind": self.kind,
            "via": self.via,
            "evidence": [loc.to_json() for loc in self.evidence],
        }

    @property
    def is_sync(self) -> bool:
        """A call that waits: its callee failing fails the caller."""
        return self.kind in SYNC_KINDS


@dataclass(frozen=True, slots=True)
class Infra:
    """A piece of infrastructure (broker, database, cache, proxy, collector, load generator)."""

    name: str
    kind: str

    def to_json(self) -> dict[str, Any]:
        """{"name", "kind"}."""
        return {"name": self.name, "kind": self.kind}


@dataclass(frozen=True, slots=True)
class EventUse:
    """A service publishes or subscribes to a topic, where, and the contract naming it."""

    service: str
    topic: str
    role: str  # publish | subscribe
    evidence: Location | None
    contract: str | None


@dataclass(frozen=True, slots=True)
class OwnerRule:
    """One CODEOWNERS (or catalogue) rule of a repository."""

    repo: str
    pattern: str
    owner: str
    line: int | None

    def covers(self, folder: str) -> bool:
        """Whether the rule covers a whole service folder ("" = the whole repository)."""
        pattern = self.pattern.strip()
        if pattern in ("*", "/", "/*", "**", "/**"):
            return True
        p = pattern.strip("/").removesuffix("/**").removesuffix("/*").strip("/")
        folder = folder.strip("/")
        if not folder or any(c in p for c in "*?["):
            return False
        return folder == p or folder.startswith(p + "/")


@dataclass
class ServiceGraph:
    """Services, edges and infrastructure, plus the stored facts the analyses need."""

    services: list[ServiceNode] = field(default_factory=list)
    edges: list[Edge] = field(default_factory=list)
    infrastructure: list[Infra] = field(default_factory=list)
    events: list[EventUse] = field(default_factory=list)
    owner_rules: list[OwnerRule] = field(default_factory=list)
    # What analyses derive from the stored facts this graph was read with (the change sets
    # of every commit, say): a graph is reread when those facts change, and this with it.
    derived: dict[Any, Any] = field(default_factory=dict, repr=False, compare=False)

    def service(self, name: str) -> ServiceNode | None:
        """The service called `name`, or going by it as an alias, spelled any way
        `service_key` matches (case, separators, a -service suffix)."""
        want = service_key(name)
        for s in self.services:
            if service_key(s.name) == want:
                return s
        for s in self.services:
            if any(service_key(a) == want for a in s.aliases):
                return s
        return None

    def code_owners(self, node: ServiceNode) -> list[str]:
        """Who CODEOWNERS names for a service's folder: the owners of the last rule covering
        it (a later rule wins, as on the forges)."""
        rules = [r for r in self.owner_rules if r.repo == node.repo and r.covers(node.path)]
        if not rules:
            return []
        last = max(rules, key=lambda r: r.line or 0)
        return [r.owner for r in rules if (r.pattern, r.line) == (last.pattern, last.line)]

    def names(self) -> list[str]:
        """Every service name, sorted."""
        return sorted(s.name for s in self.services)

    def to_json(self) -> dict[str, Any]:
        """The `kb map --format json` object (exactly services, edges, infrastructure)."""
        return {
            "services": [s.to_json() for s in self.services],
            "edges": [e.to_json() for e in self.edges],
            "infrastructure": [i.to_json() for i in self.infrastructure],
        }


def _loc(repo: str | None, path: str | None, line: int | None) -> Location | None:
    return Location(repo, path, line) if repo and path else None


def _add_evidence(edge: Edge, locs: Iterable[Location | None]) -> None:
    for loc in locs:
        if loc is not None and loc not in edge.evidence:
            edge.evidence.append(loc)


def _fold_bare(
    edges: dict[tuple[str, str, str, str], Edge],
) -> dict[tuple[str, str, str, str], Edge]:
    """An edge with no `via` (a compose link, a bare URL setting) joins its evidence to an
    edge of the same ends and kind that names what flows, rather than standing alone."""
    named: dict[tuple[str, str, str], Edge] = {}
    for (src, dst, kind, via), edge in edges.items():
        if via:
            named.setdefault((src, dst, kind), edge)
    out = {}
    for key, edge in edges.items():
        target = named.get(key[:3]) if not key[3] else None
        if target is None:
            out[key] = edge
        else:
            _add_evidence(target, edge.evidence)
    return out


def load_graph(db: Reader) -> ServiceGraph:
    """The stored service graph; an empty one when there is no knowledge base yet."""
    graph = ServiceGraph()
    if not db.exists() or not db.has_table("services"):
        return graph
    for name, repo, prefix, team, person in rows.service_rows(db):
        graph.services.append(ServiceNode(name, repo, prefix, team or person or None))
    if db.has_table("service_aliases"):
        aliases: dict[str, list[str]] = {}
        for name, alias in rows.alias_rows(db):
            aliases.setdefault(name, []).append(alias)
        for s in graph.services:
            s.aliases = aliases.get(s.name, [])
    # Every place that shows an edge, where the store keeps them all.
    places: dict[tuple[str, str, str, str], list[Location | None]] = {}
    if db.has_table("dependency_evidence"):
        for src, dst, kind, detail, repo, path, line in rows.evidence_rows(db):
            places.setdefault((src, dst, kind, detail or ""), []).append(_loc(repo, path, line))
    edges: dict[tuple[str, str, str, str], Edge] = {}
    for src, dst, kind, detail, repo, path, line, contract in rows.dependency_rows(db):
        if kind in ASYNC_KINDS:
            continue  # rebuilt from the topics below, producer -> consumer
        stored = places.get((src, dst, kind, detail or "")) or [_loc(repo, path, line)]
        if kind in DATA_KINDS and src > dst:
            src, dst = dst, src
        key = (src, dst, kind, detail or "")
        edge = edges.setdefault(key, Edge(src, dst, kind, detail or ""))
        _add_evidence(edge, stored)
        if contract and contract not in edge.contracts:
            edge.contracts.append(contract)
    for svc, topic, role, repo, path, line, contract in rows.event_rows(db):
        graph.events.append(EventUse(svc, topic, role, _loc(repo, path, line), contract))
    for pub in graph.events:
        if pub.role != "publish":
            continue
        for sub in graph.events:
            if sub.role != "subscribe" or sub.topic != pub.topic or sub.service == pub.service:
                continue
            edge = edges.setdefault(
                (pub.service, sub.service, "async_event", pub.topic),
                Edge(pub.service, sub.service, "async_event", pub.topic),
            )
            _add_evidence(edge, [pub.evidence, sub.evidence])
            for contract in (pub.contract, sub.contract):
                if contract and contract not in edge.contracts:
                    edge.contracts.append(contract)
    graph.edges = sorted(_fold_bare(edges).values(), key=lambda e: (e.from_, e.to, e.kind, e.via))
    graph.owner_rules = [OwnerRule(*row) for row in rows.owner_rule_rows(db)]
    if db.has_table("infrastructure"):
        graph.infrastructure = sorted(
            (Infra(name, kind) for name, kind in rows.infrastructure_rows(db)),
            key=lambda i: (_INFRA_ORDER.get(i.kind, len(_INFRA_ORDER)), i.name),
        )
    return graph


# Infrastructure is listed by what it is (brokers first), then by name.
_INFRA_ORDER = {kind.value: i for i, kind in enumerate(InfraKind)}
