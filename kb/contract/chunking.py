"""Split documents into retrievable chunks: by headings first, then by paragraphs."""

from __future__ import annotations

import re

from kb.contract.records import ChunkText

# all-MiniLM-L6-v2 reads at most 256 word pieces (~1,000 characters of English);
# longer chunks would be silently truncated by the model.
MAX_CHUNK_CHARS = 900

_HEADING = re.compile(r"^(#{1,6})\s+(.*\S)\s*$")
_UNDERLINE = re.compile(r"^([=\-~^*+#:'\"`.])\1+$")


def chunk_markdown(text: str, title: str | None = None) -> list[ChunkText]:
    """Chunks of a markdown/plain text, each carrying its heading path and line span."""
    sections: list[tuple[str | None, int, list[str]]] = []
    stack: list[str] = []
    heading: str | None = title
    start = 1
    lines: list[str] = []
    in_fence = False
    all_lines = text.splitlines()
    underlines: list[str] = []  # reStructuredText: heading levels in order of first use
    skip = _front_matter_lines(all_lines)
    for lineno, line in enumerate(all_lines, start=1):
        if skip:
            skip -= 1
            lines.append(line)
            continue
        if line.lstrip().startswith("```"):
            in_fence = not in_fence
        match = None if in_fence else _HEADING.match(line)
        title_text, level = (match.group(2), len(match.group(1))) if match else (None, 0)
        nxt = all_lines[lineno] if lineno < len(all_lines) else ""
        if not match and not in_fence and _is_underline(line, nxt):
            style = nxt.strip()[0]
            if style not in underlines:
                underlines.append(style)
            title_text, level, skip = line.strip(), underlines.index(style) + 1, 1
        if title_text is not None:
            if _has_body(lines, heading != title):
                sections.append((heading, start, lines))
            stack = [*stack[: level - 1], title_text]
            heading = " > ".join(stack)
            start, lines = lineno, [line]
        else:
            lines.append(line)
    if _has_body(lines, heading != title):
        sections.append((heading, start, lines))

    chunks: list[ChunkText] = []
    for heading_path, first_line, section_lines in sections:
        chunks.extend(_split_section(heading_path, first_line, section_lines))
    return chunks


def _front_matter_lines(lines: list[str]) -> int:
    """How many lines a leading YAML front matter block (--- ... ---) takes (0 if none)."""
    if not lines or lines[0].strip() != "---":
        return 0
    for i, line in enumerate(lines[1:80], start=1):
        if line.strip() in ("---", "..."):
            return i + 1
    return 0


def _is_underline(line: str, nxt: str) -> bool:
    """A setext (markdown) or reStructuredText heading: a text line underlined by = - ~ ..."""
    text, mark = line.strip(), nxt.strip()
    if not text or len(mark) < 3 or len(mark) < len(text) * 0.7 or not _UNDERLINE.match(mark):
        return False
    return line[:1] not in " \t|" and not _UNDERLINE.match(text)


def _has_body(lines: list[str], headed: bool) -> bool:
    # A heading with nothing under it is kept only as part of its children's heading path.
    return any(
        line.strip() and not _HEADING.match(line) and not _UNDERLINE.match(line.strip())
        for line in lines[1 if headed else 0 :]
    )


def _split_section(heading: str | None, first_line: int, lines: list[str]) -> list[ChunkText]:
    out: list[ChunkText] = []
    buf: list[str] = []
    buf_start = first_line
    size = 0
    for offset, line in enumerate(lines):
        lineno = first_line + offset
        # Close the chunk at a paragraph break once it is big enough, or when it must.
        too_big = size + len(line) + 1 > MAX_CHUNK_CHARS
        if buf and (too_big or (size > MAX_CHUNK_CHARS // 2 and not line.strip())):
            out.append(_make(heading, buf, buf_start))
            buf, size, buf_start = [], 0, lineno
        if not buf and not line.strip():
            buf_start = lineno + 1
            continue
        while len(line) > MAX_CHUNK_CHARS:  # one enormous line (minified, a log dump)
            buf.append(line[:MAX_CHUNK_CHARS])
            out.append(_make(heading, buf, buf_start))
            buf, size, buf_start, line = [], 0, lineno, line[MAX_CHUNK_CHARS:]
        buf.append(line)
        size += len(line) + 1
    if any(s.strip() for s in buf):
        out.append(_make(heading, buf, buf_start))
    return out


def _make(heading: str | None, buf: list[str], start: int) -> ChunkText:
    while buf and not buf[-1].strip():
        buf = buf[:-1]
    return ChunkText(
        text="\n".join(buf).strip(),
        heading=heading,
        start_line=start,
        end_line=start + len(buf) - 1,
    )
