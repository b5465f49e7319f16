"""The markdown every result renders with: the CLI, the bot, the dashboard and MCP show it."""

from __future__ import annotations

from collections.abc import Sequence


def pct(x: float) -> str:
    """A share as a whole percentage."""
    return f"{x:.0%}"


def cell(text: str) -> str:
    """Text safe inside a table cell (pipes escaped, one line)."""
    return " ".join(text.replace("|", "\\|").split())


def table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    """A markdown table as lines."""

    def row(cells: Sequence[str]) -> str:
        return "| " + " | ".join(cell(c) for c in cells) + " |"

    return [row(header), row(["---"] * len(header)), *(row(r) for r in rows)]
