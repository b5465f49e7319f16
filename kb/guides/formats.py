"""Log line formats: telling them apart, and one parser per format turning a line into records.

JSON lines, logfmt, RFC 5424 and RFC 3164 syslog, timestamped plain text, and OTLP/JSON
exports written one request per line. Structured fields of every format go through one
`FieldReader`, so `trace_id`, `service` or `status` mean the same thing everywhere.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime, tzinfo

import orjson

from kb.guides import otlp
from kb.guides.logfields import (
    ERROR_LEVELS,
    FieldReader,
    Fields,
    LogRecord,
    as_status,
    is_coarse,
    normalise_id,
    normalise_level,
    parse_time,
    service_from_host,
    status_in_text,
    text_pairs,
)

FORMATS = ("otlp", "otlp-lines", "jsonl", "syslog5424", "syslog3164", "access", "text", "logfmt")
TEXT_FORMATS = frozenset({"text", "syslog3164", "syslog5424", "access"})
BLANK, SKIP, CONTINUED = 0, 1, 2  # parse results that are not records
Parsed = list[LogRecord] | int | str  # records, one of the codes above, or why it is malformed

_RFC5424 = re.compile(
    r"<(\d{1,3})>1 (\S+) (\S+) (\S+) (\S+) (\S+) (-|(?:\[(?:[^\]\\]|\\.)*\])+) ?(.*)", re.S
)
_SD_PARAM = re.compile(r'([^\s="\]]+)="((?:[^"\\]|\\.)*)"')
_RFC3164 = re.compile(
    r"(?:<(\d{1,3})>)?([A-Z][a-z]{2}) +(\d{1,2}) (\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,6}))? "
    r"(\S+) ([^\s:\[]+)(?:\[\d+\])?: ?(.*)",
    re.S,
)
_MONTHS = {
    m: i
    for i, m in enumerate(
        ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"), 1
    )
}
_TEXT = re.compile(
    r"\[?(\d{4}[-/]\d{2}[-/]\d{2}[T ]\d{2}:\d{2}:\d{2}(?:[.,]\d{1,9})?"
    r"(?: ?(?:Z|z|UTC|GMT|[+-]\d{2}(?::?\d{2})?))?)\]?[\s|:-]*(.*)",
    re.S,
)
# NCSA common/combined access log (nginx, Apache, ingress controllers).
_ACCESS = re.compile(
    r"(\S+) \S+ \S+ \[(\d{2})/([A-Z][a-z]{2})/(\d{4}):(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,6}))? "
    r'([+-]\d{4})\] "((?:[^"\\]|\\.)*)" (\d{3}) (\S+)(.*)',
    re.S,
)
_LOGFMT_START = re.compile(r"[A-Za-z_@][\w.@-]*=")
_LOGFMT_PAIR = re.compile(r'\s*([^\s="]+)(?:=("(?:[^"\\]|\\.)*"|[^\s"]*))?')
_LOGFMT_LEVEL = re.compile(rb'(?:^|\s)(?:level|lvl|severity)="?([A-Za-z]+)')
# Where a record starts, tested on the raw bytes of lines that are not parsed.
STARTS = {
    "text": re.compile(rb"\[?\d{4}[-/]\d{2}[-/]\d{2}[T ]\d{2}:\d{2}"),
    "syslog3164": re.compile(rb"(?:<\d{1,3}>)?[A-Z][a-z]{2} +\d{1,2} \d{2}:\d{2}:\d{2}"),
    "syslog5424": re.compile(rb"<\d{1,3}>1 "),
    "access": re.compile(rb"\S+ \S+ \S+ \[\d{2}/[A-Z][a-z]{2}/\d{4}:"),
}
_CONTINUATION = re.compile(
    rb"[ \t]|Traceback |Caused by|During handling|The above exception|\.\.\. \d+ more"
    rb"|[\w.$]+(?:Error|Exception|Exit|Interrupt)\b"
)
BAD = {
    "jsonl": "not valid JSON (truncated?)",
    "otlp-lines": "not valid JSON (truncated?)",
    "logfmt": "not logfmt (no key=value pairs, or an unterminated quote)",
}
_CALM = frozenset({"trace", "debug", "info", "information", "notice", "warn", "warning"})
_CALM_BYTES = frozenset(w.encode() for w in _CALM)
_FIVE_XX = re.compile(rb'[ =:"]5\d\d(?!\d)')


def logfmt_pairs(text: str) -> dict[str, str] | None:
    """key=value key2="quoted value" → dict; None when the line is not logfmt."""
    out: dict[str, str] = {}
    pos, end = 0, len(text)
    while pos < end:
        m = _LOGFMT_PAIR.match(text, pos)
        if m is None or m.end() == pos:
            if text[pos:].strip():
                return None
            break
        key, value = m.group(1), m.group(2)
        if value is None:
            value = "true"
        elif value.startswith('"'):
            value = value[1:-1].replace('\\"', '"').replace("\\n", "\n").replace("\\\\", "\\")
        elif value == "" and text.startswith('"', m.end()):
            return None  # an unterminated quote
        out.setdefault(key, value)
        pos = m.end()
    return out if any("=" in p for p in text.split(None, 3)) else None


def classify(line: str) -> str | None:
    """The format one line is written in, or None."""
    text = line.strip()
    if text.startswith("{"):
        try:
            doc = orjson.loads(text)
        except orjson.JSONDecodeError:
            return None
        if otlp.is_otlp(doc):
            return "otlp-lines"
        return "jsonl" if isinstance(doc, dict) else None
    if _RFC5424.fullmatch(text):
        return "syslog5424"
    m = _RFC3164.fullmatch(text)
    if m is not None and m.group(2) in _MONTHS:
        return "syslog3164"
    m = _ACCESS.fullmatch(text)
    if m is not None and m.group(3) in _MONTHS:
        return "access"
    if _TEXT.fullmatch(text):
        return "text"
    if _LOGFMT_START.match(text) and logfmt_pairs(text):
        return "logfmt"
    return None


class LineParser:
    """Parses the lines of one file, in its format, with its zone and default service."""

    def __init__(
        self, fmt: str, label: str, reader: FieldReader, zone: tzinfo | None, service: str
    ) -> None:
        self.format, self.label, self.reader, self.zone = fmt, label, reader, zone
        self.service = service
        self.year: int | None = None  # syslog 3164 has none
        self.naive_seen = False  # naive timestamps read as UTC (no zone given)
        self.level_key: str | None = None  # the JSON key of the level, once seen
        self.status_path: tuple[str, ...] | None = None  # and of the HTTP status
        self.parse: Callable[[bytes, int, bool], Parsed] = {
            "jsonl": self._json,
            "otlp-lines": self._otlp_line,
            "logfmt": self._logfmt,
            "syslog5424": self._syslog5424,
            "syslog3164": self._syslog3164,
            "access": self._access,
            "text": self._text,
        }[fmt]

    def _utc(self, when: datetime | None) -> datetime | None:
        if when is None or when.tzinfo is not None:
            return when.astimezone(UTC) if when else None
        if self.zone is not None:
            return when.replace(tzinfo=self.zone).astimezone(UTC)
        self.naive_seen = True
        return when.replace(tzinfo=UTC)

    def _record(
        self,
        f: Fields,
        line: int,
        errors_only: bool,
        message: str | None = None,
        when: datetime | None = None,
        level: str = "",
        service: str | None = None,
        coarse: bool | None = None,
    ) -> list[LogRecord] | int:
        level = level or normalise_level(f.level)
        if not level and f.levelnum is not None:
            level = normalise_level(f.levelnum, "otel")
        if message is None:
            message = "" if f.message is None else str(f.message)
            if f.error is not None and not isinstance(f.error, dict | list):
                error = str(f.error)
                message = f"{message} — {error}" if message and error not in message else error
        status = as_status(f.status)
        if status is None and " 5" in message:
            status = status_in_text(message)
        if errors_only and level not in ERROR_LEVELS and (status or 0) < 500:
            return SKIP
        if when is None:
            when = parse_time(f.time)
            coarse = is_coarse(f.time)
        peer = str(f.peer) if isinstance(f.peer, str) and f.peer else None
        if peer is None and isinstance(f.url, str) and "://" in f.url:
            peer = service_from_host(f.url.split("://", 1)[1].split("/", 1)[0])
        pairs = tuple((key, i) for key, raw in f.ids if (i := normalise_id(raw)))
        own = f.service if isinstance(f.service, str) and f.service else None
        return [
            LogRecord(
                self._utc(when),
                service or own or self.service,
                level,
                message,
                self.label,
                line,
                tuple(dict.fromkeys(i for _, i in pairs)),
                status,
                pairs,
                span_id=normalise_id(f.span),
                parent_span_id=normalise_id(f.parent),
                peer=peer,
                coarse=bool(coarse),
            )
        ]

    def _json(self, raw: bytes, line: int, errors_only: bool) -> Parsed:
        try:
            obj = orjson.loads(raw)
        except orjson.JSONDecodeError:
            return BLANK if not raw.strip() else BAD["jsonl"]
        if not isinstance(obj, dict):
            return "a JSON value that is not an object"
        if errors_only and self.level_key is not None:
            # Most lines are not errors: a calm level and no 5xx status skip the rest.
            level = obj.get(self.level_key)
            if isinstance(level, str) and level.lower() in _CALM:
                if self.status_path is None:
                    if b":5" not in raw and b'"5' not in raw and b" 5" not in raw:
                        return SKIP
                else:
                    status = obj.get(self.status_path[0])
                    if len(self.status_path) == 2 and isinstance(status, dict):
                        status = status.get(self.status_path[1])
                    if not (isinstance(status, int) and status >= 500) and not (
                        isinstance(status, str) and status.startswith("5")
                    ):
                        return SKIP
        elif self.level_key is None:
            # Learnt from the first record that has them (the file's head, when sniffed).
            self.level_key = next((k for k in obj if self.reader.role(k) == "level"), None)
            self.status_path = self.reader.status_path(obj)
        return self._record(self.reader.read(obj), line, errors_only)

    def _otlp_line(self, raw: bytes, line: int, errors_only: bool) -> Parsed:
        try:
            doc = orjson.loads(raw)
        except orjson.JSONDecodeError:
            return BLANK if not raw.strip() else BAD["jsonl"]
        if not otlp.is_otlp(doc):
            return "not an OTLP export"
        found = list(otlp.records(doc, self.label, line, bool, self.service))
        return [r for r in found if r.is_error] if errors_only else found

    def _logfmt(self, raw: bytes, line: int, errors_only: bool) -> Parsed:
        if errors_only:
            m = _LOGFMT_LEVEL.search(raw)
            calm = m is not None and m.group(1).lower() in _CALM_BYTES
            quoted = (raw.count(b'"') - raw.count(b'\\"')) % 2 == 0  # else: an open quote
            if calm and quoted and b"=5" not in raw and b'"5' not in raw:
                return SKIP
        text = raw.decode("utf-8", "replace").strip()
        if not text:
            return BLANK
        pairs = logfmt_pairs(text)
        if pairs is None:
            return BAD["logfmt"]
        return self._record(self.reader.read(pairs), line, errors_only)

    def _free_text(
        self,
        rest: str,
        line: int,
        errors_only: bool,
        when: datetime | None,
        level: str = "",
        service: str | None = None,
        pairs: dict[str, str] | None = None,
        coarse: bool = False,
    ) -> list[LogRecord] | int:
        # A level word among the first tokens beats a syslog priority: daemons often stamp
        # every line "notice" whatever the application meant.
        for i, word in enumerate(rest.split(None, 4)[:4]):
            bare = word.strip("[]<>:")
            found = normalise_level(bare) if bare.isalpha() and len(bare) > 1 else ""
            if found:
                level = found
                parts = rest.split(None, i + 1)
                rest = " ".join(parts[:i] + parts[i + 1 :])
                break
        fields = self.reader.read({**text_pairs(rest), **(pairs or {})})
        fields.time = None
        return self._record(fields, line, errors_only, rest, when, level, service, coarse)

    @staticmethod
    def _calm(raw: bytes) -> bool:
        """Nothing in a text line that could make it an error: no error word (every error
        level word contains one of these), no 5xx status. Cheaper than parsing it."""
        low = raw.lower()
        if (
            b"err" in low
            or b"fatal" in low
            or b"crit" in low
            or b"panic" in low
            or b"alert" in low
            or b"emerg" in low
            or b"severe" in low
        ):
            return False
        five = b" 5" in raw or b"=5" in raw or b":5" in raw or b'"5' in raw
        return not five or _FIVE_XX.search(raw) is None

    def _text(self, raw: bytes, line: int, errors_only: bool) -> Parsed:
        if errors_only and STARTS["text"].match(raw) and self._calm(raw):
            return SKIP
        text = raw.decode("utf-8", "replace").rstrip("\r\n")
        m = _TEXT.fullmatch(text)
        if m is None:
            return self.not_a_start(raw)
        stamp = m.group(1)
        return self._free_text(
            m.group(2), line, errors_only, parse_time(stamp), coarse=is_coarse(stamp)
        )

    def _syslog3164(self, raw: bytes, line: int, errors_only: bool) -> Parsed:
        # With a priority, its severity may be the only sign of an error: parse those.
        quick = errors_only and not raw.startswith(b"<")
        if quick and STARTS[self.format].match(raw) and self._calm(raw):
            return SKIP
        text = raw.decode("utf-8", "replace").rstrip("\r\n")
        m = _RFC3164.fullmatch(text)
        if m is None or m.group(2) not in _MONTHS:
            return self.not_a_start(raw)
        pri, month, day, hh, mm, ss, frac, _host, app, rest = m.groups()
        try:
            when = datetime(
                self.year or datetime.now(UTC).year,
                _MONTHS[month],
                int(day),
                int(hh),
                int(mm),
                int(ss),
                int((frac or "0").ljust(6, "0")),
            )
        except ValueError:
            return "impossible syslog date"
        level = normalise_level(int(pri) % 8, "syslog") if pri else ""
        return self._free_text(rest, line, errors_only, when, level, app, coarse=frac is None)

    def _syslog5424(self, raw: bytes, line: int, errors_only: bool) -> Parsed:
        text = raw.decode("utf-8", "replace").rstrip("\r\n")
        m = _RFC5424.fullmatch(text)
        if m is None:
            return self.not_a_start(raw)
        pri, stamp, _host, app, _proc, _msgid, data, rest = m.groups()
        pairs = dict(_SD_PARAM.findall(data)) if data != "-" else {}
        level = normalise_level(int(pri) % 8, "syslog")
        service = app if app != "-" else None
        when = parse_time(stamp) if stamp != "-" else None
        return self._free_text(
            rest.lstrip("\ufeff"), line, errors_only, when, level, service, pairs, is_coarse(stamp)
        )

    def _access(self, raw: bytes, line: int, errors_only: bool) -> Parsed:
        text = raw.decode("utf-8", "replace").rstrip("\r\n")
        m = _ACCESS.fullmatch(text)
        if m is None or m.group(3) not in _MONTHS:
            return self.not_a_start(raw)
        _client, day, month, year, hh, mm, ss, frac, off, request, status, _size, rest = m.groups()
        code = int(status)
        level = "ERROR" if code >= 500 else "WARN" if code >= 400 else "INFO"
        when = parse_time(f"{year}-{_MONTHS[month]:02d}-{day}T{hh}:{mm}:{ss}{off}")
        if when is not None and frac:
            when = when.replace(microsecond=int(frac.ljust(6, "0")))
        fields = self.reader.read(text_pairs(rest))
        fields.status = code
        message = f"{request} {status}{rest[:200]}"
        return self._record(fields, line, errors_only, message, when, level, coarse=not frac)

    def not_a_start(self, raw: bytes) -> int | str:
        """A line that starts no record: blank, a continuation (stack trace), or malformed."""
        if not raw.strip():
            return BLANK
        if self.format in TEXT_FORMATS and _CONTINUATION.match(raw):
            return CONTINUED
        return BAD.get(self.format, f"no {self.format} timestamp at the start of the line")


def head_format(lines: list[str]) -> str | None:
    """The format most of these lines are written in (ties: the stricter format)."""
    counts: dict[str, int] = {}
    for kind in map(classify, lines):
        if kind:
            counts[kind] = counts.get(kind, 0) + 1
    if not counts:
        return None
    return max(counts, key=lambda k: (counts[k], -FORMATS.index(k)))
