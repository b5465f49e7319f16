"""What a guide is made of: cited items in titled sections, and their numbered sources.

Every item a guide states carries at least one `Cite` (an ADR, a commit, a Slack thread, a
code comment at its line, a taught note with its teller and date) and the reasons it may be
stale (its anchor changed, its teller left). Rendering numbers the sources once per guide,
so the same ADR cited by three items is one footnote.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Cite:
    """Where an item comes from: kind, title, location, web link, teller and date."""

    kind: str  # adr | commit | slack | postmortem | code | doc | contract | note | history ...
    title: str
    where: str | None = None  # repo:path[:line], or a channel
    url: str | None = None
    said_by: str | None = None
    date: str | None = None  # YYYY-MM-DD

    def to_json(self) -> dict[str, Any]:
        """{"kind", "title", "where", "url", "said_by", "date"}."""
        return {
            "kind": self.kind,
            "title": self.title,
            "where": self.where,
            "url": self.url,
            "said_by": self.said_by,
            "date": self.date,
        }

    def to_markdown(self) -> str:
        """One line: kind, title (linked when kb has a web link), location, teller, date."""
        title = self.title.replace("[", "(").replace("]", ")")
        parts = [f"{self.kind}: " + (f"[{title}]({self.url})" if self.url else title)]
        if self.where and self.where != self.title:
            parts.append(f"`{self.where}`")
        verb = "told by" if self.kind.endswith("note") else "by"
        told = " ".join(
            x
            for x in (self.said_by and f"{verb} {self.said_by}", self.date and f"on {self.date}")
            if x
        )
        if told:
            parts.append(told)
        return ", ".join(parts)


@dataclass
class Item:
    """One thing a guide states, with its sources and why it may be stale."""

    text: str
    cites: list[Cite]
    detail: str | None = None
    service: str | None = None
    severity: str | None = None
    id: str | None = None  # the wisdom entry, ADR or incident it stands for
    stale: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        """The item, its citations and stale reasons (`stale` true when there are any)."""
        return {
            "id": self.id,
            "text": self.text,
            "detail": self.detail,
            "service": self.service,
            "severity": self.severity,
            "cites": [c.to_json() for c in self.cites],
            "stale": bool(self.stale),
            "stale_reasons": list(self.stale),
        }


@dataclass
class Section:
    """A titled part of a guide: a sentence that says what it is, then its items."""

    key: str
    title: str
    intro: str
    items: list[Item]
    empty: str  # what to say (and how to fill it) when there is no item

    def to_json(self) -> dict[str, Any]:
        """{"key", "title", "intro", "items"}."""
        return {
            "key": self.key,
            "title": self.title,
            "intro": self.intro,
            "items": [i.to_json() for i in self.items],
        }

    def to_markdown(self, notes: Footnotes, level: int = 2) -> list[str]:
        """The section's lines, citing through the guide's footnotes."""
        lines = [f"{'#' * level} {self.title}", ""]
        if not self.items:
            return [*lines, self.empty, ""]
        lines += [self.intro, ""] if self.intro else []
        for item in self.items:
            lines.extend(render_item(item, notes))
        return [*lines, ""]


def render_item(item: Item, notes: Footnotes) -> list[str]:
    """A bullet: text, severity, citation numbers, a stale warning; the detail under it."""
    marks = "".join(f"[{notes.number(c)}]" for c in item.cites)
    severity = f" ({item.severity})" if item.severity else ""
    lines = [f"- {item.text}{severity} {marks}".rstrip()]
    if item.stale:
        lines.append(f"  - ⚠ **stale**: {'; '.join(item.stale)}")
    if item.detail:
        lines.append(f"  - {item.detail}")
    return lines


class Footnotes:
    """Numbers each distinct source once, in order of first use."""

    def __init__(self) -> None:
        self._numbers: dict[Cite, int] = {}

    def number(self, cite: Cite) -> int:
        """The footnote number of a source (a new one on first use)."""
        return self._numbers.setdefault(cite, len(self._numbers) + 1)

    def to_markdown(self) -> list[str]:
        """The "Sources" list (nothing when no item was cited)."""
        if not self._numbers:
            return []
        lines = ["## Sources", ""]
        lines += [f"{n}. {c.to_markdown()}" for c, n in self._numbers.items()]
        return [*lines, ""]


def one_line(text: str, limit: int = 300) -> str:
    """Text on one line, cut at `limit` characters with an ellipsis."""
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1].rstrip() + "…"
