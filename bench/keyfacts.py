"""Key facts of an answer: copy checks, sentence splitting and the semantic coverage measure.

A question of the suite lists the 2-4 facts a correct answer must convey, in other words than
its gold source. A fact counts as conveyed when one sentence of the text judged (kb's answer,
or the reference extract of the gold source) has cosine >= COVERAGE_THRESHOLD with it under
all-MiniLM-L6-v2. Everything here but `Coverage.embed` is plain arithmetic, testable without a
model.
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

COPY_RUN = 6  # words in a row a question or key fact may not share with its gold source
ANSWER_CHARS = 1500  # how much of kb's answer is judged (what a reader sees first)
EXTRACT_CHARS = 1500  # size of the question-focused extract of the gold source
COVERAGE_THRESHOLD = 0.5
MAX_SENTENCE_CHARS = 600  # a "sentence" longer than this (a table, a code block) is cut
WRAPPED_LINE = 50  # a line at least this long that ends mid-sentence continues on the next

_WORD = re.compile(r"[a-z0-9]+")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[\"'(\[]?[A-Z0-9`*_])")
_CITATION = re.compile(r"\s*\[\d+(?:\s*,\s*\d+)*\]")
# A list item or table row starts a new piece; comment and list markers are stripped.
_ITEM = re.compile(r"^\s*(?:[-+>|]|\*\s|\d+[.)]\s)")
_COMMENT = re.compile(r"^\s*(?://|#|/\*|\*|--)")
_MARKUP = re.compile(r"^\s*(?:[-*+>#|]+|\d+[.)]|//+|/\*+|--)\s*")


def words(text: str) -> list[str]:
    """Lowercase [a-z0-9]+ tokens, the tokenisation of the copy check."""
    return _WORD.findall(text.lower())


def runs(tokens: Sequence[str], n: int = COPY_RUN) -> set[tuple[str, ...]]:
    """Every run of n consecutive tokens."""
    return {tuple(tokens[i : i + n]) for i in range(len(tokens) - n + 1)}


def shared_runs(text: str, source: str, n: int = COPY_RUN) -> list[str]:
    """Runs of n words of `text` that also occur in `source` (case-insensitive), in order."""
    in_source = runs(words(source), n)
    seen: set[tuple[str, ...]] = set()
    out: list[str] = []
    tokens = words(text)
    for i in range(len(tokens) - n + 1):
        run = tuple(tokens[i : i + n])
        if run in in_source and run not in seen:
            seen.add(run)
            out.append(" ".join(run))
    return out


def sentences(text: str, max_chars: int = MAX_SENTENCE_CHARS) -> list[str]:
    """A text cut into sentences, citation markers and list or comment markers removed.

    A long line that stops mid-sentence is joined with the next line of the same kind
    (comment or not), so that hard-wrapped prose and comment blocks read as whole sentences;
    short lines (headings, code, settings), list items and table rows stay pieces of their
    own. Each piece is then cut at sentence ends; pieces of one word are dropped.
    """
    out: list[str] = []
    for block in re.split(r"\n[ \t]*\n", text):
        pieces: list[str] = []
        previous: tuple[bool, bool] | None = None  # (comment line, table row) of the last line
        wrapped = False  # the last line looks hard-wrapped: long, and not a finished sentence
        for raw in block.splitlines():
            raw = _CITATION.sub("", raw)
            line = _MARKUP.sub("", raw).strip()
            if not line:
                continue
            kind = (bool(_COMMENT.match(raw)), raw.lstrip().startswith("|"))
            if pieces and wrapped and kind == previous and not _ITEM.match(raw) and not kind[1]:
                pieces[-1] += " " + line
            else:
                pieces.append(line)
            previous = kind
            wrapped = len(raw.strip()) >= WRAPPED_LINE and not line.endswith((".", "!", "?", ":"))
        for piece in pieces:
            for part in _SENTENCE_END.split(piece):
                part = part.strip()
                if len(words(part)) >= 2:
                    out.append(part[:max_chars])
    return out


# --- gold source text ------------------------------------------------------------------------


def _git(repo: Path, *args: str) -> str:
    done = subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True)
    return done.stdout.decode("utf-8", "replace")


def gold_text(repo: Path, item: dict[str, Any], commit: str | None = None) -> str:
    """The text of a gold source at HEAD: a file, every file of a folder, or a commit message.

    `commit` is the resolved sha of a commit gold (looked up by subject prefix otherwise).
    """
    kind = item["kind"]
    if kind == "commit":
        # Who and when are part of what a commit shows (the baselines index them the same way).
        sha = commit or _commit_of(repo, item["subject_prefix"])
        fmt = "--format=Commit by %an on %ad: %s%n%n%b"
        return _git(repo, "log", "-1", "--date=short", fmt, sha)
    path = item["path"]
    if path.endswith("/"):
        names = _git(repo, "ls-tree", "-r", "--name-only", "HEAD", "--", path).splitlines()
        return "\n\n".join(_git(repo, "show", f"HEAD:{name}") for name in names)
    return _git(repo, "show", f"HEAD:{path}")


def _commit_of(repo: Path, prefix: str) -> str:
    for line in _git(repo, "log", "--format=%H%x1f%s", "HEAD").splitlines():
        sha, _, subject = line.partition("\x1f")
        if subject.startswith(prefix):
            return sha
    raise LookupError(f"no commit subject starts with {prefix!r}")


# --- coverage arithmetic -----------------------------------------------------------------------


def conveyed(
    fact_vectors: np.ndarray, sentence_vectors: np.ndarray, threshold: float
) -> list[bool]:
    """For each fact (unit row vector): does some sentence have cosine >= threshold with it?"""
    if len(fact_vectors) == 0:
        return []
    if len(sentence_vectors) == 0:
        return [False] * len(fact_vectors)
    best = (fact_vectors @ sentence_vectors.T).max(axis=1)
    return [bool(b >= threshold - 1e-9) for b in best]


def coverage(fact_vectors: np.ndarray, sentence_vectors: np.ndarray, threshold: float) -> float:
    """Share of the facts conveyed by the sentences (0.0 when there are no facts)."""
    flags = conveyed(fact_vectors, sentence_vectors, threshold)
    return sum(flags) / len(flags) if flags else 0.0


def focused_extract(
    parts: Sequence[str], question_vector: np.ndarray, part_vectors: np.ndarray, budget: int
) -> list[int]:
    """Indexes of the parts most similar to the question that fit in `budget` characters.

    Parts are taken by decreasing cosine with the question (one that does not fit is skipped,
    a shorter one may still fit), then returned in source order; one character joins them.
    """
    if len(parts) == 0:
        return []
    scores = part_vectors @ question_vector
    chosen: list[int] = []
    used = 0
    for i in np.argsort(-scores, kind="stable").tolist():
        cost = len(parts[i]) + (1 if chosen else 0)
        if used + cost > budget:
            continue
        chosen.append(i)
        used += cost
    return sorted(chosen)


def answer_head(text: str, limit: int = ANSWER_CHARS) -> str:
    """The first `limit` characters of an answer, the part a reader is judged to see."""
    return text[:limit]


@dataclass
class Coverage:
    """Key-fact coverage with an embedder (kb's SentenceTransformerEmbedder fits)."""

    embed_texts: Callable[[Sequence[str]], Sequence[Sequence[float]]]
    threshold: float = COVERAGE_THRESHOLD

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Unit row vectors of the texts, (0, 0) for none."""
        if not texts:
            return np.zeros((0, 0), dtype=np.float32)
        m = np.asarray(self.embed_texts(list(texts)), dtype=np.float32)
        norms = np.linalg.norm(m, axis=1, keepdims=True)
        return m / np.where(norms == 0, 1, norms)

    def of_text(self, facts: Sequence[str], text: str) -> float:
        """Coverage of the facts by the sentences of a text."""
        return coverage(self.embed(facts), self.embed(sentences(text)), self.threshold)

    def extract(self, question: str, source: str, budget: int = EXTRACT_CHARS) -> str:
        """A question-focused extract of a source: its closest sentences, in source order."""
        parts = sentences(source)
        if not parts:
            return ""
        chosen = focused_extract(parts, self.embed([question])[0], self.embed(parts), budget=budget)
        # One part a line, so that splitting the extract again gives back the same parts.
        return "\n".join(parts[i] for i in chosen)
