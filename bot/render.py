"""Block Kit from kb's results: answers with numbered sources, and any Markdown report.

Slack's limits shape everything here: a section's text is at most 3,000 characters, a message
at most 50 blocks, and a phone shows about 40 characters a line. Long text is split at
paragraph, then line, then word boundaries, and blocks beyond one message go to the next.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from kb import Answer

SECTION_LIMIT = 2900  # Slack's 3,000, less room for a continuation mark
BLOCKS_PER_MESSAGE = 48  # Slack's 50, less the feedback buttons
FALLBACK_LIMIT = 300  # the notification text

Block = dict[str, Any]

_LINK = re.compile(r"\[([^\]\n]+)\]\((https?://[^)\s]+)\)")
_BOLD = re.compile(r"\*\*(.+?)\*\*")
_HEADING = re.compile(r"^#{1,6}\s+(.+)$", re.MULTILINE)
_BULLET = re.compile(r"^(\s*)[-*]\s+", re.MULTILINE)


def escape(text: str) -> str:
    """Text as Slack shows it literally (&, < and > are its markup)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def flatten_tables(markdown: str) -> str:
    """Markdown tables as lines a phone shows whole: the header in bold, a row per bullet."""
    out: list[str] = []
    header = True
    for line in markdown.splitlines():
        stripped = line.strip()
        if not (stripped.startswith("|") and stripped.endswith("|")):
            out.append(line)
            header = True
            continue
        cells = [c.strip() for c in stripped.strip("|").split("|")]
        if all(set(c) <= set("-: ") for c in cells):
            continue  # the separator under the header
        joined = " · ".join(c for c in cells if c)
        out.append(f"**{joined}**" if header else f"- {joined}")
        header = False
    return "\n".join(out)


def mrkdwn(markdown: str) -> str:
    """kb's Markdown as Slack mrkdwn: bold, links, headings, bullets and tables."""
    text = escape(flatten_tables(markdown))
    text = _LINK.sub(lambda m: f"<{m.group(2)}|{m.group(1).replace('|', '/')}>", text)
    text = _BOLD.sub(r"*\1*", text)
    text = _HEADING.sub(r"*\1*", text)
    return _BULLET.sub(r"\1• ", text)


def split_text(text: str, limit: int = SECTION_LIMIT) -> list[str]:
    """Pieces of at most `limit` characters, cut at paragraphs, lines, then words."""
    pieces: list[str] = []
    rest = text.strip()
    while len(rest) > limit:
        window = rest[:limit]
        cut = max(window.rfind("\n\n"), 0) or max(window.rfind("\n"), 0) or window.rfind(" ")
        if cut < limit // 4:  # nothing sensible to cut at: a hard cut
            cut = limit
        pieces.append(rest[:cut].rstrip())
        rest = rest[cut:].lstrip()
    if rest:
        pieces.append(rest)
    return pieces


def sections(markdown: str) -> list[Block]:
    """Markdown as section blocks within Slack's size limit."""
    return [
        {"type": "section", "text": {"type": "mrkdwn", "text": piece}}
        for piece in split_text(mrkdwn(markdown))
    ]


def context(text: str) -> Block:
    """A small grey line."""
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": text[:3000]}]}


def citation_line(citation: Any) -> str:
    """`[n] kind: title` linked, and who said it when (a taught note names its teller)."""
    title = escape(citation.title).replace("|", "/")
    label = f"<{citation.url}|{title}>" if citation.url else title
    where = "" if citation.url else f" ({escape(citation.where)})" if citation.where else ""
    kind = "taught note" if citation.kind == "note" else citation.kind
    by = ""
    if citation.author:
        verb = "taught by" if citation.kind == "note" else "by"
        by = f" — {verb} {escape(citation.author)}"
        by += f", {citation.date}" if citation.date else ""
    role = f" _({citation.role})_" if citation.role not in ("answer", "closest") else ""
    return f"*[{citation.number}]* {kind}: {label}{where}{by}{role}"


def feedback_buttons(answer_id: str) -> Block:
    """👍, 👎 and "wrong source" on an answer."""

    def button(text: str, action: str, style: str | None = None) -> Block:
        out: Block = {
            "type": "button",
            "action_id": action,
            "value": answer_id,
            "text": {"type": "plain_text", "text": text, "emoji": True},
        }
        if style:
            out["style"] = style
        return out

    return {
        "type": "actions",
        "block_id": f"kb_feedback:{answer_id}",
        "elements": [
            button("👍 Helpful", "kb_vote_up"),
            button("👎 Not helpful", "kb_vote_down"),
            button("Wrong source", "kb_wrong_source"),
        ],
    }


def answer_blocks(answer: Answer, ui_url: str | None = None) -> list[Block]:
    """An answer: text, Watch out, Ask, numbered sources, confidence, feedback buttons."""
    blocks = sections(answer.answer or "(no answer)")
    if answer.watch_out:
        items = "\n".join(f"• {mrkdwn(item)}" for item in answer.watch_out)
        blocks += sections_of_mrkdwn(f"*⚠️ Watch out*\n{items}")
    if answer.ask:
        people = "\n".join(
            f"• *{escape(p.name)}*{' (has left)' if p.departed else ''}: {escape(p.reason)}"
            for p in answer.ask
        )
        blocks += sections_of_mrkdwn(f"*🙋 Ask*\n{people}")
    if answer.citations:
        lines = "\n".join(citation_line(c) for c in answer.citations)
        blocks.append({"type": "divider"})
        blocks += sections_of_mrkdwn(f"*Sources*\n{lines}")
    footer = f"confidence {answer.confidence:.2f}" + (
        f" · answer `{answer.id}`" if answer.id else ""
    )
    if ui_url:
        footer += f" · <{ui_url.rstrip('/')}/ask|Open in dashboard>"
    blocks.append(context(footer))
    if answer.id:
        blocks.append(feedback_buttons(answer.id))
    return blocks


def sections_of_mrkdwn(text: str) -> list[Block]:
    """Already-mrkdwn text as section blocks within the size limit."""
    return [{"type": "section", "text": {"type": "mrkdwn", "text": p}} for p in split_text(text)]


def messages(blocks: list[Block], limit: int = BLOCKS_PER_MESSAGE) -> Iterator[list[Block]]:
    """Blocks in messages of at most `limit` blocks (the buttons stay with the last)."""
    for start in range(0, len(blocks), limit):
        yield blocks[start : start + limit]


def fallback(text: str) -> str:
    """The plain notification text of a message (Slack shows it where blocks can't be)."""
    flat = " ".join(text.split())
    return flat if len(flat) <= FALLBACK_LIMIT else flat[: FALLBACK_LIMIT - 1] + "…"
