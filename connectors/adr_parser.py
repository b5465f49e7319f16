"""Architecture Decision Records: Nygard and MADR (2, 3, 4) parsed into one shape.

`parse_adr` never raises: whatever it cannot understand becomes a `problem` (line, message)
and, when the text is not usable as an ADR (no status, broken front matter), `malformed`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import PurePosixPath
from typing import Any

import yaml

from connectors.yaml_lines import yaml_error_line
from kb.contract.kinds import AdrStatus

# Folders that hold ADRs by convention (adr-tools, MADR, log4brains, backstage).
ADR_DIR_NAMES = frozenset(
    {"adr", "adrs", "decisions", "decision-records", "architecture-decisions", "decision-log"}
)
# "0007-use-kafka.md", "ADR-0007-use-kafka.md", "adr_7_use_kafka.md"
NUMBERED_NAME = re.compile(r"^(?:adr[-_ ]?)?(\d{1,5})(?:[-_ .]|$)", re.IGNORECASE)
MARKDOWN_SUFFIXES = frozenset({".md", ".markdown", ".mdx"})

_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
# "7. Use Kafka", "ADR-0007: Use Kafka", "ADR 7 Use Kafka" (a bare "2024 roadmap" is no number)
_TITLE_NUMBER = re.compile(
    r"^(?:ADR[-\s#]*0*(\d{1,5})\b\s*[.:)\-–—]?|0*(\d{1,5})\s*[.:)\-–—]\s)\s*(.+)$", re.I
)
# adr-tools' template heading "# NUMBER. TITLE" copied with the number left unfilled:
# "# n. Django Templates", "# NNNN. Title", "# X. Title" (the file name carries the number).
_TITLE_PLACEHOLDER = re.compile(r"^(?:n+|x+|number)\s*[.:)]\s+(.+)$", re.I)
# A template's own name: "template.md", "adr-template-bare.md", "0000-template.md" (but not
# "0010-django-templates.md", a decision *about* templates).
_TEMPLATE_WORD = re.compile(r"(?:^|[-_ .])template(?:$|[-_ .])", re.I)
_META_LINE = re.compile(r"^\s*(?:[*+-]\s+)?\**([A-Za-z][A-Za-z -]{1,30}?)\**\s*:\**\s*(.*)$")
_LINK = re.compile(r"\[([^\]]*)\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
_ADR_NUMBER = re.compile(
    r"\b(?:ADR|decision)[-\s#]*0*(\d{1,5})\b|#0*(\d{1,5})\b|^\s*0*(\d{1,5})\b", re.I
)
_ISO_DATE = re.compile(r"\b(\d{4})-(\d{2})-(\d{2})\b")
_SUPERSEDED_BY = re.compile(r"\bsuperseded[-\s]+by\b:?(.*)", re.I)
_SUPERSEDES = re.compile(r"\bsupersedes\b:?(.*)", re.I)
# How real repositories write a status, by its first words (after "partially", "status:").
_STATUS_WORDS = {
    **dict.fromkeys(
        ("accepted", "approved", "implemented", "adopted", "agreed", "active", "done",
         "complete", "completed", "final", "finalized", "finalised", "merged", "decided"),
        AdrStatus.ACCEPTED,
    ),
    **dict.fromkeys(
        ("proposed", "proposal", "draft", "pending", "open", "review", "rfc", "wip",
         "discussion", "discussing", "suggested", "new", "todo", "planned", "considering"),
        AdrStatus.PROPOSED,
    ),
    **dict.fromkeys(
        ("rejected", "declined", "reverted", "abandoned", "withdrawn", "cancelled",
         "canceled", "refused", "dropped"),
        AdrStatus.REJECTED,
    ),
    **dict.fromkeys(("deprecated", "obsolete", "retired", "sunset"), AdrStatus.DEPRECATED),
    **dict.fromkeys(("superseded", "replaced", "amended"), AdrStatus.SUPERSEDED),
}  # fmt: skip
_STATUS_PHRASES = (  # two words that mean one status, before the word-by-word reading
    ("in review", AdrStatus.PROPOSED),
    ("under review", AdrStatus.PROPOSED),
    ("in progress", AdrStatus.PROPOSED),
    ("under discussion", AdrStatus.PROPOSED),
    ("not accepted", AdrStatus.REJECTED),
    ("won t", AdrStatus.REJECTED),
)
_STATUS_FILLER = frozenset({"partially", "partly", "status", "current", "is", "the", "adr"})
_IN_FAVOUR_OF = re.compile(r"\bin\s+favou?r\s+of\b:?(.*)", re.I)

_CONTEXT_SECTIONS = ("context and problem statement", "context", "problem statement")
_DECISION_SECTIONS = ("decision outcome", "decision")
_CONSEQUENCE_SECTIONS = (
    "consequences",
    "positive consequences",
    "negative consequences",
    "positive consequences of the decision",
    "negative consequences of the decision",
)


@dataclass(frozen=True)
class AdrRef:
    """A reference to another ADR from a Supersedes / Superseded-by line."""

    text: str
    target: str | None = None  # a markdown link target, relative to the ADR's folder
    number: int | None = None


@dataclass
class Section:
    """A markdown section: heading, its line, level and body text."""

    title: str
    level: int
    line: int
    body: str = ""
    body_lines: list[str] = field(default_factory=list)


@dataclass
class ParsedAdr:
    """What one ADR says; `problems` are (line, message) pairs to report as failures."""

    style: str = "nygard"
    number: int | None = None
    title: str = ""
    date: date | None = None
    status: AdrStatus | None = None
    status_line: int | None = None
    status_raw: str | None = None  # the status line as written ("**Implemented**.")
    supersedes: list[AdrRef] = field(default_factory=list)
    superseded_by: list[AdrRef] = field(default_factory=list)
    deciders: list[str] = field(default_factory=list)
    context: str = ""
    decision: str = ""
    consequences: str = ""
    has_context: bool = False
    has_decision: bool = False
    malformed: bool = False
    problems: list[tuple[int, str]] = field(default_factory=list)


def is_adr_dir(path: str) -> bool:
    """Whether a repo path sits in a conventional ADR folder (docs/adr, decisions/, ...)."""
    parts = [p.lower() for p in PurePosixPath(path).parts[:-1]]
    if any(p in ADR_DIR_NAMES for p in parts):
        return True
    # docs/architecture/..., docs/architecture-decisions/...
    return any(
        parts[i] in ("docs", "doc") and parts[i + 1].startswith("architecture")
        for i in range(len(parts) - 1)
    )


def is_adr_candidate_name(path: str) -> bool:
    """A markdown file that may hold an ADR (not a README, index or template)."""
    p = PurePosixPath(path)
    name = p.name.lower()
    if p.suffix.lower() not in MARKDOWN_SUFFIXES:
        return False
    if any("template" in part.lower() for part in p.parts[:-1]) or _TEMPLATE_WORD.search(p.stem):
        return False
    return not name.startswith(("readme", "index", "_", ".", "toc", "summary"))


def number_from_name(path: str) -> int | None:
    """The ADR number a file name carries (0007-x.md, ADR-0007-x.md), or None."""
    m = NUMBERED_NAME.match(PurePosixPath(path).name)
    return int(m.group(1)) if m else None


def is_adr(path: str, adr: ParsedAdr, *, in_adr_folder: bool | None = None) -> bool:
    """Whether a parsed markdown file is an ADR (maybe a malformed one) rather than a doc."""
    if not is_adr_candidate_name(path):
        return False
    in_dir = is_adr_dir(path) if in_adr_folder is None else in_adr_folder
    numbered = number_from_name(path) is not None
    has_status = adr.status is not None
    if in_dir and numbered:
        return True
    if in_dir:
        return has_status and (adr.has_context or adr.has_decision)
    if numbered:
        return (adr.has_context and adr.has_decision) or (
            has_status and (adr.has_context or adr.has_decision)
        )
    return False


def parse_adr(text: str, path: str = "") -> ParsedAdr:
    """Parse an ADR (Nygard or MADR) from markdown; never raises."""
    adr = ParsedAdr()
    try:
        _parse(text, path, adr)
    except Exception as exc:  # a parser bug must not stop ingestion: report it
        adr.malformed = True
        adr.problems.append((1, f"ADR parser error: {type(exc).__name__}: {exc}"))
    return adr


def _parse(text: str, path: str, adr: ParsedAdr) -> None:
    lines = text.splitlines()
    front, body_start, front_lines = _front_matter(lines, adr)
    if front or any(_is_madr_bullet(line) for line in lines[body_start : body_start + 40]):
        adr.style = "madr"
    sections, preamble = _sections(lines, body_start)
    titles = {_norm(s.title) for s in sections}
    if titles & {"context and problem statement", "decision outcome", "considered options"}:
        adr.style = "madr"

    # Title and number: the first heading ("# 7. Use Kafka", "# ADR-0007: ...", "# Title").
    heading = next((s for s in sections if s.level == 1), sections[0] if sections else None)
    raw_title = str(front.get("title") or "") or (heading.title if heading else "")
    m = _TITLE_NUMBER.match(raw_title)
    placeholder = _TITLE_PLACEHOLDER.match(raw_title.strip())
    if m:
        adr.number, adr.title = int(m.group(1) or m.group(2)), m.group(3).strip()
    elif placeholder:
        adr.title = placeholder.group(1).strip()
    else:
        adr.title = raw_title.strip()
    if adr.number is None:
        adr.number = number_from_name(path)
    if not adr.title:
        adr.title = PurePosixPath(path).stem or "untitled decision"

    meta = _metadata_lines(preamble, lines)
    _read_status(adr, front, meta, sections, front_lines)
    _read_date(adr, front, meta)
    _read_deciders(adr, front, meta)

    adr.context, adr.has_context = _section_text(sections, _CONTEXT_SECTIONS)
    adr.decision, adr.has_decision = _section_text(sections, _DECISION_SECTIONS)
    adr.consequences, _ = _section_text(sections, _CONSEQUENCE_SECTIONS, join_all=True)

    if adr.status is None and adr.style == "madr" and not adr.malformed:
        # MADR makes status optional: the record stands, its status is just not stated.
        adr.status = AdrStatus.UNKNOWN
    if adr.status is None and not adr.malformed:  # broken front matter has already said why
        adr.malformed = True
        at = heading.line if heading else 1
        adr.problems.append(
            (
                at,
                "ADR has no status (add a '## Status' section, a 'Status: Accepted' line or "
                "'status:' front matter); indexed as a plain document",
            )
        )
    if adr.superseded_by and adr.status not in (None, AdrStatus.UNKNOWN):
        adr.status = AdrStatus.SUPERSEDED


def _front_matter(lines: list[str], adr: ParsedAdr) -> tuple[dict[str, Any], int, dict[str, int]]:
    """YAML front matter (MADR 3+), the line its body starts at, and each key's line."""
    if not lines or lines[0].strip() != "---":
        return {}, 0, {}
    end = next((i for i in range(1, len(lines)) if lines[i].strip() in ("---", "...")), None)
    if end is None:
        adr.malformed = True
        adr.problems.append((1, "front matter opened with '---' is never closed"))
        return {}, 0, {}
    key_lines: dict[str, int] = {}
    for i in range(1, end):
        m = re.match(r"^([A-Za-z][\w-]*)\s*:", lines[i])
        if m:
            key_lines.setdefault(m.group(1).lower(), i + 1)
    raw = "\n".join(lines[1:end])
    try:
        data = yaml.safe_load(raw)
    except yaml.YAMLError as exc:
        at = yaml_error_line(exc, raw)
        line = at + 1 if at is not None else 1  # +1: the opening "---"
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        adr.malformed = True
        adr.problems.append((line, f"unparsable YAML front matter: {problem}"))
        return {}, end + 1, key_lines
    if data is None:
        return {}, end + 1, key_lines
    if not isinstance(data, dict):
        adr.malformed = True
        adr.problems.append((2, "front matter is not a YAML mapping of fields"))
        return {}, end + 1, key_lines
    return {str(k).lower(): v for k, v in data.items()}, end + 1, key_lines


def _is_madr_bullet(line: str) -> bool:
    return bool(re.match(r"^\s*[*-]\s+(status|deciders|date)\s*:", line, re.I))


def _sections(lines: list[str], start: int) -> tuple[list[Section], list[tuple[int, str]]]:
    """Headings (outside code fences) with their bodies, and the lines before the first one."""
    sections: list[Section] = []
    preamble: list[tuple[int, str]] = []
    body: list[str] = []
    fence = False
    current: Section | None = None
    for i in range(start, len(lines)):
        line = lines[i]
        if line.lstrip().startswith(("```", "~~~")):
            fence = not fence
        m = None if fence else _HEADING.match(line)
        if m:
            if current is not None:
                current.body_lines = body
                current.body = "\n".join(body).strip()
            current = Section(title=m.group(2).strip(), level=len(m.group(1)), line=i + 1)
            sections.append(current)
            body = []
        elif current is None:
            preamble.append((i + 1, line))
        else:
            body.append(line)
    if current is not None:
        current.body_lines = body
        current.body = "\n".join(body).strip()
    return sections, preamble


def _norm(title: str) -> str:
    t = re.sub(r"[*_`]", "", title).strip().lower()
    t = re.sub(r"^\d+(\.\d+)*[.)]?\s+", "", t)  # "2. Context"
    return t.rstrip(":").strip()


def _metadata_lines(
    preamble: list[tuple[int, str]], lines: list[str]
) -> dict[str, tuple[int, str]]:
    """`Key: value` lines (plain or `* Key: value` bullets) before the first section.

    Nygard's `Date:` usually follows the title, so lines under the title heading count too.
    """
    meta: dict[str, tuple[int, str]] = {}
    candidates = list(preamble)
    seen_title = False
    for i, line in enumerate(lines[:80]):
        if _HEADING.match(line):
            if seen_title:
                break
            seen_title = True
            continue
        if seen_title:
            candidates.append((i + 1, line))
    for lineno, line in candidates:
        m = _META_LINE.match(line)
        if m:
            key = m.group(1).strip().lower()
            meta.setdefault(key, (lineno, m.group(2).strip()))
    return meta


def _read_status(
    adr: ParsedAdr,
    front: dict[str, Any],
    meta: dict[str, tuple[int, str]],
    sections: list[Section],
    front_lines: dict[str, int],
) -> None:
    status_lines: list[tuple[int, str]] = []
    if "status" in front:
        status_lines.append((front_lines.get("status", 1), str(front["status"])))
        for key, label in (
            ("superseded-by", "Superseded by"),
            ("superseded_by", "Superseded by"),
            ("supersedes", "Supersedes"),
        ):
            values = front.get(key)
            if values:
                at = front_lines.get(key, 1)
                for v in values if isinstance(values, list) else [values]:
                    status_lines.append((at, f"{label} {v}"))
    elif "status" in meta:
        status_lines.append(meta["status"])
    for s in sections:
        if _norm(s.title) in ("status", "decision status"):
            if not status_lines:
                body = [(s.line + 1 + n, ln) for n, ln in enumerate(s.body_lines) if ln.strip()]
                status_lines.extend(body or [(s.line, "")])
            break
    if not status_lines:
        return
    first_line, first = status_lines[0]
    adr.status_line = first_line
    adr.status_raw = first.strip()
    adr.status = status_of(first)
    for lineno, line in status_lines:
        for regex, found in (
            (_SUPERSEDED_BY, adr.superseded_by),
            (_IN_FAVOUR_OF, adr.superseded_by),
            (_SUPERSEDES, adr.supersedes),
        ):
            m = regex.search(line)
            if not m:
                continue
            refs = _refs(m.group(1))
            found.extend(refs)
            if not refs:
                adr.problems.append((lineno, f"cannot tell which ADR {line.strip()[:80]!r} means"))


def status_of(line: str) -> AdrStatus:
    """The status a status line means, however a repository writes it.

    "**Implemented** (moved to …)", "Accepted: tracking issue #12", "Draft.", "In review",
    "Declined", "Rejected in favour of ADR 111" (superseded, by 111), "Partially accepted".
    A status kb cannot read is UNKNOWN: the record stands as an ADR all the same.
    """
    text = " ".join(re.sub(r"[^a-z]+", " ", line.lower()).split())
    favour = _IN_FAVOUR_OF.search(line)
    if favour and _number_in(favour.group(1)) is not None:
        return AdrStatus.SUPERSEDED  # "Rejected in favour of ADR 111": 111 replaced it
    for phrase, status in _STATUS_PHRASES:
        if text.startswith(phrase):
            return status
    for word in text.split():
        if word in _STATUS_FILLER:
            continue
        return _STATUS_WORDS.get(word, AdrStatus.UNKNOWN)
    return AdrStatus.UNKNOWN


def _refs(text: str) -> list[AdrRef]:
    refs: list[AdrRef] = []
    for m in _LINK.finditer(text):
        label, target = m.group(1), m.group(2)
        refs.append(
            AdrRef(text=label, target=target, number=_number_in(label) or number_from_name(target))
        )
    if refs:
        return refs
    for part in re.split(r",|;|\band\b", _LINK.sub("", text)):
        n = _number_in(part)
        if n is not None:
            refs.append(AdrRef(text=part.strip(), number=n))
    return refs


def _number_in(text: str) -> int | None:
    m = _ADR_NUMBER.search(text.strip())
    if not m:
        return None
    return int(next(g for g in m.groups() if g is not None))


def _read_date(adr: ParsedAdr, front: dict[str, Any], meta: dict[str, tuple[int, str]]) -> None:
    value: Any = front.get("date")
    if value is None and "date" in meta:
        value = meta["date"][1]
    if isinstance(value, datetime):
        adr.date = value.date()
    elif isinstance(value, date):
        adr.date = value
    elif value is not None:
        m = _ISO_DATE.search(str(value))
        if m:
            try:
                adr.date = date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
            except ValueError:
                line = meta["date"][0] if "date" in meta else 1
                adr.problems.append((line, f"invalid date {str(value)[:40]!r}"))


def _read_deciders(adr: ParsedAdr, front: dict[str, Any], meta: dict[str, tuple[int, str]]) -> None:
    value: Any = front.get("deciders", front.get("decision-makers"))
    if value is None:
        for key in ("deciders", "decision-makers", "decision makers", "decided by"):
            if key in meta:
                value = meta[key][1]
                break
    if isinstance(value, list):
        names = [str(v) for v in value]
    elif value is not None:
        names = re.split(r",|;|\band\b", str(value))
    else:
        names = []
    adr.deciders = [n.strip(" []*_") for n in names if n.strip(" []*_")]


def _section_text(
    sections: list[Section], names: tuple[str, ...], *, join_all: bool = False
) -> tuple[str, bool]:
    found = [s for s in sections if _norm(s.title) in names]
    if not found:
        return "", False
    if join_all:
        return "\n\n".join(s.body for s in found if s.body).strip(), True
    return found[0].body, True
