"""A postmortem draft (`kb postmortem INCIDENT`): what the channel said, what the logs show,
which changes correlate, and what the plan knew, arranged for a person to review.

Every item cites where it comes from: a channel message (its conversation's link), the
incident's stated root cause and resolution, a stitched log line (file:line), a commit. Each
lesson comes with the `kb remember` command that would keep it.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from kb.guides.correlation import ago
from kb.guides.deploys import messages
from kb.guides.incident_plan import IncidentPlan
from kb.store import history as sh

# A stated figure (not a time of day) next to what it counts.
_FIGURE = re.compile(r"(?<![\d:.])\d[\d,.]*\s*(%|k\b)?(?![\d:])")
_COUNTED = re.compile(
    r"\b(customers?|charged|double[- ]charged|refund\w*|tickets?|checkouts?|emails?|"
    r"duplicates?|error rate|failed|lost|EUR|USD|GBP)\b|[€$£]",
    re.I,
)
SUSPECT = 0.5  # a correlated change this strong goes into the timeline
_ACTION = re.compile(r"\b(follow[- ]?ups?|action items?|todo|next steps?)\b", re.I)
_MITIGATION = re.compile(r"\b(mitigat\w*|fix(ed)?|revert\w*|rolled back|rollback)\b", re.I)
_NOISE = re.compile(r"^\s*(on it|ack|looking|\+1|thanks?\b.*)\W*$", re.I)


@dataclass
class Said:
    """One channel message with where it was said."""

    at: datetime
    who: str
    text: str
    url: str | None

    def link(self) -> str:
        """'[message](url)', or 'Slack' when there is no link."""
        return f"[message]({self.url})" if self.url else "Slack"

    def cite(self) -> str:
        """'[14:21 alex](url)'."""
        label = f"{self.at:%Y-%m-%d %H:%M} {self.who}"
        return f"[{label}]({self.url})" if self.url else label


@dataclass
class PostmortemDraft:
    """The draft's sections, each a list of cited items."""

    incident: sh.IncidentRow
    summary: list[str]
    impact: list[str]
    timeline: list[tuple[datetime, str]]
    root_cause: list[str]
    went_well: list[str]
    went_badly: list[str]
    action_items: list[str]
    lessons: list[tuple[str, str]]  # (lesson, `kb remember` command)
    changes_table: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        """The stable `kb postmortem --json` object."""
        r = self.incident
        return {
            "incident": {"id": r.label, "title": r.title, "external_id": r.external_id},
            "summary": self.summary,
            "impact": self.impact,
            "timeline": [{"at": at.isoformat(), "text": text} for at, text in self.timeline],
            "root_cause": self.root_cause,
            "went_well": self.went_well,
            "went_badly": self.went_badly,
            "action_items": self.action_items,
            "lessons": [{"lesson": text, "remember": cmd} for text, cmd in self.lessons],
        }

    def to_markdown(self) -> str:
        """The draft as a markdown document to edit."""
        r = self.incident
        title = r.title if r.title.startswith(r.label) else f"{r.label}: {r.title}"
        lines = [
            f"# Postmortem (draft): {title}",
            "",
            "> Drafted by kb from the incident channel, the stitched logs, the changes "
            "correlated with it and the incident plan. Every line cites its source: check it.",
        ]

        def section(name: str, items: list[str], empty: str) -> None:
            lines.extend(["", f"## {name}", ""])
            lines.extend(f"- {x}" for x in items) if items else lines.append(f"_{empty}_")

        section("Summary", self.summary, "nothing stated")
        section("Impact", self.impact, "no impact figures were stated in the channel")
        lines += ["", "## Timeline (UTC)", ""]
        lines += [f"- {at:%Y-%m-%d %H:%M} {text}" for at, text in self.timeline] or ["_empty_"]
        section("Root cause", self.root_cause, "not stated yet")
        if self.changes_table:
            lines += ["", "Changes correlated with it:", "", *self.changes_table]
        section("What went well", self.went_well, "fill in")
        section("What went badly", self.went_badly, "fill in")
        section("Action items", self.action_items, "none stated")
        lines += ["", "## Lessons that should become wisdom", ""]
        for text, cmd in self.lessons:
            lines += [f"- {text}", "", "  ```sh", f"  {cmd}", "  ```"]
        if not self.lessons:
            lines.append("_none found_")
        return "\n".join(lines) + "\n"


def channel_messages(reader: Any, row: sh.IncidentRow) -> list[Said]:
    """The messages of the incident's channel (and its threads), oldest first."""
    from kb.store.changes import chat_documents

    if not row.channel or row.started_at is None:
        return []
    end = row.ended_at or row.started_at
    docs = chat_documents(
        reader, [f"#{row.channel} ", f"#{row.channel}:"], row.started_at.replace(hour=0,
        minute=0), end.replace(hour=23, minute=59) if end else row.started_at,
    )  # fmt: skip
    out = [
        Said(at, who, text, doc.url)
        for doc in docs
        for who, at, text in messages(doc.body)
        if text and not _NOISE.match(text)
    ]
    return sorted(out, key=lambda s: s.at)


def draft(
    row: sh.IncidentRow,
    said: list[Said],
    plan: IncidentPlan | None,
    trace: dict[str, Any] | None,
) -> PostmortemDraft:
    """The draft from the channel, the plan (as of the start) and the stitched logs."""
    start, end = row.started_at, row.ended_at
    minutes = round((end - start).total_seconds() / 60) if start and end else None
    source = _source(row)
    services = ", ".join(row.services) or "unknown services"
    summary = [
        f"{row.severity or 'severity unknown'}, {services}, "
        f"{_hm(start)} to {_hm(end)} UTC" + (f" ({minutes} min)" if minutes is not None else "")
        + (f" ({source})" if source else "")
    ]  # fmt: skip
    if row.root_cause:
        summary.append(f"Cause: {_one(row.root_cause)} ({source or 'incident record'})")
    if row.resolution:
        summary.append(f"Resolved by: {_one(row.resolution)} ({source or 'incident record'})")
    impact = [
        f"{_one(s.text)} ({s.cite()})"
        for s in said
        if _FIGURE.search(s.text) and _COUNTED.search(s.text)
    ][:6]
    if plan is not None:
        hit = [x.service for x in plan.fails] + [x.service for x in plan.queues]
        if hit:
            impact.append(f"Depend on it (blast radius): {', '.join(dict.fromkeys(hit))} "
                          "(service map)")  # fmt: skip
    timeline = [(s.at, f"{s.who}: {_one(s.text)} ({s.link()})") for s in said]
    if trace and trace.get("first_error"):
        fe = trace["first_error"]
        at = datetime.fromisoformat(fe["time"].replace("Z", "+00:00"))
        timeline.append((at, f"first error in the logs, {fe['service']}: "
                             f"{_one(fe['message'])} (`{fe['file']}:{fe['line']}`)"))  # fmt: skip
    changes = [c for c in plan.changes[:3] if c.score >= SUSPECT] if plan is not None else []
    for c in changes:
        if c.deployed_at or c.authored_at:
            live = c.deployed_at or c.authored_at
            assert live is not None
            timeline.append((live, f"{'deployed' if c.deployed_at else 'committed'}: "
                                   f"{c.headline()} ({c.url or c.repo})"))  # fmt: skip
    timeline.sort(key=lambda t: t[0])
    root = [f"{_one(row.root_cause)} ({source or 'incident record'})"] if row.root_cause else []
    root += [f"`{s.who}` at {s.at:%H:%M}: {_one(s.text)} ({s.cite()})" for s in said
             if re.search(r"\broot[ -]?cause\b", s.text, re.I)][:2]  # fmt: skip
    well, badly = _went(row, said, plan, trace)
    actions = [f"{_one(s.text)} ({s.cite()})" for s in said if _ACTION.search(s.text)]
    lessons = _lessons(row, plan)
    return PostmortemDraft(
        row, summary, impact, timeline, root, well, badly, actions, lessons,
        plan.changes_table() if plan is not None and plan.changes else [],
    )  # fmt: skip


def _went(
    row: sh.IncidentRow, said: list[Said], plan: IncidentPlan | None, trace: dict[str, Any] | None
) -> tuple[list[str], list[str]]:
    well, badly = [], []
    start = row.started_at
    fix = next((s for s in said if _MITIGATION.search(s.text)), None)
    if fix is not None and start is not None:
        mins = round((fix.at - start).total_seconds() / 60)
        well.append(f"first mitigation {mins} min after the start: {_one(fix.text)} "
                    f"({fix.cite()})")  # fmt: skip
    if row.postmortem is None and row.root_cause:
        well.append(f"the root cause was stated in the channel ({_source(row)})")
    if plan is not None:
        top = plan.changes[0] if plan.changes else None
        if top is not None and top.deployed_at and start is not None:
            before = ago(start - top.deployed_at)
            badly.append(f"{top.headline()} went live {before} before the start "
                         f"({'; '.join(top.reasons[1:3])}) ({top.url or top.repo})")  # fmt: skip
        for p in plan.similar[:2]:
            if p.score >= SUSPECT:
                badly.append(f"it had happened before: {p.id} ({p.title}; "
                             f"{'; '.join(p.reasons[:2])})")  # fmt: skip
        for pager in plan.page:
            if pager.warning:
                badly.append(f"{pager.warning} (history)")
    if trace:
        for gap in trace.get("gaps", [])[:2]:
            badly.append(f"{gap['service']} never answered {gap.get('caller') or ''}: "
                         f"{gap['detail']} (`{gap['evidence']}`)")  # fmt: skip
    return well, badly


def _lessons(row: sh.IncidentRow, plan: IncidentPlan | None) -> list[tuple[str, str]]:
    service = row.services[0] if row.services else None
    where = f" --service {shlex.quote(service)}" if service else ""
    out = []
    if row.root_cause:
        text = f"{row.label}: {_one(row.root_cause, 300)}"
        out.append((text, f"kb remember {shlex.quote(text)}{where} --kind known_issue"))
    if plan is not None and plan.changes:
        top = plan.changes[0]
        touched = [r for r in top.reasons if r.startswith("touched ")]
        if touched:
            text = (
                f"Changes like {top.subject!r} ({'; '.join(touched)}) broke "
                f"{service or 'it'} in {row.label}: review them with its experts and deploy "
                "them watched"
            )
            out.append((text, f"kb remember {shlex.quote(text)}{where} --kind unwritten_rule"))
    return out


def _source(row: sh.IncidentRow) -> str:
    if row.postmortem:
        pm = row.postmortem
        return pm.get("url") or ":".join(x for x in (pm.get("repo"), pm.get("path")) if x)
    if row.threads:
        return row.threads[0].get("url") or f"#{row.channel}"
    return f"#{row.channel}" if row.channel else ""


def _one(text: str, limit: int = 240) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def _hm(when: datetime | None) -> str:
    return when.strftime("%Y-%m-%d %H:%M") if when else "?"
