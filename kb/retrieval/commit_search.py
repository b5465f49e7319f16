"""Okapi BM25 over the commit messages that are not documents of their own.

A commit whose message is only a subject ("#5159: Reduce gunicorn timeout to 30 seconds")
is not worth a document, a chunk and a vector, yet it is the answer to "when was the
timeout cut to 30 seconds?". The log is small next to the chunks (a subject line each), so
it is indexed in memory on first use and searched by its words.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from kb.store.search import CommitMessage

_TOKEN = re.compile(r"[a-z0-9]+(?:\.[0-9]+)*")
# Okapi BM25's usual constants.
K1 = 1.2
B = 0.75


def words_of(text: str) -> list[str]:
    """Lower-cased words, version numbers kept whole ("Django 5.2" → django, 5.2)."""
    return _TOKEN.findall(text.lower())


@dataclass(frozen=True)
class CommitMatch:
    """A commit found by the words of its message, with its BM25 score."""

    commit: CommitMessage
    score: float
    # The score over the sum of the question words' idf: the share of what the question
    # says that the message says too (about 1 when it holds every word once).
    coverage: float


class CommitLog:
    """An inverted index of commit messages, searched with BM25."""

    def __init__(self, commits: Sequence[CommitMessage], stem: Callable[[str], str]) -> None:
        self.commits = list(commits)
        self.stem = stem
        self.postings: dict[str, list[tuple[int, int]]] = {}
        self.lengths: list[int] = []
        for i, commit in enumerate(self.commits):
            counts = Counter(self._tokens(commit.message))
            self.lengths.append(sum(counts.values()))
            for term, tf in counts.items():
                self.postings.setdefault(term, []).append((i, tf))
        self.average_length = sum(self.lengths) / len(self.lengths) if self.lengths else 0.0

    def _tokens(self, text: str) -> list[str]:
        return [self.stem(t) for t in words_of(text)]

    def search(self, terms: Sequence[str], k: int) -> list[CommitMatch]:
        """The k commits whose messages best match `terms` (see `words_of`)."""
        n = len(self.commits)
        scores: dict[int, float] = {}
        mass = 0.0
        for term in dict.fromkeys(self.stem(t) for t in terms):
            postings = self.postings.get(term, [])
            # Lucene's non-negative idf: a word in most messages still counts a little.
            idf = math.log(1 + (n - len(postings) + 0.5) / (len(postings) + 0.5))
            mass += idf
            for i, tf in postings:
                norm = K1 * (1 - B + B * self.lengths[i] / (self.average_length or 1.0))
                scores[i] = scores.get(i, 0.0) + idf * tf * (K1 + 1) / (tf + norm)
        best = sorted(scores.items(), key=lambda item: -item[1])[:k]
        return [CommitMatch(self.commits[i], score, score / mass) for i, score in best]
