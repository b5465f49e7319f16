"""Postmortems in markdown: incident key, timeline, severity, services, cause and fixes."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from kb.contract.incidents import (
    INCIDENT_KEY,
    incident_key,
    services_mentioned,
    severity_levels,
)
from kb.contract.kinds import SEVERITY_BY_LEVEL, DocumentKind, Severity, WisdomKind
from kb.contract.records import DocumentRecord, IncidentRecord, Record, WisdomRecord

_STRONG = re.compile(r"(?:^|[/_.\s-])(post-?mortems?|rca|root-cause-analysis)(?:[/_.\s-]|$)", re.I)
_WEAK = re.compile(r"(?:^|[/_.\s-])(incidents?|outages?)(?:[/_.\s-]|$)", re.I)
_TITLE_STRONG = re.compile(
    r"\b(post-?mortem|RCA|root cause analysis|incident (?:report|review))\b", re.I
)
_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
_SEV_WORDS = {
    "critical": Severity.CRITICAL,
    "major": Severity.HIGH,
    "high": Severity.HIGH,
    "medium": Severity.MEDIUM,
    "moderate": Severity.MEDIUM,
    "minor": Severity.LOW,
    "low": Severity.LOW,
}
_DATE = re.compile(r"\b(\d{4})-(\d{2})-(\d{2})\b")
_TIME = re.compile(
    r"(?:\b(\d{4}-\d{2}-\d{2})[ T]+)?\b([01]?\d|2[0-3]):([0-5]\d)(?::([0-5]\d))?\s*(?:UTC|Z)?"
)
_META = re.compile(r"^\s*(?:[*+-]\s+)?\**([A-Za-z][A-Za-z /-]{1,30}?)\**\s*:\**\s*(.+)$")
_DURATION = re.compile(r"(\d+)\s*(h|hours?|m|min|mins|minutes?)\b", re.I)
_OPEN = re.compile(r"\b(open|ongoing|investigating|unresolved|monitoring|identified)\b", re.I)

_SECTIONS = {
    "summary": ("summary", "overview", "tl;dr", "tldr", "what happened", "description"),
    "impact": ("impact", "customer impact", "user impact"),
    "timeline": ("timeline",),
    "root_cause": ("root cause", "root causes", "cause", "causes", "what went wrong",
                   "why it happened", "contributing factors", "analysis", "root cause analysis"),
    "resolution": ("resolution", "remediation", "mitigation", "fix", "the fix", "recovery",
                   "how it was fixed", "how we fixed it", "resolution and recovery"),
    "actions": ("action items", "actions", "follow-up", "follow-ups", "follow ups", "follow-up "
                "actions", "next steps", "corrective actions", "lessons learned", "prevention",
                "what we are changing", "what we changed"),
}  # fmt: skip


@dataclass
class Postmortem:
    """What a postmortem says about its incident."""

    key: str | None
    title: str
    started_at: datetime | None = None
    ended_at: datetime | None = None
    severity: Severity | None = None
    services: list[str] = field(default_factory=list)
    summary: str = ""
    root_cause: str = ""
    resolution: str = ""
    actions: str = ""
    still_open: bool = False


def is_postmortem(path: str, title: str, text: str) -> bool:
    """A postmortem by its path or title (an `incidents/` path also needs incident content)."""
    if "template" in path.lower().rsplit("/", 1)[-1]:
        return False  # the blank form every postmortem starts from
    if _STRONG.search(path) or _TITLE_STRONG.search(title):
        return True
    if _WEAK.search(path) or _WEAK.search(title):
        headings = {_norm(m.group(2)) for m in map(_HEADING.match, text.splitlines()) if m}
        structured = bool(headings & set(_SECTIONS["timeline"] + _SECTIONS["root_cause"]))
        return structured or bool(INCIDENT_KEY.search(text))
    return False


def parse_postmortem(text: str, title: str) -> Postmortem:
    """Key, times, severity, services and the cause/resolution/action sections."""
    pm = Postmortem(key=incident_key(title, text), title=title)
    sections = _sections(text)
    for name in ("summary", "root_cause", "resolution", "actions"):
        setattr(pm, name, _first(sections, _SECTIONS[name]))
    meta = _metadata(text)
    pm.severity = _severity(title, meta, text)
    day = _doc_date(meta, title, text)
    pm.started_at, pm.ended_at = _window(meta, _first(sections, _SECTIONS["timeline"]), day)
    if pm.started_at and not pm.ended_at and "duration" in meta:
        pm.ended_at = _plus_duration(pm.started_at, meta["duration"])
    status = meta.get("status", "")
    pm.still_open = bool(status and _OPEN.search(status) and "resolved" not in status.lower())
    pm.services = sorted(services_mentioned([text]))
    return pm


def _norm(title: str) -> str:
    t = re.sub(r"[*_`]", "", title).strip().lower()
    t = re.sub(r"^\d+(\.\d+)*[.)]?\s+", "", t)
    return t.rstrip(":").strip()


def _sections(text: str) -> dict[str, str]:
    """Top sections by normalised title; deeper headings stay inside their section.

    A single level-1 title is the document's name, so its level-2 headings are the sections.
    """
    lines = text.splitlines()
    headings: list[tuple[int, int, str]] = []  # (line index, level, title)
    fence = False
    for i, line in enumerate(lines):
        if line.lstrip().startswith(("```", "~~~")):
            fence = not fence
        m = None if fence else _HEADING.match(line)
        if m:
            headings.append((i, len(m.group(1)), m.group(2)))
    if not headings:
        return {}
    levels = [level for _, level, _ in headings]
    if levels[0] == 1 and levels.count(1) == 1 and len(levels) > 1:
        headings = headings[1:]
    base = min(level for _, level, _ in headings)
    tops = [(i, title) for i, level, title in headings if level <= base]
    out: dict[str, str] = {}
    for n, (i, title) in enumerate(tops):
        end = tops[n + 1][0] if n + 1 < len(tops) else len(lines)
        out.setdefault(_norm(title), "\n".join(lines[i + 1 : end]).strip())
    return out


def _first(sections: dict[str, str], names: tuple[str, ...]) -> str:
    """The first non-empty section named one of `names` ("Timeline (UTC)" is a timeline)."""
    for name in names:
        for title, body in sections.items():
            if body and re.match(rf"^{re.escape(name)}(?:$|[\s(:])", title):
                return body
    return ""


def _metadata(text: str) -> dict[str, str]:
    meta: dict[str, str] = {}
    for line in text.splitlines()[:60]:
        m = _META.match(line)
        if m:
            meta.setdefault(m.group(1).strip().lower(), m.group(2).strip().strip("*_ "))
    return meta


def _severity(title: str, meta: dict[str, str], text: str) -> Severity | None:
    declared = meta.get("severity") or meta.get("sev") or meta.get("priority") or ""
    for source in (declared, title):
        levels = severity_levels(source)
        if levels:
            return SEVERITY_BY_LEVEL[levels[0]]
        word = source.strip().lower().split(" ", 1)[0] if source.strip() else ""
        if word in _SEV_WORDS:
            return _SEV_WORDS[word]
    levels = severity_levels(text, priorities=False)
    return SEVERITY_BY_LEVEL[min(levels)] if levels else None


def _doc_date(meta: dict[str, str], title: str, text: str) -> date | None:
    for source in (meta.get("date", ""), meta.get("incident date", ""), title, text[:3000]):
        m = _DATE.search(source)
        if m:
            try:
                return date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
            except ValueError:
                continue
    return None


def _window(
    meta: dict[str, str], timeline: str, day: date | None
) -> tuple[datetime | None, datetime | None]:
    """Start and end: declared (Duration "14:02–14:49", Start/End), else the timeline's ends."""
    declared = list(_TIME.finditer(meta.get("duration", "")))
    if day is not None and len(declared) >= 2:
        start, end = _at(declared[0].group(0), day), _at(declared[-1].group(0), day)
        if start and end and end < start:
            end += timedelta(days=1)
        return start, end
    start = next((_at(meta[k], day) for k in ("start", "started", "began") if k in meta), None)
    end = next(
        (_at(meta[k], day) for k in ("end", "ended", "resolved", "recovered") if k in meta), None
    )
    stamps: list[datetime] = []
    current = day
    for line in timeline.splitlines():
        m = _TIME.search(line)
        if not m:
            continue
        if m.group(1):
            current = _iso_date(m.group(1)) or current
        if current is None:
            continue
        stamp = datetime(current.year, current.month, current.day, int(m.group(2)),
                         int(m.group(3)), int(m.group(4) or 0), tzinfo=UTC)  # fmt: skip
        if stamps and stamp < stamps[-1] and not m.group(1):
            stamp += timedelta(days=1)  # the timeline went past midnight
            current = stamp.date()
        stamps.append(stamp)
    if stamps:
        start = start or stamps[0]
        end = end or (stamps[-1] if stamps[-1] > stamps[0] else None)
    if start is None and day is not None:
        start = datetime(day.year, day.month, day.day, tzinfo=UTC)
    return start, end


def _at(value: str, day: date | None) -> datetime | None:
    m = _TIME.search(value)
    d = _DATE.search(value)
    base = (_iso_date(d.group(0)) if d else None) or day
    if base is None:
        return None
    if not m:
        return datetime(base.year, base.month, base.day, tzinfo=UTC)
    return datetime(base.year, base.month, base.day, int(m.group(2)), int(m.group(3)),
                    int(m.group(4) or 0), tzinfo=UTC)  # fmt: skip


def _iso_date(value: str) -> date | None:
    try:
        return date.fromisoformat(value)
    except ValueError:
        return None


def _plus_duration(start: datetime, value: str) -> datetime | None:
    total = 0
    for amount, unit in _DURATION.findall(value):
        total += int(amount) * (60 if unit.lower().startswith("h") else 1)
    return start + timedelta(minutes=total) if total else None


def postmortem_records(
    path: str, text: str, title: str, prefix: str, common: dict[str, Any]
) -> list[Record]:
    """The POSTMORTEM document, its incident (keyed like Slack's) and the lesson learned.

    `prefix` is the file's id prefix; `common` the DocumentRecord fields shared by the
    file's records (repo, path, commit_sha, service).
    """
    pm = parse_postmortem(text, title)
    doc_id = f"{prefix}postmortem"
    incident_id = f"incident:{pm.key}" if pm.key else f"{prefix}incident"
    service = common.get("service")
    services = sorted(set(pm.services) | ({service} if service else set()))
    headline = title if not pm.key or pm.key in title else f"{pm.key}: {title}"
    lesson = "\n\n".join(
        f"{label}:\n{body}"
        for label, body in (("Root cause", pm.root_cause), ("Action items", pm.actions))
        if body
    )
    return [
        DocumentRecord(
            external_id=doc_id,
            kind=DocumentKind.POSTMORTEM,
            title=title,
            body=text,
            created_at=pm.started_at,
            meta={"incident": incident_id},
            **common,
        ),
        IncidentRecord(
            external_id=incident_id,
            title=headline,
            started_at=pm.started_at,
            ended_at=pm.ended_at,
            severity=pm.severity,
            services=tuple(services),
            root_cause=pm.root_cause or None,
            resolution=pm.resolution or None,
            postmortem_external_id=doc_id,
            meta={"repo": common.get("repo"), "path": path},
        ),
        WisdomRecord(
            external_id=f"{prefix}lesson",
            # Still open: a known issue to watch for; closed: an incident to learn from.
            kind=WisdomKind.KNOWN_ISSUE if pm.still_open else WisdomKind.INCIDENT,
            title=headline,
            body=lesson or pm.summary or title,
            service=service,
            repo=common.get("repo"),
            path_glob=path,
            severity=pm.severity or Severity.MEDIUM,
            document_external_id=doc_id,
            created_at=pm.started_at,
            meta={"incident": incident_id, "services": services},
        ),
    ]
