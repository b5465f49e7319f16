"""Source code: comments (string-aware), danger-zone comments and file header prose."""

from __future__ import annotations

import functools
import hashlib
import re
from dataclasses import dataclass
from pathlib import PurePosixPath

from kb.contract.chunking import MAX_CHUNK_CHARS
from kb.contract.kinds import SEVERITY_RANK, Severity
from kb.contract.records import ChunkText


@dataclass(frozen=True)
class CommentSyntax:
    """How a language writes comments and strings, enough to find comments reliably."""

    line: tuple[str, ...] = ()
    block: tuple[str, str] | None = None
    strings: tuple[str, ...] = ('"', "'")
    multiline_strings: tuple[str, ...] = ()
    # Shell/YAML: '#' starts a comment only at a word start, and a quote opens a string only
    # where a value starts (so "don't" in a bare YAML value is not an open string).
    word_start: bool = False
    # Shell and Ruby here-documents (<<EOF ... EOF) are strings, whatever they contain.
    heredoc: bool = False


_PYTHON = CommentSyntax(
    line=("#",), strings=('"""', "'''", '"', "'"), multiline_strings=('"""', "'''")
)
_C_LIKE = CommentSyntax(line=("//",), block=("/*", "*/"), strings=('"', "'"))
_JS = CommentSyntax(
    line=("//",), block=("/*", "*/"), strings=('"', "'", "`"), multiline_strings=("`",)
)
_GO = CommentSyntax(line=("//",), block=("/*", "*/"), strings=('"', "`"), multiline_strings=("`",))
_JVM = CommentSyntax(
    line=("//",),
    block=("/*", "*/"),
    strings=('"""', '"', "'"),
    multiline_strings=('"""',),
)
_HASH = CommentSyntax(line=("#",), word_start=True)
_SHELL = CommentSyntax(line=("#",), word_start=True, heredoc=True)
_RUBY = CommentSyntax(line=("#",), heredoc=True)
_SQL = CommentSyntax(line=("--",), block=("/*", "*/"), strings=("'", '"'))

_BY_SUFFIX = {
    ".py": _PYTHON,
    ".pyi": _PYTHON,
    ".js": _JS,
    ".jsx": _JS,
    ".mjs": _JS,
    ".cjs": _JS,
    ".ts": _JS,
    ".tsx": _JS,
    ".go": _GO,
    ".java": _JVM,
    ".kt": _JVM,
    ".kts": _JVM,
    ".scala": _JVM,
    ".groovy": _JVM,
    ".c": _C_LIKE,
    ".h": _C_LIKE,
    ".cc": _C_LIKE,
    ".cpp": _C_LIKE,
    ".hpp": _C_LIKE,
    ".cs": _C_LIKE,
    ".rs": CommentSyntax(line=("//",), block=("/*", "*/"), strings=('"',)),
    ".swift": _C_LIKE,
    ".php": CommentSyntax(line=("//", "#"), block=("/*", "*/")),
    ".rb": _RUBY,
    ".rake": _RUBY,
    ".sql": _SQL,
    ".yaml": _HASH,
    ".yml": _HASH,
    ".sh": _SHELL,
    ".bash": _SHELL,
    ".zsh": _SHELL,
    ".toml": _HASH,
    ".tf": CommentSyntax(line=("#", "//"), block=("/*", "*/"), word_start=True),
    ".env": _HASH,
    ".ini": _HASH,
    ".cfg": _HASH,
    ".conf": _HASH,
    ".properties": _HASH,
    # No comments, but service URLs in config values are evidence all the same.
    ".json": CommentSyntax(strings=('"',)),
}
_BY_NAME = {
    "dockerfile": _SHELL,
    "makefile": _HASH,
    "gemfile": _RUBY,
    "rakefile": _RUBY,
    "procfile": _HASH,
    "jenkinsfile": _JVM,
    "justfile": _HASH,
}
# Languages whose files are programs (header prose, env/http/event references).
_PROGRAM_SUFFIXES = """.py .pyi .js .jsx .mjs .cjs .ts .tsx .go .java .kt .kts .scala .groovy
.c .h .cc .cpp .hpp .cs .rs .swift .php .rb .rake .sh .bash .zsh"""
PROGRAM_SUFFIXES = frozenset(_PROGRAM_SUFFIXES.split())


def comment_syntax(path: str) -> CommentSyntax | None:
    """The comment syntax of a file by its name, or None for files that are not code."""
    p = PurePosixPath(path)
    name = p.name.lower()
    if name in _BY_NAME or name.startswith("dockerfile"):
        return _BY_NAME.get(name, _SHELL)
    if name.startswith(".env"):
        return _HASH
    return _BY_SUFFIX.get(p.suffix.lower())


def source_lines(text: str) -> list[str]:
    """Lines as editors and GitHub number them: split on newlines only.

    str.splitlines() also splits on form feeds and Unicode separators, which would shift
    every line number after one.
    """
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return [line[:-1] if line.endswith("\r") else line for line in lines]


@dataclass(frozen=True)
class Comment:
    """The comment text of one line; `code` is the rest of the line (empty: a full-line one)."""

    line: int
    text: str
    code: str = ""
    group: int | None = None  # lines of one /* ... */ comment share a group


def find_comments(text: str, syntax: CommentSyntax) -> list[Comment]:
    """Every commented line of a source text, skipping comment markers inside strings."""
    out: list[Comment] = []
    in_string: str | None = None  # an open multi-line string delimiter
    open_block: int | None = None  # group id of an open /* ... */ comment
    groups = 0
    tokens = _token_regex(syntax)
    heredoc_end: str | None = None
    for lineno, line in enumerate(source_lines(text), start=1):
        if heredoc_end is not None:
            if line.strip() == heredoc_end:
                heredoc_end = None
            continue
        i, n, seg = 0, len(line), 0  # seg: start of the current run of code
        code: list[str] = []
        comment: list[str] = []
        group = open_block
        while i < n:
            if open_block is not None:
                assert syntax.block is not None
                end = line.find(syntax.block[1], i)
                part = line[i:] if end < 0 else line[i:end]
                comment.append(re.sub(r"^\s*\*+(?!/)\s?", "", part))
                if end < 0:
                    i = seg = n
                    break
                open_block = None
                i = seg = end + len(syntax.block[1])
                continue
            if in_string is not None:
                end = _find_close(line, i, in_string)
                if end < 0:
                    break
                i = end + len(in_string)
                in_string = None
                continue
            # Jump to the next character that can open a comment or a string.
            m = tokens.search(line, i)
            if m is None:
                break
            i, tok = m.start(), m.group()
            if tok == "\\":
                i += 2
                continue
            if tok in syntax.line:
                if syntax.word_start and i > 0 and line[i - 1] not in " \t":
                    i += len(tok)  # `$#` in shell, `url#frag` in YAML
                    continue
                code.append(line[seg:i])
                comment.append(line[i + len(tok) :])
                seg = n
                break
            if syntax.block and tok == syntax.block[0]:
                code.append(line[seg:i])
                groups += 1
                open_block = group = groups
                i += len(tok)
                continue
            if syntax.word_start and i > 0 and line[i - 1] not in " \t:=[{,(-":
                i += len(tok)  # an apostrophe inside a bare word: "don't"
                continue
            end = _find_close(line, i + len(tok), tok)
            if end < 0:
                if tok in syntax.multiline_strings:
                    in_string = tok
                break
            i = end + len(tok)
        if seg < n:
            code.append(line[seg:])
        if syntax.heredoc:
            opened = _HEREDOC.search("".join(code))
            heredoc_end = opened.group(1) if opened else None
        if comment:
            joined = " ".join(part.strip() for part in comment if part.strip())
            out.append(Comment(lineno, joined, "".join(code).strip(), group))
    return out


@functools.lru_cache(maxsize=64)
def _token_regex(syntax: CommentSyntax) -> re.Pattern[str]:
    """What can open a comment or a string (or escape), longest first."""
    opening = [*syntax.line, *syntax.strings, "\\"]
    if syntax.block:
        opening.append(syntax.block[0])
    return re.compile("|".join(re.escape(t) for t in sorted(set(opening), key=len, reverse=True)))


_HEREDOC = re.compile(r"<<[-~]?\s*[\"']?([A-Za-z_][A-Za-z0-9_]*)[\"']?")


def _find_close(line: str, start: int, delim: str) -> int:
    i = start
    while True:
        j = line.find(delim, i)
        if j < 0:
            return -1
        backslashes = len(line[:j]) - len(line[:j].rstrip("\\"))
        if backslashes % 2 == 0:
            return j
        i = j + 1


# --- danger zones ---------------------------------------------------------------------------

# (regex, severity): shouted markers are case-sensitive, phrases are not.
# Lower-case prohibitions count only as imperatives (at the start of a sentence), so "so we
# don't set a rule" explains while "Don't touch:" and "WARNING: never set ..." warn.
_IMPERATIVE = r"(?:^|[.:;!?)—–-]\s+|\s-\s)"
_MARKERS: list[tuple[re.Pattern[str], Severity]] = [
    (re.compile(r"\bDO NOT\b|\bDON'T\b|\bNEVER\b"), Severity.HIGH),
    (re.compile(r"\b(?:do not|don'?t|never)\s+(?:ever\s+)?touch\b", re.I), Severity.HIGH),
    (
        re.compile(
            rf"{_IMPERATIVE}(?:do not|don'?t|never)\s+(?:ever\s+)?"
            r"(?:change|modify|edit|remove|delete|rename|reorder|set|reset)\b",
            re.I,
        ),
        Severity.HIGH,
    ),
    (re.compile(r"\bnever\s+change\b", re.I), Severity.HIGH),
    (re.compile(r"\bWARNING\b|\bHACK\b"), Severity.MEDIUM),
    (re.compile(r"^\s*(?:warning|hack)\s*:", re.I), Severity.MEDIUM),
    (re.compile(r"\blegacy\b|\bcareful(?:ly)?\b", re.I), Severity.MEDIUM),
    (re.compile(r"\bFIXME\b", re.I), Severity.LOW),
    (re.compile(r"\bXXX\b"), Severity.LOW),
]
# Tool pragmas are comments too, but never prose (`# type: ignore`, `// eslint-disable`).
_PRAGMA = re.compile(
    r"^\s*(?:type:|noqa|pragma|pylint:|eslint|prettier|istanbul|nolint|go:|@ts-|mypy:|fmt:"
    r"|isort:|nosec|-\*-|!)"
)


@dataclass(frozen=True)
class DangerComment:
    """A comment block that warns whoever edits the code under it."""

    line: int  # the line of the first marker
    title: str
    body: str
    severity: Severity
    key: str  # short hash of the normalised comment text: stable when lines move


def danger_comments(
    text: str, syntax: CommentSyntax, comments: list[Comment] | None = None
) -> list[DangerComment]:
    """Comment blocks carrying danger markers, each with the code line it sits on."""
    lines = source_lines(text)
    found: list[DangerComment] = []
    seen: dict[str, int] = {}
    if comments is None:
        comments = find_comments(text, syntax)
    prose = [c for c in comments if not _PRAGMA.match(c.text)]
    for block in _blocks(prose):
        marked: list[tuple[int, Severity]] = []
        for c in block:
            sev = _severity(c.text)
            if sev is not None:
                marked.append((c.line, sev))
        if not marked:
            continue
        severity = max((s for _, s in marked), key=SEVERITY_RANK.__getitem__)
        first_line = marked[0][0]
        texts = [c.text.strip() for c in block]
        title_src = next(c.text.strip() for c in block if c.line == first_line)
        code = block[0].code if block[0].code else _code_after(lines, block[-1].line)
        body = "\n".join(t for t in texts if t)
        if code:
            body += f"\n\n{code}"
        normalised = re.sub(r"\s+", " ", " ".join(texts)).strip().lower()
        key = hashlib.sha1(normalised.encode()).hexdigest()[:10]
        seen[key] = seen.get(key, 0) + 1
        if seen[key] > 1:  # the same warning twice in one file: keep both, ids stay unique
            key = f"{key}-{seen[key]}"
        found.append(DangerComment(first_line, _short(title_src), body, severity, key))
    return found


def _severity(comment: str) -> Severity | None:
    best: Severity | None = None
    for regex, sev in _MARKERS:
        if regex.search(comment) and (best is None or SEVERITY_RANK[sev] > SEVERITY_RANK[best]):
            best = sev
    return best


def _blocks(comments: list[Comment]) -> list[list[Comment]]:
    """Adjacent full-line comments (or the lines of one /* */) form a block.

    A trailing comment (code before it on the line) is a block of its own.
    """
    blocks: list[list[Comment]] = []
    for c in comments:
        prev = blocks[-1][-1] if blocks else None
        same_group = prev is not None and c.group is not None and c.group == prev.group
        adjacent = (
            prev is not None
            and c.line == prev.line + 1
            and not c.code
            and not blocks[-1][0].code
            and c.group is None
            and prev.group is None
        )
        if same_group or adjacent:
            blocks[-1].append(c)
        else:
            blocks.append([c])
    return blocks


def _code_after(lines: list[str], line: int) -> str:
    for offset in range(line, min(line + 2, len(lines))):
        candidate = lines[offset].strip()
        if candidate:
            return candidate
    return ""


def _short(text: str, limit: int = 100) -> str:
    text = re.sub(r"\s+", " ", text).strip(" -*#/")
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


# --- file headers ---------------------------------------------------------------------------

MIN_PROSE_WORDS = 10
_DOCSTRING = re.compile(r'^[rRuUbB]{0,2}("""|\'\'\')(.*?)\1', re.S)
_LICENSE = re.compile(
    r"copyright|\(c\)|©|spdx-license|licensed under|license|all rights reserved|"
    r"permission is hereby granted|without warranty|apache|gnu general|mit license",
    re.I,
)


def header_prose(
    text: str, path: str, comments: list[Comment] | None = None
) -> tuple[str, int] | None:
    """A file's module docstring or top-of-file comment block, when it holds real prose.

    Returns (text, first line); license headers, shebangs and pragmas alone are not prose.
    """
    syntax = comment_syntax(path)
    if syntax is None:
        return None
    lines = source_lines(text)
    i = 0
    while i < len(lines) and (not lines[i].strip() or lines[i].startswith("#!")):
        i += 1
    if syntax is _PYTHON:
        # Comments (encoding, license) may precede the docstring.
        j = i
        while j < len(lines) and (not lines[j].strip() or lines[j].lstrip().startswith("#")):
            j += 1
        m = _DOCSTRING.match("\n".join(lines[j:]).lstrip())
        if m:
            return _prose(m.group(2), j + 1)
    if comments is None:
        comments = find_comments(text, syntax)
    block = [c for c in comments if c.line > i and not c.code]
    header: list[Comment] = []
    for c in block:
        expected = header[-1].line + 1 if header else i + 1
        if c.line != expected:
            break
        header.append(c)
    if not header:
        return None
    return _prose("\n".join(c.text.strip() for c in header), header[0].line)


def _prose(raw: str, line: int) -> tuple[str, int] | None:
    paragraphs = [p.strip() for p in re.split(r"\n\s*\n", raw) if p.strip()]
    kept = [p for p in paragraphs if not _LICENSE.search(p) and not _PRAGMA.match(p)]
    text = "\n\n".join(kept)
    # A one-liner ("HTTP API of x.", "Tests for y.") says nothing the path does not.
    if len(re.findall(r"[A-Za-z]{2,}", text)) < MIN_PROSE_WORDS:
        return None
    return text, line


# --- explanatory comments -------------------------------------------------------------------

# A comment block explains something when it holds at least this many words.
MIN_BLOCK_WORDS = 12
# At most this many blocks of one file are kept (generated or vendored files have thousands).
MAX_BLOCKS = 60


@dataclass(frozen=True)
class CommentBlock:
    """Consecutive full-line comments that read as prose, and the code line they precede."""

    line: int
    text: str
    code: str


def comment_blocks(
    text: str, path: str, comments: list[Comment] | None = None, skip_before: int = 0
) -> list[CommentBlock]:
    """The prose comment blocks of a source file (the "why" written beside the code).

    Full-line comments on consecutive lines form a block; license text and pragmas are left
    out, and so is everything up to line `skip_before` (the header, kept on its own).
    """
    syntax = comment_syntax(path)
    if syntax is None:
        return []
    if comments is None:
        comments = find_comments(text, syntax)
    lines = source_lines(text)
    groups: list[list[Comment]] = []
    for c in comments:
        if c.code or c.line <= skip_before:
            continue
        if groups and c.line == groups[-1][-1].line + 1:
            groups[-1].append(c)
        else:
            groups.append([c])
    out: list[CommentBlock] = []
    for group in groups:
        body = "\n".join(c.text.strip() for c in group).strip()
        prose = "\n".join(
            p for p in re.split(r"\n\s*\n", body) if not _LICENSE.search(p) and not _PRAGMA.match(p)
        )
        if len(re.findall(r"[A-Za-z]{2,}", prose)) < MIN_BLOCK_WORDS:
            continue
        end = group[-1].line
        code = next((ln.strip() for ln in lines[end : end + 3] if ln.strip()), "")
        out.append(CommentBlock(group[0].line, prose, code[:160]))
        if len(out) >= MAX_BLOCKS:
            break
    return out


def comment_chunks(path: str, blocks: list[CommentBlock], size: int = 700) -> list[ChunkText]:
    """Comment blocks as chunks: neighbours packed up to `size` characters, each chunk
    headed by the file and the code line its first block explains (searchable names)."""
    out: list[ChunkText] = []
    pending: list[CommentBlock] = []

    def close() -> None:
        if pending:
            head = f"{path} > {pending[0].code}" if pending[0].code else path
            out.append(
                ChunkText(
                    text="\n\n".join(b.text for b in pending)[:MAX_CHUNK_CHARS],
                    heading=head,
                    start_line=pending[0].line,
                    end_line=pending[-1].line + pending[-1].text.count("\n"),
                )
            )
            pending.clear()

    for block in blocks:
        if pending and sum(len(b.text) + 2 for b in pending) + len(block.text) > size:
            close()
        pending.append(block)
    close()
    return out
