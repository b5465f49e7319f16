"""The answer's text: what the best source says about the question, in its own sentences.

A reader wants the decision and its reasons, not one line from each of five sources. The
lead source is quoted first: its passages closest to the question (an ADR's Decision,
Context and Consequences count for more, its status and links for less), and within them
the sentences that carry the question's words, in the source's order. A second source adds
a few sentences only when it scores close to the lead and says something the lead does not.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from kb.retrieval.intent import _stem

# The body of an answer (before "Watch out" and "Ask") stays within this many characters.
BODY_CHARS = 1500
# What the second source may take of it, when it adds something.
SECOND_CHARS = 380
# A second source is quoted only when its score is at least this share of the lead's.
SECOND_MIN_SHARE = 0.6
# ... and when at least this share of its chosen words are not already in the answer.
SECOND_MIN_NEW = 0.35

# A list item this short is a fragment ("Slow searching"): it joins its neighbours.
LIST_ITEM_CHARS = 60

# Words that mark the sentence answering a "why" or a "what must I not do" question.
WHY_CUES = ("because", "so that", "since", "to avoid", "why", "instead", "caused", "therefore")
DANGER_CUES = ("do not", "don't", "never", "warning", "careful", "must not", "breaks")

_TOKEN = re.compile(r"[A-Za-z0-9_]+")
# Markdown bold around a run of text; a lone "**" ("**kwargs") is left alone.
_BOLD = re.compile(r"\*\*(?=\S)([^*\n]+?)(?<=\S)\*\*")
# "*a phrase*" in emphasis; a lone "*" ("*args", "a * b") is left alone.
_EMPHASIS = re.compile(r"(?<![\w*\\])\*(?=[^\s*])([^*\n]+?)(?<=[^\s*\\])\*(?![\w*])")
# A bare address ("<https://fusejs.io/>") says nothing a citation does not.
_AUTOLINK = re.compile(r"<(?:https?|mailto):[^>\s]+>")
# A markdown link or image reads as its text: its address is in the citation, not the answer.
_LINK = re.compile(r"!?\[([^\]\n]*)\]\((?:[^()\s]|\([^()\s]*\))*(?:\s+\"[^\"]*\")?\)")
# "[^1]": a footnote's mark; "~~text~~" (or "~text~"): text struck out, not meant any more.
_FOOTNOTE_MARK = re.compile(r"\[\^[^\]\s]+\](?!:)")
_FOOTNOTE_LINE = re.compile(r"^\s*\[\^[^\]\s]+\]:")
_STRUCK = re.compile(r"~~(?=\S)[^~\n]+?(?<=\S)~~|(?<!\S)~(?=[A-Za-z])[^~\n]+?(?<=\S)~(?!\w)")
# "\#channel", "1\." : markdown's escapes.
_ESCAPE = re.compile(r"\\([\\`*_{}\[\]()#+\-.!|>~])")
# A line that leads into the list after it ("We weighed three tools:", 'Chosen option: "X",
# because').
_LEAD_IN = re.compile(r"(?::|\bbecause,?|\bas follows\.?)$", re.I)
_LIST_ITEM = re.compile(r"^\s*(?:[-*+•]|\d+[.)])\s+")
_SENTENCE_END = re.compile(r"(?<=[.!?])[\"')\]]*\s+(?=[A-Z0-9`\"'(\[])")
_HEADING_LINE = re.compile(r"^\s*(#{1,6}\s|[=\-~^*]{3,}\s*$)")
_CODE_LINE = re.compile(r"^\s*(```|~~~|\$ |>>> |[{}\[\]();]+\s*$)|[;{}]\s*$|^\s{4,}\S")
# Sections that hold a decision's substance, and those that hold its bookkeeping.
_SUBSTANCE = re.compile(
    r"decision|context|consequence|rationale|motivation|reason|why|problem|summary|"
    r"background|outcome|proposal|overview|abstract",
    re.I,
)
_BOOKKEEPING = re.compile(
    r"status|date|links?|references?|changelog|authors?|deciders|table of contents|"
    r"license|appendix|footnotes",
    re.I,
)
# The options a decision weighed are listed by name; its outcome says which and why.
_OPTIONS = re.compile(r"considered options|options considered|alternatives", re.I)
# "Status: accepted", "Date: 2020-09-25": metadata, not an answer.
_METADATA = re.compile(r"^[A-Z][\w ./-]{0,30}:\s*\S.{0,40}$")
# ... but a decision record's outcome line is its decision ('Chosen option: "Lunr.js"'), and
# a labelled sentence says something ("Cost: Cost was not a factor in consideration.").
_OUTCOME = re.compile(r"^(chosen option|decision|decision outcome|outcome|resolution)\s*:", re.I)
_LABELLED_SENTENCE = re.compile(r"^[^:]+:\s*(?:\S+\s+){4,}\S+[.!?]$")


@dataclass(frozen=True)
class Scored:
    """A passage of a source with its closeness to the question (cosine)."""

    similarity: float
    heading: str | None
    text: str
    ordinal: int


def sentences_of(text: str) -> list[str]:
    """Prose sentences of a text: wrapped lines joined, list items apart, code and tables out."""
    return [sentence for sentence, _ in _sentences(text)]


def _sentences(text: str) -> list[tuple[str, int]]:
    """Sentences with the block each belongs to: the items of one list (and the line that
    leads into it, ending with ":") share a block; any other sentence is a block of its own."""
    units: list[tuple[str, int]] = []
    current: list[str] = []
    block = 0
    in_fence = in_list = in_footnote = False
    lead_in = False  # the last unit leads into a list and only blank lines came after it

    def flush(keep_list: bool = False) -> None:
        nonlocal block, lead_in
        if current:
            units.append((" ".join(current), block))
            lead_in = _leads_in(current[-1])
            current.clear()
        if not keep_list:
            block += 1

    for raw in text.splitlines():
        line = raw.rstrip()
        stripped = line.strip()
        if not stripped and not in_fence:
            flush(keep_list=in_list)  # a blank line inside a list keeps the list going
            in_footnote = False
            continue
        if _FOOTNOTE_LINE.match(line) and not in_fence:
            in_footnote = True  # a footnote is an aside, down to its blank line
        if in_footnote:
            continue
        fence = stripped.startswith(("```", "~~~"))
        if (
            fence
            or in_fence
            or _HEADING_LINE.match(line)
            or stripped.startswith("|")
            or (_CODE_LINE.search(line) and not stripped.endswith("."))
        ):
            in_fence = in_fence != fence
            in_list = False
            flush()
            lead_in = False
            continue
        if _LIST_ITEM.match(line):
            if not in_list:
                joins = bool(current) and _leads_in(current[-1])
                flush(keep_list=joins)
                if not joins and lead_in and units:
                    units[-1] = (units[-1][0], block)  # "We weighed three tools:" + its list
            else:
                flush(keep_list=True)
            in_list = True
            stripped = _LIST_ITEM.sub("", line).strip()
        elif in_list and not line[:1].isspace():
            in_list = False  # back to prose after the list
            flush()
        elif current and len(current[-1]) < 40 and stripped[:1].isupper():
            flush(keep_list=in_list)  # a short line then a capital: a line of its own
        current.append(stripped.lstrip("> ").strip())
    flush()
    out: list[tuple[str, int]] = []
    for unit, unit_block in units:
        unit = plain(unit)
        for piece in _SENTENCE_END.split(unit):
            piece = " ".join(piece.split()).strip(" -*")
            metadata = _METADATA.match(piece) and not (
                _OUTCOME.match(piece) or _LABELLED_SENTENCE.match(piece)
            )
            if len(piece) >= 12 and _TOKEN.search(piece) and not metadata:
                out.append((piece, unit_block))
    return out


def plain(text: str) -> str:
    """Markdown inline markup as a reader sees it: "**Ticket:** SHOP-412" reads "Ticket:
    SHOP-412", "[the runbook](https://...)" reads "the runbook", "\\#ops" reads "#ops";
    footnote marks and struck-out text go."""
    text = _BOLD.sub(r"\1", text)
    text = _EMPHASIS.sub(r"\1", text)
    text = _AUTOLINK.sub("", _LINK.sub(r"\1", text))
    text = _STRUCK.sub("", _FOOTNOTE_MARK.sub("", text))
    return _ESCAPE.sub(r"\1", text)


def _leads_in(line: str) -> bool:
    return bool(_LEAD_IN.search(line))


def _section_weight(heading: str | None) -> float:
    last = (heading or "").rsplit(">", 1)[-1]
    if _BOOKKEEPING.search(last) and not _SUBSTANCE.search(last):
        return -0.25
    if _OPTIONS.search(last):
        return -0.08
    return 0.08 if _SUBSTANCE.search(last) else 0.0


def _finished(sentence: str) -> str:
    """A sentence that ends like one (list items and table cells often do not)."""
    return sentence if sentence.endswith((".", "!", "?", ":", ";")) else sentence + "."


def focused(
    passages: Sequence[Scored],
    terms: Sequence[str],
    cues: Sequence[str],
    limit: int,
    skip: Sequence[str] = (),
) -> str:
    """The sentences of a source that best answer the question, in order, within `limit`.

    Passages count by their closeness to the question and their section; sentences within
    them by the question's words and the cue words of its kind ("because", "never").
    """
    stems = {_stem(t) for t in terms}
    seen = {" ".join(s.lower().split()) for s in skip}
    candidates: list[tuple[float, int, int, str, str]] = []
    if not passages:
        return ""
    best = max(p.similarity for p in passages)
    blocks: dict[tuple[int, int], int] = {}
    for p in passages:
        base = p.similarity - best + _section_weight(p.heading)
        for i, (sentence, block) in enumerate(_sentences(p.text)):
            blocks[(p.ordinal, i)] = block
            lower = sentence.lower()
            key = " ".join(lower.split())
            if key in seen:
                continue
            words = {_stem(w) for w in _TOKEN.findall(lower)}
            overlap = len(words & stems) / (len(stems) or 1)
            cue = 0.05 if any(c in lower for c in cues) else 0.0
            short = -0.08 if len(sentence) < 30 or len(words) < 5 else 0.0
            score = base + 0.35 * overlap + cue + short
            candidates.append((score, p.ordinal, i, sentence, key))
    chosen: list[tuple[int, int, str]] = []
    size = 0
    picked: set[str] = set()  # chunks overlap: one sentence may be in two passages
    for _, ordinal, i, sentence, key in sorted(candidates, key=lambda c: -c[0]):
        if key in picked:
            continue
        if size + len(sentence) + 1 > limit:
            if size >= limit * 0.75:
                break
            continue
        chosen.append((ordinal, i, sentence))
        picked.add(key)
        size += len(sentence) + 1
    # Short items of one list read as one sentence ("Fuse.js: fast indexing; slow
    # searching."); an item that says a whole thing stays a sentence of its own.
    out: list[str] = []
    previous: tuple[int, int] | None = None
    last = ""
    for ordinal, i, sentence in sorted(chosen):
        where = (ordinal, blocks[(ordinal, i)])
        lead_in = bool(out) and _leads_in(out[-1])
        short = len(sentence) <= LIST_ITEM_CHARS and (lead_in or len(last) <= LIST_ITEM_CHARS)
        if where == previous and out and short and not out[-1].endswith((".", "!", "?")):
            out[-1] += ("" if _leads_in(out[-1]) else ";") + " " + sentence
        else:
            if out:
                out[-1] = _finished(out[-1])
            out.append(sentence)
        previous, last = where, sentence
    if out:
        out[-1] = _finished(out[-1])
    return " ".join(out)


def new_share(text: str, said: str) -> float:
    """The share of a text's words that an answer has not said yet."""
    words = {_stem(w) for w in _TOKEN.findall(text.lower()) if len(w) > 3}
    if not words:
        return 0.0
    known = {_stem(w) for w in _TOKEN.findall(said.lower())}
    return len(words - known) / len(words)
