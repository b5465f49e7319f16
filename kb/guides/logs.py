"""Log files read as a stream: format detected per file, timestamps in UTC, bad lines counted.

A file is read line by line (gzip, bzip2 and xz recognised by their magic bytes), so memory
does not grow with its size. A caller that wants one correlation id passes the id's bytes as
needles: a line without them is never parsed, only given a cheap look that tells a record
from a continuation line or junk, so malformed lines are still counted.
"""

from __future__ import annotations

import bz2
import gzip
import io
import lzma
import re
import zlib
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, tzinfo
from pathlib import Path
from typing import IO, Any

import orjson

from kb.guides import otlp
from kb.guides.formats import (
    BLANK,
    CONTINUED,
    SKIP,
    STARTS,
    TEXT_FORMATS,
    LineParser,
    Parsed,
    head_format,
)
from kb.guides.logfields import FieldReader, LogRecord, service_from_filename

MAX_LINE = 1 << 20  # a longer line is reported, not held
MAX_DOCUMENT = 512 << 20  # an OTLP export that is one JSON document is read whole
MALFORMED_SHOWN = 5
HEAD_BYTES = 64 * 1024
_MAGIC = ((b"\x1f\x8b", "gzip"), (b"BZh", "bzip2"), (b"\xfd7zXZ\x00", "xz"))
_OPENERS: dict[str, Callable[[Path], Any]] = {"gzip": gzip.open, "bzip2": bz2.open, "xz": lzma.open}
READ_ERRORS = (OSError, EOFError, zlib.error, lzma.LZMAError)
_JSON_ENDS = (b"}\n", b"}\r\n", b"}")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]+")
_BINARY = re.compile(r"[\x00-\x08\x0e-\x1f\ufffd]")
_UPPER_HEX = re.compile(r"(?<![0-9A-Za-z])(?=[0-9A-F]*[A-F])[0-9A-F]{16,32}(?![0-9A-Za-z])")


class _Decompressed(io.RawIOBase):
    """A decompressing reader as raw input: each read takes what one step decompresses, so
    a truncated file yields its readable part before the error (GzipFile.read would not)."""

    def __init__(self, inner: Any) -> None:
        super().__init__()
        self.inner = inner

    def readable(self) -> bool:
        """Always: it is an input."""
        return True

    def readinto(self, buffer: Any) -> int:
        """Fill buffer with what one decompression step gives."""
        data = self.inner.read1(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def close(self) -> None:
        """Close the compressed file too."""
        self.inner.close()
        super().close()


@dataclass
class ScanStats:
    """What one complete pass over a file found."""

    lines: int = 0
    records: int = 0
    malformed: int = 0
    malformed_lines: list[tuple[int, str, str]] = field(default_factory=list)

    def bad(self, line: int, reason: str, raw: bytes | str) -> None:
        """Count a malformed line; keep the first few with their reason."""
        self.malformed += 1
        if len(self.malformed_lines) < MALFORMED_SHOWN:
            text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else raw
            text = _CONTROL.sub(lambda m: f"<{len(m.group())} control bytes>", text.strip())
            self.malformed_lines.append((line, reason, text[:120]))


class LogFile:
    """One input file: how it is written, and what reading it found."""

    def __init__(
        self, path: Path, label: str, reader: FieldReader, zone: tzinfo | None = None
    ) -> None:
        self.path, self.label, self.reader, self.zone = path, label, reader, zone
        self.format: str | None = None
        self.compression: str | None = None
        self.service = service_from_filename(path)
        self.service_from = "file name"
        self.error: str | None = None
        self.parser: LineParser | None = None
        self.head_times: list[datetime] = []
        self.id_keys_seen: set[str] = set()  # squashed keys that carried ids in the head
        self.upper_ids = False
        self.stats: ScanStats | None = None

    @property
    def naive_seen(self) -> bool:
        """Some timestamps had no offset and no zone was given: they were read as UTC."""
        return self.parser is not None and self.parser.naive_seen

    def set_year(self, year: int) -> None:
        """The year to give syslog (RFC 3164) timestamps, which have none."""
        if self.parser is not None:
            self.parser.year = year

    def open(self) -> IO[bytes]:
        """The file's bytes, decompressed when its first bytes say it is compressed."""
        with open(self.path, "rb") as f:
            head = f.read(6)
        if head.startswith(b"\x28\xb5\x2f\xfd"):
            raise OSError("zstd-compressed: decompress it first (zstd -d)")
        for magic, name in _MAGIC:
            if head.startswith(magic):
                self.compression = name
                return io.BufferedReader(_Decompressed(_OPENERS[name](self.path)), MAX_LINE)
        return open(self.path, "rb", buffering=MAX_LINE)

    def sniff(self) -> None:
        """Detect the format and service from the first non-empty lines."""
        chunks: list[bytes] = []
        try:
            with self.open() as f:
                # Line by line, so a damaged file (a truncated gzip) still shows its head.
                while sum(map(len, chunks)) < HEAD_BYTES and (chunk := f.readline(HEAD_BYTES)):
                    chunks.append(chunk)
        except READ_ERRORS as exc:
            if not chunks:
                self.error = f"cannot read: {exc}"
                return
        head = b"".join(chunks)[:HEAD_BYTES]
        if not head.strip():
            self.format = "empty"
            return
        text = head.decode("utf-8", "replace")
        if len(_BINARY.findall(text)) > len(text) // 10:
            self.error = "binary file, not a log"
            return
        lines = text.split("\n")[: -1 if len(head) == HEAD_BYTES else None]
        lines = [x for x in lines if x.strip()][:20]
        self.format = head_format(lines)
        if self.format is None:
            document = text.lstrip().startswith(("{", "["))
            if document and ('"resourceSpans"' in text or '"resourceLogs"' in text):
                self.format = "otlp"
                self.id_keys_seen = {"traceid"}
            else:
                self.error = (
                    "format not recognised: the first lines are not JSON lines, logfmt, "
                    "syslog, timestamped text or an OTLP/JSON export"
                )
            return
        # Hex ids are compared in lower case; upper-case ones need their own needle.
        self.upper_ids = _UPPER_HEX.search(text) is not None
        self.parser = LineParser(self.format, self.label, self.reader, self.zone, self.service)
        services: Counter[str] = Counter()
        for number, line in enumerate(lines, 1):
            got = self.parser.parse(line.encode(), number, False)
            for rec in got if isinstance(got, list) else ():
                if rec.service != self.service:
                    services[rec.service] += 1
                if rec.time is not None:
                    self.head_times.append(rec.time)
                self.id_keys_seen.update(key for key, _ in rec.id_keys)
        if self.format == "otlp-lines":
            self.id_keys_seen.add("traceid")
        if services:
            self.service, self.service_from = services.most_common(1)[0][0], "records"
            self.parser.service = self.service

    def scan(
        self,
        wanted: frozenset[str] | None = None,
        needles: Sequence[bytes] = (),
        errors_only: bool = False,
    ) -> Iterator[LogRecord]:
        """Records carrying a wanted id (lines without a needle are not parsed), else the
        error records (errors_only), else every record; a read error ends the file, reported."""
        if self.error or self.format in (None, "empty"):
            return
        stats = ScanStats()
        try:
            if self.format == "otlp":
                yield from self._scan_document(wanted, errors_only, stats)
            elif wanted is not None and needles:
                yield from self._scan_filtered(wanted, needles, stats)
            else:
                yield from self._scan_all(wanted, errors_only, stats)
        except READ_ERRORS as exc:
            where = f" after line {stats.lines}" if stats.lines else ""
            self.error = f"read error{where}: {exc}"
        if self.stats is None:
            self.stats = stats

    def _scan_document(
        self, wanted: frozenset[str] | None, errors_only: bool, stats: ScanStats
    ) -> Iterator[LogRecord]:
        size = self.path.stat().st_size
        if size > MAX_DOCUMENT:
            self.error = (
                f"an OTLP/JSON document of {size >> 20} MB is too large to read at once; "
                "export it as JSON lines (one request per line)"
            )
            return
        with self.open() as f:
            data = f.read(MAX_DOCUMENT + 1)
        stats.lines = data.count(b"\n") + 1
        try:
            doc = orjson.loads(data)
        except orjson.JSONDecodeError as exc:
            stats.bad(1, f"not valid JSON ({exc})", data[:120])
            return
        del data
        keep: Callable[[str], bool] = bool if wanted is None else wanted.__contains__
        for rec in otlp.records(doc, self.label, 1, keep, self.service):
            stats.records += 1
            if not errors_only or rec.is_error:
                yield rec

    def _scan_all(
        self, wanted: frozenset[str] | None, errors_only: bool, stats: ScanStats
    ) -> Iterator[LogRecord]:
        assert self.parser is not None
        parse = self.parser.parse
        keep: LogRecord | None = None  # the last record yielded, for continuation lines
        lineno = skipped = 0
        try:
            with self.open() as f:
                readline = f.readline
                while raw := readline(MAX_LINE):
                    lineno += 1
                    if len(raw) == MAX_LINE:
                        got = self._oversize(f, raw) or parse(raw, lineno, errors_only)
                    else:
                        got = parse(raw, lineno, errors_only)
                        if got == SKIP:  # most lines of an errors-only pass
                            skipped += 1
                            keep = None
                            continue
                    found, keep = self._take(got, raw, lineno, stats, wanted, keep)
                    yield from found
        finally:  # a read error still reports how far it got
            stats.lines = lineno
            stats.records += skipped

    def _scan_filtered(
        self, wanted: frozenset[str], needles: Sequence[bytes], stats: ScanStats
    ) -> Iterator[LogRecord]:
        # The hot loop of the whole feature: keep the common path (no needle, a regular
        # line) to a substring test and one structural check.
        assert self.parser is not None
        parser, fmt = self.parser, self.format or ""
        first, rest = needles[0], tuple(needles[1:])
        json_like, logfmt = fmt in ("jsonl", "otlp-lines"), fmt == "logfmt"
        start = STARTS.get(fmt)
        keep: LogRecord | None = None
        lineno = regular = 0
        try:
            with self.open() as f:
                readline = f.readline
                while raw := readline(MAX_LINE):
                    lineno += 1
                    got: Parsed | None
                    if first in raw or (rest and any(n in raw for n in rest)):
                        got = self._oversize(f, raw) or parser.parse(raw, lineno, False)
                    else:
                        if json_like:
                            if raw.startswith(b"{") and raw.endswith(_JSON_ENDS):
                                regular += 1
                                keep = None
                                continue
                        elif logfmt:
                            if b"=" in raw and (raw.count(b'"') - raw.count(b'\\"')) % 2 == 0:
                                regular += 1
                                keep = None
                                continue
                        elif start is not None and start.match(raw):
                            regular += 1
                            keep = None
                            continue
                        got = self._oversize(f, raw) or parser.not_a_start(raw)
                    found, keep = self._take(got, raw, lineno, stats, wanted, keep)
                    yield from found
        finally:
            stats.lines = lineno
            stats.records += regular

    @staticmethod
    def _oversize(f: IO[bytes], raw: bytes) -> str | None:
        if len(raw) < MAX_LINE or raw.endswith(b"\n"):
            return None
        while (more := f.readline(MAX_LINE)) and not more.endswith(b"\n"):
            pass
        return f"line longer than {MAX_LINE >> 20} MiB"

    def _take(
        self,
        got: Parsed,
        raw: bytes,
        lineno: int,
        stats: ScanStats,
        wanted: frozenset[str] | None,
        keep: LogRecord | None,
    ) -> tuple[list[LogRecord], LogRecord | None]:
        """The records of one parsed line that are wanted, and the record continuations
        now belong to."""
        if isinstance(got, list):
            stats.records += 1
            found = []
            for rec in got:
                if wanted is not None and not wanted.intersection(rec.ids):
                    hit = _token_hit(rec.message, wanted) if self.format in TEXT_FORMATS else None
                    if hit is None:
                        continue
                    rec.ids = (*rec.ids, hit)
                found.append(rec)
            return found, (found[-1] if found else None)
        if got == CONTINUED:
            if keep is not None and len(keep.extra) < 30:
                keep.extra.append(raw.decode("utf-8", "replace").rstrip()[:300])
            return [], keep
        if got == SKIP:
            stats.records += 1
        elif isinstance(got, str):
            stats.bad(lineno, got, raw)
        return [], None if got != BLANK else keep


def _token_hit(text: str, wanted: frozenset[str]) -> str | None:
    """A wanted id written in free text without a key (plain-text formats only)."""
    lowered = text.lower()
    for wanted_id in wanted:
        at = lowered.find(wanted_id.lower())
        while at >= 0:
            before = lowered[at - 1 : at]
            after = lowered[at + len(wanted_id) : at + len(wanted_id) + 1]
            if not before.isalnum() and not after.isalnum():
                return wanted_id
            at = lowered.find(wanted_id.lower(), at + 1)
    return None


def syslog_year(files: Sequence[LogFile]) -> int | None:
    """The year syslog (RFC 3164) lines lack: the latest year other files' heads show."""
    years = [t.year for f in files if f.format != "syslog3164" for t in f.head_times]
    return max(years) if years else None


def describe_zone(file: LogFile, zone_name: str | None) -> str:
    """How the file's times were read, for the report."""
    if file.naive_seen:
        return "no offset in the file: read as UTC"
    if zone_name:
        return f"{zone_name} (given)"
    return "offsets in the file" if file.format not in (None, "empty") else "-"
