"""The stitched trace as a typed result: its stable JSON and the markdown the on-call reads."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from kb.guides.logfields import iso_utc

MARKDOWN_ROWS = 300


@dataclass(frozen=True)
class Entry:
    """One row of the timeline: a record of the id, in UTC."""

    time: datetime | None
    service: str
    level: str
    message: str
    file: str
    line: int
    span_id: str | None = None
    extra: tuple[str, ...] = ()

    @property
    def where(self) -> str:
        """file:line of the record."""
        return f"{self.file}:{self.line}"

    def to_json(self) -> dict[str, Any]:
        """The entry as JSON-ready values."""
        out: dict[str, Any] = {
            "time": iso_utc(self.time),
            "service": self.service,
            "level": self.level,
            "message": self.message,
            "file": self.file,
            "line": self.line,
        }
        if self.span_id:
            out["span_id"] = self.span_id
        if self.extra:
            out["extra"] = list(self.extra)
        return out


@dataclass(frozen=True)
class Hop:
    """A service reached by the request: when it first appeared and who called it."""

    service: str
    caller: str | None
    at: datetime | None
    evidence: str  # first | span | call | mention | order
    where: str
    in_service_map: bool | None  # None when no service map was given, or for the first


@dataclass(frozen=True)
class Gap:
    """Something that should have happened for the id and did not."""

    kind: str  # no_answer | not_in_logs | silence
    service: str
    caller: str | None
    at: datetime | None  # the evidence: the call, or the caller's timeout
    since: datetime | None  # the call, or the silent service's last record before it
    until: datetime | None  # its next record (silence), if any
    evidence: str
    detail: str


@dataclass(frozen=True)
class FileReport:
    """What reading one file found."""

    path: str
    format: str | None
    compression: str | None
    service: str
    service_from: str
    timezone: str
    lines: int
    records: int
    records_for_id: int
    malformed: int
    malformed_lines: tuple[tuple[int, str, str], ...]
    error: str | None


@dataclass(frozen=True)
class Candidate:
    """An id with an error in the window, by its first error."""

    id: str
    first_error: Entry
    errors: int


@dataclass(frozen=True)
class TraceReport:
    """Logs of several services stitched into one timeline for one correlation id."""

    trace_id: str | None
    selected_by: str  # id | around | errors
    around: datetime | None
    window: timedelta | None
    linked_ids: tuple[str, ...]
    timeline: tuple[Entry, ...]
    timeline_dropped: int
    first_error: Entry | None
    hops: tuple[Hop, ...]
    gaps: tuple[Gap, ...]
    others: tuple[Candidate, ...]
    others_dropped: int
    errors_without_id: int
    files: tuple[FileReport, ...]
    warnings: tuple[str, ...]

    @property
    def services(self) -> list[str]:
        """Services in the order the request reached them."""
        return [h.service for h in self.hops]

    def to_json(self) -> dict[str, Any]:
        """The stable JSON form (plain dicts, lists, strings and numbers)."""
        per_service: dict[str, dict[str, Any]] = {}
        for e in self.timeline:
            s = per_service.setdefault(
                e.service, {"name": e.service, "records": 0, "errors": 0, "first": e.time}
            )
            s["records"] += 1
            s["errors"] += e.level in ("ERROR", "FATAL")
            s["last"] = e.time
        return {
            "trace_id": self.trace_id,
            "selected_by": self.selected_by,
            "around": iso_utc(self.around),
            "window_seconds": self.window.total_seconds() if self.window else None,
            "linked_ids": list(self.linked_ids),
            "first_error": self.first_error.to_json() if self.first_error else None,
            "services": [
                {**s, "first": iso_utc(s["first"]), "last": iso_utc(s.get("last"))}
                for s in per_service.values()
            ],
            "hops": [
                {
                    "service": h.service,
                    "caller": h.caller,
                    "at": iso_utc(h.at),
                    "evidence": h.evidence,
                    "where": h.where,
                    "in_service_map": h.in_service_map,
                }
                for h in self.hops
            ],
            "gaps": [
                {
                    "kind": g.kind,
                    "service": g.service,
                    "caller": g.caller,
                    "at": iso_utc(g.at),
                    "since": iso_utc(g.since),
                    "until": iso_utc(g.until),
                    "evidence": g.evidence,
                    "detail": g.detail,
                }
                for g in self.gaps
            ],
            "timeline": [e.to_json() for e in self.timeline],
            "timeline_dropped": self.timeline_dropped,
            "other_ids": [
                {"id": c.id, "errors": c.errors, "first_error": c.first_error.to_json()}
                for c in self.others
            ],
            "other_ids_dropped": self.others_dropped,
            "errors_without_id": self.errors_without_id,
            "files": [
                {
                    "path": f.path,
                    "format": f.format,
                    "compression": f.compression,
                    "service": f.service,
                    "service_from": f.service_from,
                    "timezone": f.timezone,
                    "lines": f.lines,
                    "records": f.records,
                    "records_for_id": f.records_for_id,
                    "malformed": f.malformed,
                    "malformed_lines": [
                        {"line": n, "reason": why, "text": text}
                        for n, why, text in f.malformed_lines
                    ],
                    "error": f.error,
                }
                for f in self.files
            ],
            "counts": {
                "files": len(self.files),
                "unreadable": sum(1 for f in self.files if f.error),
                "records": sum(f.records for f in self.files),
                "records_for_id": sum(f.records_for_id for f in self.files),
                "malformed": sum(f.malformed for f in self.files),
            },
            "warnings": list(self.warnings),
        }

    def to_markdown(self) -> str:
        """What the on-call engineer reads: first error, path, gaps, then the timeline."""
        return "\n".join(_markdown(self)) + "\n"


def _cell(text: str, limit: int = 160) -> str:
    text = " ".join(text.split())
    text = text if len(text) <= limit else text[: limit - 1] + "…"
    return text.replace("|", "\\|")


def _clock(when: datetime | None) -> str:
    stamp = iso_utc(when)
    return stamp[11:23] if stamp else "—"


def _markdown(r: TraceReport) -> list[str]:
    total = sum(f.records for f in r.files)
    bad = sum(f.malformed for f in r.files)
    title = f"# Trace {r.trace_id}" if r.trace_id else "# Trace: no id found"
    out = [title, ""]
    out.append(
        f"Stitched from {len(r.files)} file(s): {total:,} records read, "
        f"{len(r.timeline) + r.timeline_dropped:,} for this id, {bad:,} malformed line(s) skipped."
    )
    if r.selected_by != "id" and r.trace_id is not None:
        span = ""
        if r.around is not None and r.window is not None:
            span = f" between {_clock(r.around - r.window)} and {_clock(r.around + r.window)} UTC"
        count = len(r.others) + r.others_dropped + (1 if r.trace_id else 0)
        out.append(
            f"Chosen as the id whose first error is earliest among {count} id(s) with an "
            f"error{span}."
        )
    if r.trace_id is None:
        scope = "in the window" if r.around is not None else "in these files"
        out.append(
            f"No record with a correlation id is an error {scope}: give the id to stitch "
            "a request that did not fail."
        )
    if r.linked_ids:
        out.append(f"Also followed: {', '.join(r.linked_ids)} (seen on the same records).")
    out.append("")
    if r.first_error is not None:
        e = r.first_error
        out.append(
            f"**First error:** {iso_utc(e.time) or 'no time'} in **{e.service}**: "
            f"{_cell(e.message, 240)} (`{e.where}`)"
        )
    elif r.trace_id:
        out.append("**First error:** none: no record of this id is an error.")
    if r.hops:
        out += ["", "**Path:** " + " → ".join(h.service for h in r.hops)]
        for h in r.hops:
            if h.in_service_map is False:
                out.append(
                    f"- {h.caller} → {h.service}: **edge not in the service map** "
                    f"({h.evidence}, `{h.where}`)"
                )
    if r.gaps:
        out += ["", "## Gaps", ""]
        out += [f"- **{g.service}** ({g.kind.replace('_', ' ')}): {g.detail}" for g in r.gaps]
    if r.timeline:
        day = iso_utc(next((e.time for e in r.timeline if e.time), None)) or ""
        out += ["", f"## Timeline (UTC{', ' + day[:10] if day else ''})", ""]
        out += ["| time | service | level | message | where |", "| --- | --- | --- | --- | --- |"]
        for e in r.timeline[:MARKDOWN_ROWS]:
            text = e.message + (" ⏎ " + " ⏎ ".join(e.extra[:3]) if e.extra else "")
            out.append(
                f"| {_clock(e.time)} | {e.service} | {e.level or '—'} | {_cell(text)} | "
                f"`{e.where}` |"
            )
        hidden = len(r.timeline) - MARKDOWN_ROWS + r.timeline_dropped
        if hidden > 0:
            out.append(f"\n{hidden:,} more record(s) not shown (see --json).")
    if r.others:
        out += ["", "## Other ids with errors", ""]
        out += ["| id | first error | service | message |", "| --- | --- | --- | --- |"]
        for c in r.others:
            e = c.first_error
            out.append(f"| `{c.id}` | {_clock(e.time)} | {e.service} | {_cell(e.message, 100)} |")
        if r.others_dropped:
            out.append(f"\n{r.others_dropped:,} more id(s) not listed.")
    if r.errors_without_id:
        out += ["", f"{r.errors_without_id:,} error record(s) carried no correlation id."]
    out += ["", "## Files", ""]
    out += [
        "| file | format | service | times | records | for this id | malformed |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for f in r.files:
        fmt = (f.format or "—") + (f" ({f.compression})" if f.compression else "")
        if f.error:
            fmt = f"**unreadable**: {_cell(f.error, 120)}"
        out.append(
            f"| `{f.path}` | {fmt} | {f.service} | {f.timezone} | {f.records:,} | "
            f"{f.records_for_id:,} | {f.malformed:,} |"
        )
    shown = [(f, m) for f in r.files for m in f.malformed_lines]
    if shown:
        out += ["", "Malformed lines (skipped):", ""]
        for f, (n, why, text) in shown:
            quoted = _cell(text, 80).replace("`", "'")
            out.append(f"- `{f.path}:{n}` {why}: `{quoted}`")
        for f in r.files:
            if f.malformed > len(f.malformed_lines):
                out.append(f"- `{f.path}`: {f.malformed - len(f.malformed_lines):,} more")
    if r.warnings:
        out += ["", "## Warnings", ""]
        out += [f"- {w}" for w in r.warnings]
    return out
