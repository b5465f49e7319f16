"""The service map as incident plans read it: a small protocol over kb.analysis.servicemap's
graph, and the edges around one service in plan terms (depends on / dependents)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from kb.guides.incident_plan import Link


class MapEdge(Protocol):
    """An edge of the service map as the plan reads it (kb.analysis.servicemap's Edge)."""

    @property
    def from_(self) -> str: ...
    @property
    def to(self) -> str: ...
    @property
    def kind(self) -> str: ...
    @property
    def via(self) -> str: ...
    @property
    def evidence(self) -> Sequence[object]: ...
    @property
    def is_sync(self) -> bool: ...


class MapNode(Protocol):
    """A service of the map: its name, repository and path in it."""

    @property
    def name(self) -> str: ...
    @property
    def repo(self) -> str | None: ...
    @property
    def path(self) -> str: ...


class ServiceMap(Protocol):
    """What a plan needs of the service map: services and evidenced edges."""

    @property
    def services(self) -> Sequence[MapNode]: ...
    @property
    def edges(self) -> Sequence[MapEdge]: ...
    def service(self, name: str) -> MapNode | None: ...


@dataclass(frozen=True)
class Neighbours:
    """The edges around one service, in plan terms."""

    depends_on: list[Link]  # what it calls, consumes from, shares data with
    dependents: list[Link]  # who calls it, consumes its events, shares data with it


def neighbours(graph: ServiceMap, service: str) -> Neighbours:
    """The service's dependencies and dependents, one hop, from the map's edges.

    A sync edge runs caller -> callee and an async one producer -> consumer: a service
    depends on what it calls and on whom it consumes from; its callers fail with it, its
    consumers queue.
    """
    deps: list[Link] = []
    users: list[Link] = []
    for e in graph.edges:
        evidence = [str(x) for x in e.evidence]
        if e.kind == "shared_db" and service in (e.from_, e.to) and e.from_ != e.to:
            other = e.to if e.from_ == service else e.from_
            deps.append(Link(other, e.kind, e.via, False, evidence, why="shares data"))
            users.append(Link(other, e.kind, e.via, False, evidence, why="shares data"))
        elif e.kind == "async_event":
            if e.to == service:
                deps.append(Link(e.from_, e.kind, e.via, False, evidence, why="consumes"))
            elif e.from_ == service:
                users.append(Link(e.to, e.kind, e.via, False, evidence, why="consumes"))
        elif e.from_ == service:
            deps.append(Link(e.to, e.kind, e.via, e.is_sync, evidence, why="calls"))
        elif e.to == service:
            users.append(Link(e.from_, e.kind, e.via, e.is_sync, evidence, why="calls"))
    return Neighbours(deps, users)


def distances(graph: ServiceMap, service: str, depth: int = 2) -> dict[str, int]:
    """The service (0) and what it depends on, directly (1) or through one more (2)."""
    out = {service: 0}
    frontier = [service]
    for hop in range(1, depth + 1):
        nxt = []
        for name in frontier:
            for link in neighbours(graph, name).depends_on:
                if link.service not in out:
                    out[link.service] = hop
                    nxt.append(link.service)
        frontier = nxt
    return out


def blast_links(radius: dict[str, Any]) -> tuple[list[Link], list[Link]]:
    """(fail with it, queue or share data) from a blast radius's JSON (`kb blast-radius`):
    every dependent with its depth, the path the failure takes and the last edge's evidence."""
    fails: list[Link] = []
    queues: list[Link] = []
    for hop in radius.get("dependents", []):
        where = [e for e in hop.get("evidence", []) if e]
        evidence = [":".join(str(x) for x in (e["repo"], e["path"], e.get("line")) if x)
                    for e in where[-1:]]  # fmt: skip
        path = " → ".join(hop.get("path", []))
        link = Link(
            hop["service"], (hop.get("kinds") or ["?"])[-1], (hop.get("via") or [""])[-1],
            hop["effect"] == "fails", evidence, hop.get("depth", 1),
            why=f"{hop['effect']}: {path}" if hop.get("depth", 1) > 1 else hop["effect"],
        )  # fmt: skip
        (fails if link.sync else queues).append(link)
    return fails, queues
