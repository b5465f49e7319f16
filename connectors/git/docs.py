"""Which files are prose documents, and their titles."""

from __future__ import annotations

import re
from pathlib import PurePosixPath

DOC_SUFFIXES = frozenset({".md", ".markdown", ".mdx", ".rst", ".txt", ".adoc"})
MARKDOWN_SUFFIXES = frozenset({".md", ".markdown", ".mdx"})
# .txt files that are machine input, not prose.
_NOT_PROSE = re.compile(
    r"^(requirements|constraints)([-_.][\w.-]*)?\.txt$|^cmakelists\.txt$|^robots\.txt$"
    r"|^(license|licence|copying|notice)([-_.][\w.-]*)?$",
    re.I,
)
_ATX = re.compile(r"^#{1,6}\s+(.*?)\s*#*\s*$")
_UNDERLINE = re.compile(r"^(=+|-+|~+|\*+|\^+)\s*$")


def is_doc(path: str) -> bool:
    """READMEs, docs/**, *.md, *.rst, *.txt (not requirements files or licenses)."""
    p = PurePosixPath(path)
    name = p.name
    if _NOT_PROSE.match(name):
        return False
    if name.lower().startswith("readme"):
        return True
    return p.suffix.lower() in DOC_SUFFIXES


def is_markdown(path: str) -> bool:
    """Markdown by extension (README without one counts)."""
    p = PurePosixPath(path)
    return p.suffix.lower() in MARKDOWN_SUFFIXES or p.name.lower() == "readme"


def doc_title(text: str, path: str) -> str:
    """The first heading (markdown ATX/setext or reStructuredText), else the path."""
    lines = text.splitlines()
    in_front = bool(lines) and lines[0].strip() == "---"
    fence = False
    for i, line in enumerate(lines[:200]):
        if in_front:
            if i > 0 and line.strip() in ("---", "..."):
                in_front = False
            continue
        if line.lstrip().startswith(("```", "~~~")):
            fence = not fence
        if fence:
            continue
        m = _ATX.match(line)
        if m and m.group(1):
            return _clean(m.group(1))
        nxt = lines[i + 1] if i + 1 < len(lines) else ""
        if line.strip() and _UNDERLINE.match(nxt) and len(nxt.strip()) >= len(line.strip()) // 2:
            if _UNDERLINE.match(line):  # an rst overline: the title is the next line
                continue
            return _clean(line)
    return path


def _clean(title: str) -> str:
    return re.sub(r"[*_`]", "", title).strip()[:300] or title.strip()
