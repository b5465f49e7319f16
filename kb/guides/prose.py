"""Optional smoothing of a guide's prose by the configured chat model.

A guide is complete without an LLM. With one configured (KB_LLM_PROVIDER), each section's
introduction may be rewritten to read better for the section's items; the items and their
citations are never replaced by model output. A reply that is missing, malformed, too long
or carries links or citation marks is ignored: the written introduction stays.
"""

from __future__ import annotations

import logging
import re
from typing import TYPE_CHECKING

from kb.guides.citations import Section

if TYPE_CHECKING:
    from langchain_core.language_models import BaseChatModel

log = logging.getLogger(__name__)

MAX_INTRO_CHARS = 400
ITEMS_SHOWN = 5
SYSTEM_PROMPT = """\
You edit the introductions of an onboarding guide's sections.
For each numbered section you get its title, its current introduction and the first items it \
lists. Rewrite each introduction as one or two plain, friendly sentences for a new engineer.
Rules:
- Say nothing the introduction and items do not say. No names, numbers or facts of your own.
- No links, no citations, no square brackets, no markdown headings.
- Reply with one line per section: its number, a period, a space, then the introduction."""
_LINE = re.compile(r"^\s*(\d{1,2})[.)]\s+(\S.*)$")
_FORBIDDEN = re.compile(r"[\[\]]|https?://|^#", re.M)


class Smoother:
    """Rewrites section introductions with a chat model; the items stay as written."""

    def __init__(self, chat_model: BaseChatModel, name: str) -> None:
        self.chat_model = chat_model
        self.name = name

    def smooth(self, sections: list[Section]) -> str | None:
        """Rewrite the introductions in place; the model's name if any was rewritten."""
        from langchain_core.messages import HumanMessage, SystemMessage

        shown = [s for s in sections if s.items and s.intro]
        if not shown:
            return None
        try:
            reply = self.chat_model.invoke(
                [SystemMessage(content=SYSTEM_PROMPT), HumanMessage(content=prompt(shown))]
            )
        except Exception as exc:  # a timeout or a refused connection: the guide goes out as is
            log.warning("LLM %s failed (%s: %s); the guide is not smoothed",
                        self.name, type(exc).__name__, exc)  # fmt: skip
            return None
        rewritten = parse_reply(str(reply.text), len(shown))
        for number, text in rewritten.items():
            shown[number - 1].intro = text
        return self.name if rewritten else None


def prompt(sections: list[Section]) -> str:
    """The human message: each section's number, title, introduction and first items."""
    blocks = []
    for n, s in enumerate(sections, start=1):
        items = "\n".join(f"  - {i.text}" for i in s.items[:ITEMS_SHOWN])
        blocks.append(f"{n}. {s.title}\nIntroduction: {s.intro}\nItems:\n{items}")
    return "\n\n".join(blocks)


def parse_reply(text: str, count: int) -> dict[int, str]:
    """Section number -> its new introduction, for the valid lines of a reply only."""
    out: dict[int, str] = {}
    for line in text.splitlines():
        m = _LINE.match(line)
        if m is None:
            continue
        number, intro = int(m[1]), m[2].strip()
        if 1 <= number <= count and len(intro) <= MAX_INTRO_CHARS and not _FORBIDDEN.search(intro):
            out.setdefault(number, intro)
    return out
