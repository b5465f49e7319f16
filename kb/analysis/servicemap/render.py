"""`kb map`: the service graph (or one service's neighbourhood) as JSON, Mermaid and DOT.

Both drawings use one line style per kind of edge: synchronous calls (HTTP, gRPC) solid,
events dashed, shared databases dotted with no arrow head, libraries with a hollow head.
Infrastructure is drawn apart (cylinders), never as a service.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from kb.analysis.servicemap.graph import ASYNC_KINDS, DATA_KINDS, SYNC_KINDS, Edge, ServiceGraph

_MERMAID_ARROWS = {"sync": "-->", "async": "-.->", "data": "-.-", "library": "--o"}
_DOT_STYLES = {
    "sync": "style=solid",
    "async": "style=dashed",
    "data": "style=dotted, dir=none",
    "library": "style=solid, arrowhead=onormal, color=gray40",
}


def line_style(edge: Edge) -> str:
    """sync | async | data | library: how an edge is drawn."""
    if edge.kind in SYNC_KINDS:
        return "sync"
    if edge.kind in ASYNC_KINDS:
        return "async"
    if edge.kind in DATA_KINDS:
        return "data"
    return "library"


def neighbourhood(graph: ServiceGraph, service: str, depth: int | None) -> ServiceGraph:
    """The services within `depth` edges of `service` (either direction) and their edges."""
    seen = {service}
    frontier = {service}
    level = 0
    while frontier and (depth is None or level < depth):
        nxt: set[str] = set()
        for e in graph.edges:
            if e.from_ in frontier and e.to not in seen:
                nxt.add(e.to)
            if e.to in frontier and e.from_ not in seen:
                nxt.add(e.from_)
        seen |= nxt
        frontier = nxt
        level += 1
    return ServiceGraph(
        services=[s for s in graph.services if s.name in seen],
        edges=[e for e in graph.edges if e.from_ in seen and e.to in seen],
        infrastructure=list(graph.infrastructure),
        events=[u for u in graph.events if u.service in seen],
        owner_rules=list(graph.owner_rules),
    )


@dataclass
class ServiceMap:
    """The map `kb map` prints: a service graph, whole or around one service."""

    graph: ServiceGraph
    focus: str | None = None
    depth: int | None = None
    # What the last ingest of each repository could not read: {"where", "message"}.
    unreadable: list[dict[str, str]] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        """{"services": [...], "edges": [...], "infrastructure": [...]} exactly."""
        return self.graph.to_json()

    def to_mermaid(self) -> str:
        """A Mermaid flowchart (sync solid, async dashed, shared data dotted)."""
        ids = _node_ids(self.graph)
        lines = ["flowchart LR"]
        for name, nid in ids.items():
            lines.append(f'  {nid}["{_mermaid_text(name)}"]')
        if self.graph.infrastructure:
            lines.append('  subgraph infrastructure["infrastructure"]')
            for i, infra in enumerate(self.graph.infrastructure):
                lines.append(f'    i{i}[("{_mermaid_text(infra.name)} ({infra.kind})")]')
            lines.append("  end")
        for e in self.graph.edges:
            arrow = _MERMAID_ARROWS[line_style(e)]
            label = f"{e.kind}: {e.via}" if e.via else e.kind
            lines.append(f'  {ids[e.from_]} {arrow}|"{_mermaid_text(label)}"| {ids[e.to]}')
        return "\n".join(lines) + "\n"

    def to_dot(self) -> str:
        """A Graphviz digraph (sync solid, async dashed, shared data dotted)."""
        lines = [
            "digraph services {",
            "  rankdir=LR;",
            '  node [shape=box, style="rounded", fontname="Helvetica"];',
            '  edge [fontname="Helvetica", fontsize=10];',
        ]
        for name in _node_ids(self.graph):
            svc = self.graph.service(name)
            shape = "" if svc is not None else " [shape=component]"  # a library, not a service
            lines.append(f"  {_dot_quote(name)}{shape};")
        if self.graph.infrastructure:
            lines.append("  subgraph cluster_infrastructure {")
            lines.append('    label="infrastructure"; style=dashed; color=gray60;')
            for infra in self.graph.infrastructure:
                label = _dot_quote(f"{infra.name}\n({infra.kind})")
                lines.append(
                    f"    {_dot_quote('infra:' + infra.name)} [shape=cylinder, label={label}];"
                )
            lines.append("  }")
        for e in self.graph.edges:
            label = _dot_quote(f"{e.kind}: {e.via}" if e.via else e.kind)
            lines.append(
                f"  {_dot_quote(e.from_)} -> {_dot_quote(e.to)} "
                f"[label={label}, {_DOT_STYLES[line_style(e)]}];"
            )
        return "\n".join(lines) + "\n}\n"

    def to_markdown(self) -> str:
        """A summary table of the edges and the Mermaid drawing in a fenced block."""
        g = self.graph
        scope = f" around {self.focus}" if self.focus else ""
        out = [
            f"# Service map{scope}",
            "",
            f"{len(g.services)} services, {len(g.edges)} edges, "
            f"{len(g.infrastructure)} pieces of infrastructure.",
            "",
            "```mermaid",
            self.to_mermaid().rstrip(),
            "```",
            "",
        ]
        if g.edges:
            out += ["| from | to | kind | via | evidence |", "| --- | --- | --- | --- | --- |"]
            for e in g.edges:
                where = str(e.evidence[0]) if e.evidence else ""
                if len(e.evidence) > 1:
                    where += f" (+{len(e.evidence) - 1})"
                out.append(f"| {e.from_} | {e.to} | {e.kind} | {_cell(e.via)} | {where} |")
        if g.infrastructure:
            out += ["", "Infrastructure: " + ", ".join(f"{i.name} ({i.kind})" for i in
                                                       g.infrastructure)]  # fmt: skip
        if self.unreadable:
            out += ["", "Not read (the map is built from the rest):", ""]
            out += [f"- `{u['where']}`: {u['message']}" for u in self.unreadable]
        return "\n".join(out) + "\n"


def _node_ids(graph: ServiceGraph) -> dict[str, str]:
    names = [s.name for s in graph.services]
    for e in graph.edges:
        for end in (e.from_, e.to):
            if end not in names:
                names.append(end)
    return {name: f"s{i}" for i, name in enumerate(names)}


def _mermaid_text(text: str) -> str:
    # Mermaid's quoted labels end at '"'; entity codes are its escape.
    return text.replace("&", "#amp;").replace('"', "#quot;").replace("|", "#124;")


def _dot_quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def _cell(text: str) -> str:
    return text.replace("|", "\\|")
