"""Integration rules in force for a service, quoted from where the team wrote them down.

How to call a service and how it calls others (retries, timeouts, idempotency, what to do
to an event's schema) is rarely one document: it is a sentence in an ADR, a line of a
runbook, a field description in a contract, a comment over a constant. `rules()` finds
those sentences in the texts it is given, sorts them into topics, and keeps each with its
source. Texts from decisions no longer in force are never given to it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from kb.guides.citations import Cite, Item, one_line

# Topic key -> (title, what a sentence must mention).
TOPICS: dict[str, tuple[str, re.Pattern[str]]] = {
    "idempotency": (
        "Idempotency",
        re.compile(r"idempoten|\bat[- ]most[- ]once\b|\bexactly[- ]once\b|\bdedup", re.I),
    ),
    "retries": ("Retries", re.compile(r"\bretr(?:y|ies|ied|ying)\b|\bback-?off\b|RETRIES", re.I)),
    "timeouts": (
        "Timeouts",
        re.compile(r"\btime-?outs?\b|\btimes? out\b|\btimed out\b|TIMEOUT|\bdeadlines?\b", re.I),
    ),
    "schema_changes": (
        "Event and schema changes (dual-publish)",
        re.compile(
            r"dual[- ]?publish|publish(?:es|ed|ing)? (?:to )?both|both versions|schema_version"
            r"|schema (?:change|migration|version)|backward[- ]compatib|breaking change",
            re.I,
        ),
    ),
}
PER_TOPIC = 4
MIN_CHARS, MAX_CHARS = 25, 320
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z`*_(])")
_MARKUP = re.compile(r"^\s*(?:#+\s*|[-*+]\s+|\d{1,2}[.)]\s+|>\s*|//+\s*|#\s*|/?\*+\s*)")
_CONSTANT = re.compile(r"^\s*(?P<name>[A-Z][A-Z0-9_]{2,})\s*[:=]\s*(?P<value>[^#\n]{1,40})$")
_SETTING = re.compile(r"^[A-Z][A-Z0-9_]{2,} = ")  # a constant, as `sentences` writes it


@dataclass(frozen=True)
class RuleText:
    """A text to look for rules in, its source, and how much its word weighs (lower first)."""

    text: str
    cite: Cite
    rank: int  # 0 decision in force, 1 contract, 2 taught or extracted wisdom, 3 doc, 4 code


_FRONT_MATTER = re.compile(r"\A---\n.*?\n---\n", re.S)
_SECTION = re.compile(r"^#{1,6}\s+(.+)$", re.M)
_DECIDED = re.compile(r"decision|outcome|consequence|rules?\b|policy|guideline", re.I)
_NOT_DECIDED = re.compile(r"option|alternative|context|driver|pros\b|cons\b|problem", re.I)


def decided_part(adr: str) -> str:
    """What an ADR decided: its decision and consequence sections (not the options it
    weighed or the context that led to it); the whole text when it has no such heading."""
    body = _FRONT_MATTER.sub("", adr)
    heads = list(_SECTION.finditer(body))
    kept = []
    for i, m in enumerate(heads):
        end = heads[i + 1].start() if i + 1 < len(heads) else len(body)
        if _DECIDED.search(m[1]) and not _NOT_DECIDED.search(m[1]):
            kept.append(body[m.end() : end])
    return "\n\n".join(kept) if kept else body


def sentences(text: str) -> list[str]:
    """The sentences of a text: markdown and comment markers stripped, lines of a paragraph
    joined, each on one line."""
    out: list[str] = []
    for block in re.split(r"\n\s*\n", _FRONT_MATTER.sub("", text)):
        # A table row is no sentence (its cells say what, not how).
        rows = [line for line in block.splitlines() if not line.lstrip().startswith("|")]
        lines = [_MARKUP.sub("", line).strip() for line in rows]
        for line in lines:
            if m := _CONSTANT.match(line):
                out.append(f"{m['name']} = {m['value'].strip()}")
        joined = " ".join(x for x in lines if x and not _CONSTANT.match(x))
        out += [s.strip() for s in _SENTENCE_END.split(joined) if s.strip()]
    return out


def topic_of(sentence: str) -> str | None:
    """The first topic a sentence is about, or None."""
    for key, (_, pattern) in TOPICS.items():
        if pattern.search(sentence):
            return key
    return None


def rules(texts: list[RuleText]) -> dict[str, list[Item]]:
    """Topic -> the sentences about it (the weightiest sources first, each quoted once)."""
    found: dict[str, list[tuple[int, int, Item]]] = {key: [] for key in TOPICS}
    seen: set[str] = set()
    order = 0
    for source in sorted(texts, key=lambda t: t.rank):
        for sentence in sentences(source.text):
            topic = topic_of(sentence)
            key = " ".join(sentence.lower().split())
            short = len(sentence) < MIN_CHARS and not _SETTING.match(sentence)
            if topic is None or key in seen or short or len(sentence) > MAX_CHARS:
                continue
            seen.add(key)
            order += 1
            item = Item(one_line(sentence, MAX_CHARS), [source.cite], id=f"rule:{topic}:{order}")
            found[topic].append((source.rank, order, item))
    return {
        key: [item for _, _, item in sorted(rows, key=lambda r: r[:2])[:PER_TOPIC]]
        for key, rows in found.items()
        if rows
    }
