"""What a log line says, whatever its format: time, level, service, correlation ids.

Structured records (JSON, logfmt, syslog structured data, key=value pairs in plain text)
all go through one mapping reader, so a key means the same thing in every format.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from pathlib import Path
from typing import Any

DEFAULT_ID_FIELDS: tuple[str, ...] = (
    "trace_id",
    "traceparent",
    "x-trace-id",
    "correlation_id",
    "request_id",
)

ERROR_LEVELS = frozenset({"ERROR", "FATAL"})


@dataclass(slots=True)
class LogRecord:
    """One log line (or one span) in UTC, with the correlation ids it carries."""

    time: datetime | None
    service: str
    level: str
    message: str
    file: str
    line: int
    ids: tuple[str, ...] = ()
    status: int | None = None
    id_keys: tuple[tuple[str, str], ...] = ()  # (squashed key, id): where each id was found
    span_id: str | None = None
    parent_span_id: str | None = None
    peer: str | None = None
    end: datetime | None = None
    span_kind: str = ""
    extra: list[str] = field(default_factory=list)
    coarse: bool = False  # whole seconds: it happened somewhere in that second

    @property
    def is_error(self) -> bool:
        """An error level, or an HTTP 5xx status in the record."""
        return self.level in ERROR_LEVELS or (self.status is not None and self.status >= 500)


# -- levels ------------------------------------------------------------------------------

_LEVEL_WORDS = {
    "trace": "TRACE",
    "finest": "TRACE",
    "debug": "DEBUG",
    "dbug": "DEBUG",
    "fine": "DEBUG",
    "finer": "DEBUG",
    "d": "DEBUG",
    "info": "INFO",
    "inf": "INFO",
    "information": "INFO",
    "informational": "INFO",
    "notice": "INFO",
    "i": "INFO",
    "warn": "WARN",
    "warning": "WARN",
    "wrn": "WARN",
    "w": "WARN",
    "error": "ERROR",
    "err": "ERROR",
    "eror": "ERROR",
    "severe": "ERROR",
    "e": "ERROR",
    "fatal": "FATAL",
    "critical": "FATAL",
    "crit": "FATAL",
    "alert": "FATAL",
    "emerg": "FATAL",
    "emergency": "FATAL",
    "panic": "FATAL",
    "f": "FATAL",
}
_PINO = {10: "TRACE", 20: "DEBUG", 30: "INFO", 40: "WARN", 50: "ERROR", 60: "FATAL"}
_SYSLOG = ("FATAL", "FATAL", "FATAL", "ERROR", "WARN", "INFO", "INFO", "DEBUG")
_OTEL = ("TRACE", "DEBUG", "INFO", "WARN", "ERROR", "FATAL")


def level_from_number(number: int, scheme: str = "auto") -> str:
    """A numeric level as a word: OpenTelemetry severity, syslog severity or pino/bunyan."""
    if scheme == "otel" or (scheme == "auto" and 8 <= number <= 24 and number not in _PINO):
        return _OTEL[(number - 1) // 4] if 1 <= number <= 24 else ""
    if scheme == "syslog" or (scheme == "auto" and 0 <= number <= 7):
        return _SYSLOG[number] if 0 <= number <= 7 else ""
    return _PINO.get(number, "")


def normalise_level(value: Any, scheme: str = "auto") -> str:
    """TRACE, DEBUG, INFO, WARN, ERROR or FATAL ('' when the value is no level)."""
    if isinstance(value, bool) or value is None:
        return ""
    if isinstance(value, int | float):
        return level_from_number(int(value), scheme)
    word = str(value).strip().strip("[]<>:").lower()
    if word.isdigit():
        return level_from_number(int(word), scheme)
    return _LEVEL_WORDS.get(word) or _LEVEL_WORDS.get(word.rstrip("0123456789"), "")


# -- timestamps ----------------------------------------------------------------------------

_ISO = re.compile(
    r"(\d{4})[-/](\d{2})[-/](\d{2})[T ](\d{2}):(\d{2}):(\d{2})(?:[.,](\d{1,9}))?"
    r" ?(Z|z|UTC|GMT|[+-]\d{2}(?::?\d{2})?)?"
)
_OFFSETS: dict[str, tzinfo] = {"Z": UTC, "z": UTC, "UTC": UTC, "GMT": UTC}
_EPOCH_MIN, _EPOCH_MAX = 946_684_800, 4_102_444_800  # 2000-01-01 .. 2100-01-01


def _offset(text: str) -> tzinfo:
    zone = _OFFSETS.get(text)
    if zone is None:
        digits = text[1:].replace(":", "")
        minutes = int(digits[:2]) * 60 + int(digits[2:4] or 0)
        zone = timezone(timedelta(minutes=-minutes if text[0] == "-" else minutes))
        _OFFSETS[text] = zone
    return zone


def parse_epoch(number: float | int) -> datetime | None:
    """Epoch seconds, milliseconds, microseconds or nanoseconds (by magnitude) as UTC."""
    # 1e11 s is the year 5138 and 1e11 ms is 1973: the magnitudes cannot be confused.
    if isinstance(number, int):
        scale = next((s for s in (10**9, 10**6, 10**3) if number >= s * 10**8), 1)
        seconds, rest = divmod(number, scale)
        micros = rest * 1_000_000 // scale
    else:
        fscale = next((s for s in (1e9, 1e6, 1e3) if number >= s * 1e8), 1.0)
        seconds_f = number / fscale
        seconds, micros = int(seconds_f), round((seconds_f % 1) * 1_000_000)
    if not _EPOCH_MIN <= seconds <= _EPOCH_MAX:
        return None
    return datetime.fromtimestamp(seconds, UTC) + timedelta(microseconds=micros)


def parse_time(value: Any) -> datetime | None:
    """ISO-8601 (naive when it has no offset) or an epoch number; None if neither."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float):
        return parse_epoch(value)
    text = str(value).strip()
    m = _ISO.match(text)
    if m is None:
        try:
            return parse_epoch(int(text)) if text.isdigit() else parse_epoch(float(text))
        except (ValueError, OverflowError):
            return None
    year, month, day, hour, minute, second, frac, off = m.groups()
    try:
        return datetime(
            int(year),
            int(month),
            int(day),
            int(hour),
            int(minute),
            min(int(second), 59),  # a leap second is not worth a lost record
            int(frac[:6].ljust(6, "0")) if frac else 0,
            tzinfo=_offset(off) if off else None,
        )
    except ValueError:
        return None


_FRACTION = re.compile(r":\d{2}[.,]\d")


def is_coarse(value: Any) -> bool:
    """A timestamp written in whole seconds (syslog, epoch seconds, no fraction)."""
    if isinstance(value, bool) or value is None:
        return False
    if isinstance(value, int):
        return value < 10**11
    if isinstance(value, float):
        return value.is_integer() and value < 1e11
    text = str(value).strip()
    if text.isdigit():
        return int(text) < 10**11
    return _FRACTION.search(text) is None


def iso_utc(when: datetime | None) -> str | None:
    """2024-03-14T14:02:03.123Z: the report's one time format."""
    if when is None:
        return None
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond // 1000:03d}Z"


# -- correlation ids -----------------------------------------------------------------------

_TRACEPARENT = re.compile(r"[0-9a-f]{2}-([0-9a-f]{32})-[0-9a-f]{16}-[0-9a-f]{2}", re.I)
_HEX = re.compile(r"[0-9a-fA-F]+")


def normalise_id(value: Any) -> str | None:
    """A correlation id as kb compares it: a traceparent becomes its trace id, hex is lower."""
    if value is None or isinstance(value, bool | dict | list):
        return None
    text = str(value).strip().strip("\"'")
    if not text or len(text) > 200 or text.strip("0-") == "" or text.lower() in {"null", "none"}:
        return None
    m = _TRACEPARENT.fullmatch(text)
    if m:
        return m.group(1).lower()
    return text.lower() if _HEX.fullmatch(text) else text


def id_needles(trace_id: str, base64_too: bool = False, upper_too: bool = False) -> list[bytes]:
    """The byte strings a line holding this id must contain (a traceparent contains it too)."""
    raw = trace_id.encode()
    needles = [raw]
    if _HEX.fullmatch(trace_id):
        if upper_too and raw.upper() != raw:
            needles.append(raw.upper())
        if base64_too and len(trace_id) % 2 == 0:
            needles.append(base64.b64encode(binascii.unhexlify(trace_id)).rstrip(b"="))
    return needles


def b64_to_hex(value: str) -> str:
    """OTLP ids as protobuf JSON writes them (base64) in the hex form of the OTLP spec."""
    if _HEX.fullmatch(value) and len(value) in (16, 32):
        return value.lower()
    try:
        return base64.b64decode(value + "=" * (-len(value) % 4), validate=True).hex()
    except (binascii.Error, ValueError):
        return value


def _squash(key: str) -> str:
    return "".join(ch for ch in key.lower() if ch.isalnum())


def id_keys(id_fields: Sequence[str]) -> frozenset[str]:
    """Squashed key names that carry a correlation id (`X-` header prefix allowed)."""
    keys = {_squash(f) for f in id_fields}
    return frozenset(keys | {"x" + k for k in keys if not k.startswith("x")})


# -- service names -------------------------------------------------------------------------


def service_key(name: str) -> str:
    """checkout, checkoutservice, checkout-service and Checkout_Service are one service."""
    key = _squash(name)
    for suffix in ("service", "svc"):
        if key.endswith(suffix) and len(key) > len(suffix):
            return key[: -len(suffix)]
    return key


_NAME_NOISE = (
    re.compile(r"\.(gz|gzip|bz2|xz|lzma|zst|z)$", re.I),
    re.compile(r"[.-]\d{1,3}$"),  # rotation: app.log.1, app-2
    re.compile(r"\.(log|logs|jsonl|ndjson|json|txt|out|err|logfmt|otlp|syslog)$", re.I),
    re.compile(r"[._-]\d{4}-?\d{2}-?\d{2}(?:[T_-]?\d{2}(?:[:-]?\d{2}){0,2})?$"),  # date stamp
)


def service_from_filename(path: str | Path) -> str:
    """payment-service-2024-03-14.log.1.gz → payment-service."""
    name = Path(path).name
    while True:
        before = name
        for pattern in _NAME_NOISE:
            name = pattern.sub("", name) or name
        if name == before:
            return name or Path(path).name


_INTERNAL_HOST = re.compile(r"\.(svc(\.cluster\.local)?|cluster\.local|internal|local|lan)$")


def service_from_host(host: str) -> str | None:
    """payment-service:8080 → payment-service; api.stripe.com → stripe; IPs → None."""
    host = host.split(":")[0].lower().rstrip(".")
    if not host or host == "localhost" or host.replace(".", "").isdigit():
        return None
    if "." not in host or _INTERNAL_HOST.search(host):
        return host.split(".")[0]
    labels = host.split(".")
    return labels[-2] if len(labels) >= 2 else labels[0]


# -- structured fields ---------------------------------------------------------------------

_ROLES = {
    "time": "timestamp time ts datetime date t eventtime logtime asctime timemillis",
    "level": "level lvl loglevel levelname severity severitytext logseverity",
    "levelnum": "severitynumber levelvalue",
    "message": "message msg event text body shortmessage log",
    "service": "service servicename app application appname",
    "status": "status statuscode httpstatus httpstatuscode httpresponsestatuscode "
    "responsestatus responsestatuscode responsecode",
    "error": "error err errormessage exception exc errormsg",
    "peer": "peerservice callee upstream upstreamservice targetservice downstream "
    "downstreamservice remoteservice dependency",
    "url": "url httpurl urlfull requesturl upstreamurl",
    "span": "spanid",
    "parent": "parentspanid parentid",
}
_ROLE_OF = {name: role for role, names in _ROLES.items() for name in names.split()}
_NESTED_ALONE = frozenset({"id", "service"})


@dataclass(slots=True)
class Fields:
    """Raw values of the keys that matter, as a structured record holds them."""

    time: Any = None
    level: Any = None
    levelnum: Any = None
    message: Any = None
    service: Any = None
    status: Any = None
    error: Any = None
    peer: Any = None
    url: Any = None
    span: Any = None
    parent: Any = None
    ids: list[tuple[str, Any]] = field(default_factory=list)  # (squashed key, raw value)


class FieldReader:
    """Finds each role's key in a mapping, case- and separator-insensitively, once per key."""

    def __init__(self, id_fields: Sequence[str]) -> None:
        self.id_keys = id_keys(id_fields)
        # (squashed parent path, key) → (role, squashed full name); bounded below.
        self._memo: dict[tuple[str, str], tuple[str | None, str]] = {}

    def _lookup(self, prefix: str, key: str) -> tuple[str | None, str]:
        try:
            return self._memo[prefix, key]
        except KeyError:
            pass
        name = prefix + _squash(key)
        role = "id" if name in self.id_keys else _ROLE_OF.get(name)
        if role is None and prefix:
            # {"http": {"headers": {"X-Request-Id": ...}}}: some keys mean the same anywhere.
            name = _squash(key)
            alone = "id" if name in self.id_keys else _ROLE_OF.get(name)
            role = alone if alone in _NESTED_ALONE else None
        if len(self._memo) < 10_000:  # a file with random keys must not grow this
            self._memo[prefix, key] = (role, name)
        return role, name

    def role(self, key: str) -> str | None:
        """'id', 'time', 'level', ... or None for a top-level key that means nothing here."""
        return self._lookup("", key)[0]

    def read(self, obj: Mapping[str, Any]) -> Fields:
        """The values of every role in obj, nested objects included two levels down."""
        out = Fields()
        self._walk(obj, "", 0, out)
        return out

    def _walk(self, obj: Mapping[str, Any], prefix: str, depth: int, out: Fields) -> None:
        lookup = self._lookup
        for key, value in obj.items():
            if isinstance(value, dict):
                if depth < 2:
                    self._walk(value, lookup(prefix, key)[1], depth + 1, out)
                continue
            role, name = lookup(prefix, key)
            if role is None:
                continue
            if role == "id":
                out.ids.append((name, value))
            elif getattr(out, role) is None:
                setattr(out, role, value)

    def status_path(self, obj: Mapping[str, Any]) -> tuple[str, ...] | None:
        """Where obj keeps its HTTP status (a key, or a key inside a key), if it has one."""
        for key, value in obj.items():
            if isinstance(value, dict):
                inner = self._lookup("", key)[1]
                for k2 in value:
                    if self._lookup(inner, k2)[0] == "status":
                        return (key, k2)
            elif self._lookup("", key)[0] == "status":
                return (key,)
        return None


def as_status(value: Any) -> int | None:
    """An HTTP status code in 100..599, from an int or a string; None otherwise."""
    if isinstance(value, bool):
        return None
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value.strip())
    return value if isinstance(value, int) and 100 <= value <= 599 else None


_ACCESS_STATUS = re.compile(
    r"\b(?:GET|POST|PUT|PATCH|DELETE|HEAD|OPTIONS)\s+\S+(?:\s+HTTP/[\d.]+)?\"?\s+([1-5]\d\d)\b"
    r"|\bHTTP/[\d.]+\"?\s+([1-5]\d\d)\b"
)


def status_in_text(text: str) -> int | None:
    """The status of an access-log style line ('POST /orders 504', 'HTTP/1.1 503')."""
    m = _ACCESS_STATUS.search(text)
    return int(m.group(1) or m.group(2)) if m else None


_KV = re.compile(r"(?<![\w.-])([A-Za-z_][\w.-]*)(?:=|:\s)\s*(\"(?:[^\"\\]|\\.)*\"|[^\s,;\]\)\"]+)")


def text_pairs(text: str) -> dict[str, str]:
    """key=value and 'key: value' pairs in free text (quoted values unquoted)."""
    out: dict[str, str] = {}
    for key, value in _KV.findall(text):
        if value.startswith('"'):
            value = value[1:-1].replace('\\"', '"')
        out.setdefault(key, value)
    return out
