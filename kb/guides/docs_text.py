"""Reading the guides' material out of markdown documents: list items under their headings.

An onboarding document ("Week one: 1. Get access ... 2. Run the local stack ...") already
holds what a new hire should do first and the rules people wish they had known; the
guide quotes its list items, each cited to the document.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_HEADING = re.compile(r"^#{1,6}\s+(?P<text>.+?)\s*#*\s*$")
_BULLET = re.compile(r"^(?P<indent>\s*)(?:[-*+]|\d{1,2}[.)])\s+(?P<text>\S.*)$")
_LINK = re.compile(r"\[([^\]]+)\]\([^)]*\)")
# Documents written for newcomers, by their file name.
ONBOARDING_DOC = re.compile(
    r"(?:^|/)(?:onboarding|getting[-_ ]started|new[-_ ]?joiners?"
    r"|first[-_ ]week|welcome)[^/]*\.(?:md|rst|txt)$",
    re.I,
)
# Headings whose items are the first week's to-do list (the other lists are rules).
FIRST_WEEK_HEADING = re.compile(
    r"week|first|day one|getting started|set ?up|access|start|dashboards", re.I
)


@dataclass(frozen=True)
class ListItem:
    """One top-level list item of a document and the heading it sits under."""

    heading: str
    text: str


def list_items(markdown: str) -> list[ListItem]:
    """Top-level list items with their heading; continuation lines are joined, links unwrapped."""
    out: list[ListItem] = []
    heading = ""
    current: list[str] | None = None
    in_code = False

    def flush() -> None:
        if current:
            text = _LINK.sub(r"\1", " ".join(" ".join(current).split()))
            out.append(ListItem(heading, text))

    for line in markdown.splitlines():
        if line.strip().startswith("```"):
            in_code = not in_code
        if in_code:
            continue
        if m := _HEADING.match(line):
            flush()
            current, heading = None, m["text"]
        elif (m := _BULLET.match(line)) and len(m["indent"]) < 2:
            flush()
            current = [m["text"]]
        elif current is not None and line.strip() and line[:1].isspace():
            current.append(line.strip())
        else:
            flush()
            current = None
    flush()
    return out


def is_first_week(item: ListItem) -> bool:
    """Whether a list item belongs to the first week's to-do list."""
    return bool(FIRST_WEEK_HEADING.search(item.heading))
