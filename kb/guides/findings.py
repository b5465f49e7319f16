"""What a stitched timeline says: the first error, the path the request took, its gaps.

All of it is read from the records of one id: who called whom (structured peers, URLs and
call verbs in messages, the span tree), who answered, and who fell silent while a caller
timed out.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from kb.guides.logfields import LogRecord, iso_utc, service_from_host, service_key
from kb.guides.trace_report import Entry, Gap, Hop

SKEW = timedelta(seconds=1)  # clocks of two hosts disagree by this much without comment
MIN_SILENCE = timedelta(seconds=1)

_URL = re.compile(r"\bhttps?://([A-Za-z0-9.-]+(?::\d+)?)")
_CALL = re.compile(
    r"(?i)(?:\bcalling|\bcall(?:ed|s)?(?: to)?|\brequest(?:ing|ed)?(?: to)?|\bsending \w* ?to"
    r"|\bforward(?:ing|ed)? to|\binvok(?:ing|ed)|\bconnecting to|->|→)\s+([A-Za-z][\w.-]*)"
)
_SERVICE_LIKE = re.compile(r"(?i)(?:service|svc|api|gateway)$")
_WORD = re.compile(r"[A-Za-z][\w.-]*[A-Za-z0-9]")
_TIMEOUT = re.compile(
    r"(?i)time[ds]?[ _-]?out|deadline[ _]exceeded|did not (?:answer|respond)|no response"
    r"|gateway timeout|\b504\b"
)

_LATEST = datetime.max.replace(tzinfo=UTC)
_IN_THE_SECOND = timedelta(microseconds=999_999)


def sort_time(rec: LogRecord) -> datetime:
    """Sort time: a whole-second stamp sorts at the end of its second, since a service that
    logs in seconds is usually called by one that logs finer, within that second."""
    if rec.time is None:
        return _LATEST
    return rec.time + _IN_THE_SECOND if rec.coarse else rec.time


def entry(rec: LogRecord, names: Mapping[str, str]) -> Entry:
    """A record as a timeline row, under its service's display name."""
    return Entry(
        rec.time,
        names.get(service_key(rec.service), rec.service),
        rec.level,
        rec.message,
        rec.file,
        rec.line,
        rec.span_id,
        tuple(rec.extra),
    )


@dataclass(frozen=True)
class Analysis:
    """The timeline of one id and what it shows."""

    timeline: tuple[Entry, ...]
    first_error: Entry | None
    hops: tuple[Hop, ...]
    gaps: tuple[Gap, ...]


@dataclass(frozen=True)
class _Call:
    caller: str
    callee: str
    callee_name: str  # as the record spells it, for a service that has no record
    at: datetime
    where: str
    kind: str  # call | mention


def analyse(
    records: list[LogRecord],
    file_order: Mapping[str, int],
    input_services: Iterable[str],
    known_edges: Iterable[tuple[str, str]] | None,
) -> Analysis:
    """Order the records in time and find the first error, the hops and the gaps."""
    records = sorted(records, key=lambda r: (sort_time(r), file_order.get(r.file, 0), r.line))
    # One display name per service, however each file spells it.
    spellings: dict[str, Counter[str]] = {}
    for r in records:
        spellings.setdefault(service_key(r.service), Counter())[r.service] += 1
    names = {k: c.most_common(1)[0][0] for k, c in spellings.items()}
    timeline = tuple(entry(r, names) for r in records)
    first_error = next((entry(r, names) for r in records if r.is_error), None)

    edges = None
    if known_edges is not None:
        edges = {(service_key(a), service_key(b)) for a, b in known_edges}
    in_input = {service_key(s) for s in input_services}
    known = set(names) | in_input | {k for e in edges or () for k in e}
    calls = _calls(records, known)
    hops = _hops(records, names, calls, edges)
    gaps = _gaps(records, names, calls, in_input)
    return Analysis(timeline, first_error, hops, gaps)


def _calls(records: list[LogRecord], known: set[str]) -> list[_Call]:
    """Who called whom, from structured peers, URLs and call verbs; mentions kept apart."""
    out = []
    for r in records:
        if r.time is None:
            continue
        own = service_key(r.service)
        called: dict[str, str] = {}
        if r.peer:
            called[service_key(r.peer)] = r.peer
        for host in _URL.findall(r.message):
            name = service_from_host(host)
            if name:
                called.setdefault(service_key(name), name)
        for m in _CALL.finditer(r.message):
            word = m.group(1).rstrip(".")
            if service_key(word) in known or _SERVICE_LIKE.search(word):
                called.setdefault(service_key(word), word)
        where = f"{r.file}:{r.line}"
        for key, name in called.items():
            if key != own:
                out.append(_Call(own, key, name, r.time, where, "call"))
        for word in sorted(set(_WORD.findall(r.message))):
            key = service_key(word)
            if key != own and key in known and key not in called:
                called[key] = word
                out.append(_Call(own, key, word, r.time, where, "mention"))
    return out


def _hops(
    records: list[LogRecord],
    names: dict[str, str],
    calls: list[_Call],
    edges: set[tuple[str, str]] | None,
) -> tuple[Hop, ...]:
    span_owner = {r.span_id: service_key(r.service) for r in records if r.span_id}
    firsts: dict[str, LogRecord] = {}
    for r in records:
        if r.time is not None:
            firsts.setdefault(service_key(r.service), r)
    hops: list[Hop] = []
    previous: str | None = None
    for key, first in firsts.items():
        caller, evidence = None, "first"
        if previous is not None:
            parent = next(
                (
                    span_owner[r.parent_span_id]
                    for r in records
                    if service_key(r.service) == key
                    and r.parent_span_id in span_owner
                    and span_owner[r.parent_span_id] != key
                ),
                None,
            )
            assert first.time is not None
            limit = first.time + SKEW
            before = [c for c in calls if c.callee == key and c.at <= limit and c.caller in firsts]
            direct = [c for c in before if c.kind == "call"]
            mention = [c for c in calls if c.callee == key and c.caller in firsts]
            if parent is not None:
                caller, evidence = parent, "span"
            elif direct:
                caller, evidence = direct[-1].caller, "call"
            elif mention:
                caller, evidence = mention[0].caller, "mention"
            else:
                caller, evidence = previous, "order"
        in_map = None if edges is None or caller is None else (caller, key) in edges
        hops.append(
            Hop(
                names[key],
                names.get(caller) if caller else None,
                first.time,
                evidence,
                f"{first.file}:{first.line}",
                in_map,
            )
        )
        previous = key
    return tuple(hops)


def _gaps(
    records: list[LogRecord], names: dict[str, str], calls: list[_Call], in_input: set[str]
) -> tuple[Gap, ...]:
    activity: dict[str, list[datetime]] = {}
    for r in records:
        for t in (r.time, r.end):
            if t is not None:
                activity.setdefault(service_key(r.service), []).append(t)
    for times in activity.values():
        times.sort()

    def name(key: str) -> str:
        """The display name of a service key."""
        return names.get(key, key)

    gaps: list[Gap] = []
    reported: set[tuple[str, str]] = set()
    for c in calls:
        if c.kind != "call" or (c.callee, c.caller) in reported:
            continue
        after = [t for t in activity.get(c.callee, []) if t >= c.at - SKEW]
        if after:
            continue
        reported.add((c.callee, c.caller))
        when = iso_utc(c.at)
        if c.callee in activity or c.callee in in_input:
            kind = "no_answer"
            detail = (
                f"called by {name(c.caller)} at {when} (`{c.where}`), then logged nothing for "
                "this id" + (" at all" if c.callee not in activity else " after the call")
            )
        else:
            kind = "not_in_logs"
            detail = (
                f"called by {name(c.caller)} at {when} (`{c.where}`); none of the logs given "
                "are its own, so whether it answered is not known"
            )
        callee = names.get(c.callee, c.callee_name)
        gaps.append(Gap(kind, callee, name(c.caller), c.at, c.at, None, c.where, detail))
    gaps += _silences(records, activity, calls, name)
    return tuple(gaps)


def _silences(
    records: list[LogRecord],
    activity: dict[str, list[datetime]],
    calls: list[_Call],
    name: Callable[[str], str],
) -> list[Gap]:
    """A service silent for the id while a service that called it timed out."""
    out: list[Gap] = []
    seen: set[tuple[str, datetime]] = set()
    for r in records:
        if r.time is None or not (_TIMEOUT.search(r.message) or r.status in (408, 504)):
            continue
        own = service_key(r.service)
        about = {c.callee for c in calls if c.caller == own and c.where == f"{r.file}:{r.line}"}
        if not about:  # "timed out" alone: the last service it called before
            earlier = [c for c in calls if c.caller == own and c.at <= r.time]
            about = {earlier[-1].callee} if earlier else set()
        for key in about:
            times = activity.get(key)
            if not times:
                continue
            last = max((t for t in times if t <= r.time), default=None)
            if last is None or r.time - last < MIN_SILENCE or (key, last) in seen:
                continue
            seen.add((key, last))
            following = min((t for t in times if t > r.time), default=None)
            quiet = (r.time - last).total_seconds()
            tail = f"; next record {iso_utc(following)}" if following else "; nothing after"
            out.append(
                Gap(
                    "silence",
                    name(key),
                    name(own),
                    r.time,
                    last,
                    following,
                    f"{r.file}:{r.line}",
                    f"logged nothing for {quiet:.1f} s (last record {iso_utc(last)}) while "
                    f"{name(own)} timed out at {iso_utc(r.time)} (`{r.file}:{r.line}`){tail}",
                )
            )
    return out
