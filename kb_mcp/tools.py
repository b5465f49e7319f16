"""kb's MCP tools: each one parses its arguments, calls one KB method and renders its result.

A tool returns the result's `to_json()` as structured content (validated by clients against
the tool's output schema) and its `to_markdown()` as the text block, so an agent reads the
same citations a person gets from the CLI. Tools that list take `limit` and `cursor`.

Every tool is read-only except `remember`, which exists only when the settings enable it
(KB_MCP_REMEMBER) and stores what the agent says as an agent-taught note, attributed to
KB_MCP_AGENT_IDENTITY.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel

from kb import KB, KBError
from kb_mcp import schemas as s


@dataclass(frozen=True)
class Rendered:
    """A tool's answer: the structured content and the text block."""

    data: dict[str, Any]
    text: str


@dataclass(frozen=True)
class ToolSpec:
    """One tool: its name, what it is for, its argument and output models, and its call."""

    name: str
    title: str
    description: str
    args: type[BaseModel]
    output: type[BaseModel]
    call: Callable[[KB, Any], Rendered]
    read_only: bool = True
    # The KB service the tool needs: a kb without it does not offer the tool.
    needs: str | None = None

    def available(self, app: KB) -> bool:
        """Whether this kb can answer the tool."""
        return self.needs is None or hasattr(type(app), self.needs)


def offset_of(cursor: str | None) -> int:
    """The offset a cursor stands for (cursors are the `next_cursor` of an earlier page)."""
    if cursor is None or cursor == "":
        return 0
    if not cursor.isdigit():
        raise KBError(f"bad cursor {cursor!r}: pass the page.next_cursor of an earlier call")
    return int(cursor)


def page(offset: int, limit: int, total: int | None, more: bool) -> dict[str, Any]:
    """The `page` object: where this page is and the cursor of the next one."""
    return {
        "offset": offset,
        "limit": limit,
        "total": total,
        "next_cursor": str(offset + limit) if more else None,
    }


def _more_line(p: dict[str, Any]) -> str:
    if p["next_cursor"] is None:
        return ""
    left = f" ({p['total'] - p['offset'] - p['limit']} left)" if p["total"] is not None else ""
    return f'\n_More{left}: call again with cursor "{p["next_cursor"]}"._\n'


def paged(result: Any, field: str, offset: int, limit: int) -> tuple[Any, dict[str, Any]]:
    """The result with only one page of its list `field`, and that page's `page` object."""
    items = getattr(result, field)
    p = page(offset, limit, len(items), offset + limit < len(items))
    return dataclasses.replace(result, **{field: items[offset : offset + limit]}), p


def _with_page(result: Any, p: dict[str, Any]) -> Rendered:
    data = result.to_json()
    data["page"] = p
    return Rendered(data, result.to_markdown() + _more_line(p))


def _plain(result: Any) -> Rendered:
    return Rendered(result.to_json(), result.to_markdown())


# -- the tools ----------------------------------------------------------------------------


def ask(app: KB, a: s.AskArgs) -> Rendered:
    """A cited answer; the question is logged like any other (kb gaps)."""
    return _plain(app.ask(a.question, k=a.k, surface="mcp"))


def danger_zones(app: KB, a: s.DangerZonesArgs) -> Rendered:
    """The zones bearing on a path, one page of them, and whom to ask."""
    zones = app.danger_zones(a.path)
    result, p = paged(zones, "zones", offset_of(a.cursor), a.limit)
    return _with_page(dataclasses.replace(result, total=len(zones.zones)), p)


def who_knows(app: KB, a: s.WhoKnowsArgs) -> Rendered:
    """People who know it now, a page at a time; who knew it but left, on the first page."""
    offset = offset_of(a.cursor)
    experts = app.experts.who(a.query, limit=offset + a.limit + 1)
    current = experts.current
    people = current[offset : offset + a.limit] + (experts.departed if offset == 0 else [])
    p = page(offset, a.limit, None, len(current) > offset + a.limit)
    return _with_page(dataclasses.replace(experts, people=people), p)


def remember(app: KB, a: s.RememberArgs) -> Rendered:
    """Store what the agent says, attributed to the configured agent identity."""
    from kb.contract.kinds import WisdomKind, WisdomOrigin

    text = a.text.strip()
    if not text:
        raise KBError("nothing to remember: give the knowledge as `text`")
    service = a.service.strip() if a.service else None
    if service:
        known = [row["name"] for row in app.services().to_json()["services"]]
        if service not in known:
            raise KBError(f"no service {service!r} (kb knows: {', '.join(known) or 'none'})")
    note = app.remember(
        text,
        service=service,
        kind=WisdomKind(a.kind),
        by=app.settings.mcp_agent_identity,
        origin=WisdomOrigin.AGENT_TAUGHT,
    )
    return _plain(note)


# Tools over the service map (KB.servicemap) and the guides (KB.agent_context,
# KB.incidents): offered once this kb has those services.


def service_context(app: KB, a: s.ServiceArgs) -> Rendered:
    """The agent context file of a service."""
    return _plain(app.agent_context.context(a.service))  # type: ignore[attr-defined]


def blast_radius(app: KB, a: s.PagedServiceArgs) -> Rendered:
    """Who fails with a service, and whose work queues, one page of dependents at a time."""
    radius = app.servicemap.blast_radius(a.service)  # type: ignore[attr-defined]
    return _with_page(*paged(radius, "hops", offset_of(a.cursor), a.limit))


def change_impact(app: KB, a: s.ChangeImpactArgs) -> Rendered:
    """Who and what a change to a path, topic or RPC affects, one page of consumers."""
    impact = app.servicemap.impact(a.target)  # type: ignore[attr-defined]
    return _with_page(*paged(impact, "consumers", offset_of(a.cursor), a.limit))


def incident_trace(app: KB, a: s.IncidentTraceArgs) -> Rendered:
    """Where to look first when a service shows a symptom: the incident trace plan."""
    return _plain(app.incidents.plan(a.service, symptom=a.symptom))  # type: ignore[attr-defined]


TOOLS: tuple[ToolSpec, ...] = (
    ToolSpec(
        "ask",
        "Ask kb",
        "Ask the organisation's knowledge base a question (why is it built like this, what "
        "broke before, how do I ...). Answers cite ADRs, commits, docs, code, Slack threads and "
        "taught notes as [n], with what to watch out for and whom to ask; `answered` is false "
        "when kb does not know.",
        s.AskArgs,
        s.AskOutput,
        ask,
    ),
    ToolSpec(
        "danger_zones",
        "Danger zones of a path",
        "Call before editing a file or directory: is it a danger zone, why (the code comment, "
        "ADR, postmortem or note that says so, with its link), which rules and known issues of "
        "its service apply, and whom to ask.",
        s.DangerZonesArgs,
        s.DangerZonesOutput,
        danger_zones,
    ),
    ToolSpec(
        "who_knows",
        "Who knows",
        "Who knows a path, a service, a repository or a topic now, with the evidence "
        "(authorship, recent commits, Slack threads); people who left are listed apart.",
        s.WhoKnowsArgs,
        s.WhoKnowsOutput,
        who_knows,
    ),
    ToolSpec(
        "service_context",
        "Service context",
        "The context file of a service for a coding agent: what it does, its contracts and "
        "neighbours, its rules and danger zones.",
        s.ServiceArgs,
        s.AnyOutput,
        service_context,
        needs="agent_context",
    ),
    ToolSpec(
        "blast_radius",
        "Blast radius",
        "What fails, directly and transitively, when a service fails or slows down, with the "
        "evidence of each dependency.",
        s.PagedServiceArgs,
        s.AnyOutput,
        blast_radius,
        needs="servicemap",
    ),
    ToolSpec(
        "change_impact",
        "Change impact",
        "Which services, contracts and people a change to a path, an event topic or an RPC "
        "affects.",
        s.ChangeImpactArgs,
        s.AnyOutput,
        change_impact,
        needs="servicemap",
    ),
    ToolSpec(
        "incident_trace",
        "Incident trace plan",
        "Where to look first when a service shows a symptom: past incidents like it, the "
        "dependencies to check, the dashboards and logs, whom to page.",
        s.IncidentTraceArgs,
        s.AnyOutput,
        incident_trace,
        needs="incidents",
    ),
)

REMEMBER = ToolSpec(
    "remember",
    "Teach kb",
    "Teach kb something written nowhere (a rule, a danger, a known issue) that you learnt "
    "while working. It is stored as an agent-taught note attributed to this agent, and "
    "answers cite it as such.",
    s.RememberArgs,
    s.RememberOutput,
    remember,
    read_only=False,
)


def tools_for(app: KB) -> list[ToolSpec]:
    """The tools this kb offers: the read-only ones it can answer, and `remember` if enabled."""
    out = [t for t in TOOLS if t.available(app)]
    if app.settings.mcp_remember:
        out.append(REMEMBER)
    return out
