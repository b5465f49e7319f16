"""Logs of several services stitched into one timeline per correlation id, with its findings.

`stitch_logs` reads each file as a stream and keeps only the records of the wanted id: one
pass when the id is given (lines without its bytes are not parsed), or a first pass that
keeps, per id, only its first error in the time window, then a pass for the chosen id.
Ids found on the same records (a request id next to the trace id) are followed by one more
pass over the files that use those keys.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, tzinfo
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from kb.errors import KBError
from kb.guides.findings import analyse, entry, sort_time
from kb.guides.logfields import (
    DEFAULT_ID_FIELDS,
    FieldReader,
    LogRecord,
    id_needles,
    normalise_id,
    parse_time,
)
from kb.guides.logs import LogFile, describe_zone, syslog_year
from kb.guides.trace_report import Candidate, FileReport, TraceReport

MAX_RECORDS = 50_000  # records of one id held; more are counted, not kept
MAX_CANDIDATES = 1_000  # ids with an error held by the first pass of --around
MAX_LINKED = 10
OTHERS_LISTED = 20


_WINDOW = re.compile(r"\s*(\d+(?:\.\d+)?)\s*(ms|s|m|min|h|d)?\s*", re.I)
_UNITS = {"ms": 0.001, "s": 1, "m": 60, "min": 60, "h": 3600, "d": 86400}


def parse_window(text: str) -> timedelta:
    """'10m', '90s', '1.5h', '2d' or plain seconds as a timedelta (for --window)."""
    m = _WINDOW.fullmatch(text)
    if m is None or float(m.group(1)) <= 0:
        raise KBError(f"--window {text!r}: give a duration such as 10m, 90s or 2h")
    return timedelta(seconds=float(m.group(1)) * _UNITS[(m.group(2) or "s").lower()])


def parse_when(text: str) -> datetime:
    """An ISO-8601 time (UTC when it has no offset) or epoch seconds (for --around)."""
    when = parse_time(text.strip())
    if when is None:
        try:  # minutes only: 2024-03-14 14:02, 2024-03-14T14:02+01:00
            when = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
        except ValueError:
            when = None
    if when is None:
        raise KBError(f"--around {text!r}: give a time such as 2024-03-14T14:02:00Z")
    return when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)


def parse_tz_options(items: Iterable[str]) -> dict[str, str]:
    """['FILE=ZONE', ...] (--tz, repeatable) as {FILE: ZONE}, each zone checked."""
    out = {}
    for item in items:
        file, sep, zone = item.rpartition("=")
        if not sep or not file or not zone:
            raise KBError(f"--tz {item!r}: write FILE=ZONE, e.g. users.log=Europe/Berlin")
        _zone(zone)
        out[file] = zone
    return out


def _zone(name: str | tzinfo) -> tuple[tzinfo, str]:
    if isinstance(name, tzinfo):
        return name, str(name)
    try:
        return ZoneInfo(name), name
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise KBError(
            f"unknown time zone {name!r}: give an IANA name such as Europe/Berlin or UTC"
        ) from exc


def _expand(paths: Sequence[str | Path]) -> list[tuple[Path, str]]:
    """(path, label) of every file: a directory stands for the files directly in it."""
    out = []
    for given in paths:
        path = Path(given)
        if path.is_dir():
            out += [
                (p, str(p))
                for p in sorted(path.iterdir())
                if p.is_file() and not p.name.startswith(".")
            ]
        else:
            out.append((path, str(given)))
    return out


def _zones_for(
    files: list[tuple[Path, str]], tz_by_file: Mapping[str, str | tzinfo], warnings: list[str]
) -> list[tuple[tzinfo | None, str | None]]:
    """The zone of each file: --tz keys match the path as given, its name, or its real path."""
    zones: list[tuple[tzinfo | None, str | None]] = [(None, None)] * len(files)
    for key, value in tz_by_file.items():
        zone = _zone(value)
        hits = [
            i
            for i, (path, label) in enumerate(files)
            if key in (label, path.name) or Path(key).resolve() == path.resolve()
        ]
        if not hits:
            warnings.append(f"--tz {key}={zone[1]}: no such file among the logs")
        for i in hits:
            zones[i] = zone
    return zones


@dataclass
class _Found:
    """The records of the id, each once, up to MAX_RECORDS."""

    records: list[LogRecord] = field(default_factory=list)
    per_file: Counter[str] = field(default_factory=Counter)
    dropped: int = 0
    seen: set[tuple] = field(default_factory=set)

    def collect(self, files: Iterable[LogFile], wanted: frozenset[str], new: Iterable[str]) -> None:
        """Scan files for records of `wanted`; only lines holding one of `new` are parsed."""
        new = list(new)
        for f in files:
            otlp = f.format in ("otlp", "otlp-lines")
            needles = [n for i in new for n in id_needles(i, otlp, f.upper_ids)]
            for rec in f.scan(wanted=wanted, needles=needles):
                key = (rec.file, rec.line, rec.span_id, rec.message, rec.time)
                if key in self.seen:
                    continue  # the linked-id pass finds records of the first pass again
                self.per_file[rec.file] += 1
                if len(self.records) < MAX_RECORDS:
                    self.seen.add(key)
                    self.records.append(rec)
                else:
                    self.dropped += 1


def _candidates(
    files: list[LogFile], start: datetime | None, end: datetime | None
) -> tuple[list[Candidate], int]:
    """Ids with an error in [start, end], by first error; and errors that carry no id."""
    first: dict[str, tuple[LogRecord, int]] = {}
    no_id = 0
    for f in files:
        for rec in f.scan(errors_only=True):
            if rec.time is None or (start and rec.time < start) or (end and rec.time > end):
                continue
            if not rec.ids:
                no_id += 1
                continue
            key = rec.ids[0]
            held = first.get(key)
            if held is None:
                first[key] = (rec, 1)
                if len(first) > 2 * MAX_CANDIDATES:  # keep the earliest: memory stays bounded
                    ranked = sorted(first.items(), key=lambda kv: sort_time(kv[1][0]))
                    first = dict(ranked[:MAX_CANDIDATES])
            else:
                best = rec if sort_time(rec) < sort_time(held[0]) else held[0]
                first[key] = (best, held[1] + 1)
    ranked = sorted(first.items(), key=lambda kv: (sort_time(kv[1][0]), kv[0]))
    return [Candidate(k, entry(rec, {}), n) for k, (rec, n) in ranked], no_id


def _follow_links(
    files: list[LogFile], found: _Found, wanted: frozenset[str], warnings: list[str]
) -> list[str]:
    """Follow ids seen on the wanted id's records; returns those followed."""
    keys: dict[str, set[str]] = {}
    for r in found.records:
        for key, i in r.id_keys:
            if i not in wanted:
                keys.setdefault(i, set()).add(key)
    linked = sorted(keys)
    if len(linked) > MAX_LINKED:
        warnings.append(
            f"{len(linked)} other ids appear on this id's records; only the first "
            f"{MAX_LINKED} were followed"
        )
        linked = linked[:MAX_LINKED]
    if not linked or found.dropped:
        return []
    # Only files whose first lines use one of those keys (request_id, say) can hold a
    # record that carries a linked id alone: the others are not read again.
    fields = set().union(*(keys[i] for i in linked))
    again = [f for f in files if f.id_keys_seen & fields]
    before = len(found.records)
    found.collect(again, wanted | set(linked), linked)
    extra = found.records[before:]
    # A linked id that also sits on records of other ids (a batch or session id) would
    # mix requests: its records are dropped unless they carry a wanted id.
    broad = {i for r in extra if set(r.ids) - wanted - set(linked) for i in r.ids} & set(linked)
    if broad:
        keep = wanted | (set(linked) - broad)
        found.records = found.records[:before] + [r for r in extra if keep & set(r.ids)]
        for r in extra:
            found.per_file[r.file] -= not keep & set(r.ids)
        warnings.append(f"not followed (shared with other requests): {', '.join(sorted(broad))}")
    return [i for i in linked if i not in broad]


def stitch_logs(
    paths: Sequence[str | Path],
    trace_id: str | None = None,
    around: datetime | None = None,
    window: timedelta = timedelta(minutes=10),
    tz_by_file: Mapping[str, str | tzinfo] | None = None,
    id_fields: Sequence[str] = DEFAULT_ID_FIELDS,
    known_edges: Iterable[tuple[str, str]] | None = None,
) -> TraceReport:
    """Stitch log files into one timeline for trace_id, or for the earliest-failing id.

    Without trace_id, the ids with an error in [around - window, around + window] (the whole
    files when around is None) are candidates and the one whose first error is earliest is
    covered; the others are listed. A naive `around` is UTC. `tz_by_file` maps a file (as
    given, its name, or its path) to the IANA zone of its offset-less timestamps.
    `known_edges` holds (caller, callee) service pairs. Raises KBError only for a bad zone
    or id; unreadable files and malformed lines are reported in the result.
    """
    warnings: list[str] = []
    located = _expand(paths)
    zones = _zones_for(located, tz_by_file or {}, warnings)
    reader = FieldReader(id_fields)
    files = [
        LogFile(path, label, reader, zone)
        for (path, label), (zone, _name) in zip(located, zones, strict=True)
    ]
    for f in files:
        f.sniff()
    year = syslog_year(files)
    for f in files:
        if f.format == "syslog3164":
            f.set_year(year or datetime.fromtimestamp(f.path.stat().st_mtime, UTC).year)
            origin = "other files' timestamps" if year else "the file's modification time"
            assert f.parser is not None
            warnings.append(
                f"{f.label}: syslog timestamps carry no year; {f.parser.year} assumed ({origin})"
            )

    wanted_id = normalise_id(trace_id) if trace_id else None
    if trace_id and wanted_id is None:
        raise KBError(f"{trace_id!r} is not a usable correlation id")
    if around is not None and around.tzinfo is None:
        around = around.replace(tzinfo=UTC)
    if trace_id and around is not None:
        warnings.append("--around is ignored when an id is given")
    selected_by, others, no_id = "id", [], 0
    if wanted_id is None:
        selected_by = "around" if around is not None else "errors"
        start, end = (around - window, around + window) if around is not None else (None, None)
        ranked, no_id = _candidates(files, start, end)
        if ranked:
            wanted_id, others = ranked[0].id, ranked[1:]

    found = _Found()
    linked: list[str] = []
    if wanted_id is not None:
        wanted = frozenset({wanted_id})
        found.collect(files, wanted, wanted)
        linked = _follow_links(files, found, wanted, warnings)
        others = [c for c in others if c.id not in linked]
    if found.dropped:
        warnings.append(f"only the first {MAX_RECORDS:,} records of the id are kept")
    for f in files:
        if f.naive_seen:
            warnings.append(
                f"{f.label}: timestamps have no UTC offset and no --tz was given for it; "
                "read as UTC"
            )
        if f.error:
            warnings.append(f"{f.label}: {f.error}")

    analysis = analyse(
        found.records,
        {f.label: i for i, f in enumerate(files)},
        [f.service for f in files if not f.error],
        known_edges,
    )
    return TraceReport(
        trace_id=wanted_id,
        selected_by=selected_by,
        around=around if selected_by == "around" else None,
        window=window if selected_by == "around" else None,
        linked_ids=tuple(linked),
        timeline=analysis.timeline,
        timeline_dropped=found.dropped,
        first_error=analysis.first_error,
        hops=analysis.hops,
        gaps=analysis.gaps,
        others=tuple(others[:OTHERS_LISTED]),
        others_dropped=max(0, len(others) - OTHERS_LISTED),
        errors_without_id=no_id,
        files=tuple(
            _file_report(f, name, found.per_file[f.label])
            for f, (_, name) in zip(files, zones, strict=True)
        ),
        warnings=tuple(warnings),
    )


def _file_report(f: LogFile, zone_name: str | None, for_id: int) -> FileReport:
    stats = f.stats
    return FileReport(
        f.label,
        f.format,
        f.compression,
        f.service,
        f.service_from,
        describe_zone(f, zone_name),
        stats.lines if stats else 0,
        stats.records if stats else 0,
        for_id,
        stats.malformed if stats else 0,
        tuple(stats.malformed_lines) if stats else (),
        f.error,
    )
