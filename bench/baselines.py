"""Baselines for the retrieval benchmark, built from the raw sources and nothing of kb's pipeline.

The corpus is what a team would feed a framework tutorial: every text file of each repo at
HEAD, one document per commit message, the Slack export grouped per channel and day, and the
taught notes as plain text. Every document is cut into 1,000-character chunks (200 overlap)
by a tutorial-style recursive character splitter. Three systems rank those chunks:

- `bm25`: Okapi BM25 (k1=1.5, b=0.75) over a lowercase word tokenizer;
- `vector`: cosine similarity of all-MiniLM-L6-v2 embeddings (the model kb bundles);
- `hybrid`: both, fused by reciprocal rank fusion (k=60) — the naive hybrid.

Each returns sources (repo+path, commit, Slack channel-day, note), a source counting once.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import subprocess
import sys
import zipfile
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

import numpy as np

CHUNK_SIZE = 1000
CHUNK_OVERLAP = 200
SEPARATORS = ("\n\n", "\n", " ", "")
MAX_FILE_BYTES = 1_000_000  # a tutorial loader would choke on bigger files too
BM25_K1 = 1.5
BM25_B = 0.75
RRF_K = 60
FUSION_DEPTH = 100  # sources taken from each ranking before fusing

_WORD = re.compile(r"[a-z0-9]+")


@dataclass(frozen=True)
class Source:
    """What a retrieved result points at, as a person would open it."""

    kind: str  # "file", "commit", "slack", "note" or "other"
    repo: str | None = None
    path: str | None = None
    commit: str | None = None
    channel: str | None = None
    thread_ts: str | None = None  # a Slack thread
    day: str | None = None  # a Slack channel-day (YYYY-MM-DD, UTC)
    note: str | None = None  # id of a taught note
    other: str | None = None  # anything else, by its id
    # Slack thread roots and message ts a channel-day document holds (not part of identity).
    threads: frozenset[str] = field(default=frozenset(), compare=False)

    def label(self) -> str:
        """A short human-readable name for reports."""
        if self.kind == "file":
            return f"{self.repo}:{self.path}"
        if self.kind == "commit":
            return f"commit {self.repo}@{(self.commit or '')[:10]}"
        if self.kind == "slack":
            where = f"thread {self.thread_ts}" if self.thread_ts else self.day or "?"
            return f"slack #{self.channel} {where}"
        if self.kind == "note":
            return f"note {self.note}"
        return f"other {self.other}"


@dataclass(frozen=True)
class Document:
    """One unit of raw source text and the source it stands for."""

    source: Source
    text: str


@dataclass(frozen=True)
class TaughtNote:
    """A piece of tacit knowledge a senior tells kb (`kb remember`)."""

    id: str
    text: str
    service: str | None
    kind: str
    by: str
    date: str


def load_notes(path: Path) -> list[TaughtNote]:
    """The taught notes of an eval set (bench/eval/*_notes.json)."""
    raw = json.loads(path.read_text())
    return [
        TaughtNote(
            id=n["id"],
            text=n["text"],
            service=n.get("service"),
            kind=n["kind"],
            by=n["by"],
            date=n["date"],
        )
        for n in raw["notes"]
    ]


# --- the raw corpus ------------------------------------------------------------------------


def _git(repo: Path, *args: str) -> bytes:
    return subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True).stdout


def repo_files(repo: Path) -> Iterator[tuple[str, str]]:
    """(path, text) of every text file at HEAD: not binary, UTF-8, at most MAX_FILE_BYTES."""
    entries = []
    for line in _git(repo, "ls-tree", "-r", "-z", "-l", "HEAD").split(b"\0"):
        if not line:
            continue
        meta, path = line.split(b"\t", 1)
        mode, kind, sha, size = meta.split()
        if kind != b"blob" or mode == b"120000" or size == b"-":
            continue
        if int(size) == 0 or int(size) > MAX_FILE_BYTES:
            continue
        entries.append((path.decode("utf-8", "replace"), sha.decode()))
    if not entries:
        return
    batch = "".join(f"{sha}\n" for _, sha in entries).encode()
    out = subprocess.run(
        ["git", "-C", str(repo), "cat-file", "--batch"],
        input=batch,
        check=True,
        capture_output=True,
    ).stdout
    pos = 0
    for path, _ in entries:
        header_end = out.index(b"\n", pos)
        size = int(out[pos:header_end].split()[2])
        blob = out[header_end + 1 : header_end + 1 + size]
        pos = header_end + 1 + size + 1
        if b"\0" in blob:
            continue
        try:
            yield path, blob.decode("utf-8")
        except UnicodeDecodeError:
            continue


def repo_commits(repo: Path) -> Iterator[tuple[str, str]]:
    """(sha, text) of every commit reachable from HEAD: author, date and full message."""
    out = _git(repo, "log", "--format=%H%x1f%an%x1f%aI%x1f%B%x1e", "HEAD")
    for record in out.decode("utf-8", "replace").split("\x1e"):
        record = record.strip("\n")
        if not record:
            continue
        sha, author, date, message = record.split("\x1f", 3)
        yield sha, f"commit {sha[:10]} by {author} on {date[:10]}\n\n{message.strip()}"


def read_slack_export(export: Path) -> dict[str, Any]:
    """The files of a Slack export (zip or folder) as {relative path: parsed JSON}."""
    files: dict[str, Any] = {}
    if export.is_file():
        with zipfile.ZipFile(export) as archive:
            for name in archive.namelist():
                if name.endswith(".json"):
                    files[name] = json.loads(archive.read(name))
    else:
        for path in export.rglob("*.json"):
            files[path.relative_to(export).as_posix()] = json.loads(path.read_text())
    return files


def slack_channel_days(export: Path) -> Iterator[Document]:
    """One document per channel and day of a Slack export, messages as 'HH:MM name: text'."""
    files = read_slack_export(export)
    users = {u["id"]: u.get("real_name") or u.get("name") for u in files.get("users.json", [])}
    channels = [c["name"] for c in files.get("channels.json", [])]
    for channel in channels:
        days = sorted(k for k in files if k.startswith(f"{channel}/"))
        for name in days:
            day = name.rsplit("/", 1)[1].removesuffix(".json")
            lines, threads = [f"#{channel} {day}"], set()
            for msg in files[name]:
                ts = msg.get("ts", "")
                threads.add(msg.get("thread_ts") or ts)
                threads.add(ts)
                at = datetime.fromtimestamp(float(ts or 0), UTC).strftime("%H:%M")
                who = users.get(msg.get("user")) or msg.get("username") or "someone"
                lines.append(f"{at} {who}: {msg.get('text', '')}")
            source = Source("slack", channel=channel, day=day, threads=frozenset(threads))
            yield Document(source, "\n".join(lines))


def note_documents(notes: Iterable[TaughtNote]) -> Iterator[Document]:
    """Each taught note as a plain text document."""
    for note in notes:
        yield Document(Source("note", note=note.id), note.text)


def build_corpus(
    repos: dict[str, Path],
    slack_export: Path | None = None,
    notes: Sequence[TaughtNote] = (),
) -> list[Document]:
    """Every raw document the baselines (and kb) get: files, commits, Slack, notes."""
    docs: list[Document] = []
    for name, path in sorted(repos.items()):
        docs += [Document(Source("file", repo=name, path=p), t) for p, t in repo_files(path)]
        docs += [Document(Source("commit", repo=name, commit=s), t) for s, t in repo_commits(path)]
    if slack_export is not None:
        docs += list(slack_channel_days(slack_export))
    docs += list(note_documents(notes))
    return docs


# --- chunking ------------------------------------------------------------------------------


def split_text(text: str, size: int = CHUNK_SIZE, overlap: int = CHUNK_OVERLAP) -> list[str]:
    """Recursive character splitting as in framework tutorials: paragraphs, lines, words."""
    return [c for c in _split(text, list(SEPARATORS), size, overlap) if c.strip()]


def _split(text: str, separators: list[str], size: int, overlap: int) -> list[str]:
    separator, rest = separators[-1], []
    for i, candidate in enumerate(separators):
        if candidate == "" or candidate in text:
            separator, rest = candidate, separators[i + 1 :]
            break
    pieces = text.split(separator) if separator else list(text)
    out: list[str] = []
    small: list[str] = []
    for piece in pieces:
        if len(piece) < size:
            small.append(piece)
            continue
        if small:
            out += _merge(small, separator, size, overlap)
            small = []
        out += _split(piece, rest, size, overlap) if rest else [piece]
    if small:
        out += _merge(small, separator, size, overlap)
    return out


def _merge(pieces: list[str], separator: str, size: int, overlap: int) -> list[str]:
    """Join small pieces into chunks of at most `size`, carrying about `overlap` over."""
    sep = len(separator)
    chunks: list[str] = []
    window: list[str] = []
    total = 0
    for piece in pieces:
        grow = len(piece) + (sep if window else 0)
        if total + grow > size and window:
            chunk = separator.join(window).strip()
            if chunk:
                chunks.append(chunk)
            while window and (total > overlap or total + grow > size):
                total -= len(window[0]) + (sep if len(window) > 1 else 0)
                window.pop(0)
                grow = len(piece) + (sep if window else 0)
        window.append(piece)
        total += len(piece) + (sep if len(window) > 1 else 0)
    chunk = separator.join(window).strip()
    if chunk:
        chunks.append(chunk)
    return chunks


@dataclass(frozen=True)
class Chunk:
    """A piece of a document: its text and the index of the document it came from."""

    doc: int
    text: str


def chunk_corpus(docs: Sequence[Document]) -> list[Chunk]:
    """All chunks of all documents, in document order."""
    return [Chunk(i, piece) for i, d in enumerate(docs) for piece in split_text(d.text)]


# --- BM25 ------------------------------------------------------------------------------------


def tokenize(text: str) -> list[str]:
    """Lowercase words: runs of letters and digits."""
    return _WORD.findall(text.lower())


class BM25:
    """Okapi BM25 over a fixed list of texts (k1=1.5, b=0.75, Lucene's non-negative idf)."""

    def __init__(self, texts: Sequence[str], k1: float = BM25_K1, b: float = BM25_B) -> None:
        self.k1, self.b = k1, b
        postings: dict[str, tuple[list[int], list[int]]] = {}
        lengths = np.zeros(len(texts), dtype=np.float32)
        for i, text in enumerate(texts):
            counts = Counter(tokenize(text))
            lengths[i] = sum(counts.values())
            for term, tf in counts.items():
                docs, tfs = postings.setdefault(term, ([], []))
                docs.append(i)
                tfs.append(tf)
        self.size = len(texts)
        self.avgdl = float(lengths.mean()) if len(texts) else 0.0
        self.norm = k1 * (1 - b + b * lengths / (self.avgdl or 1.0))
        self.postings = {
            t: (np.asarray(d, dtype=np.int64), np.asarray(f, dtype=np.float32))
            for t, (d, f) in postings.items()
        }

    def idf(self, term: str) -> float:
        """Inverse document frequency of a term (0 for unknown terms)."""
        if term not in self.postings:
            return 0.0
        df = len(self.postings[term][0])
        return math.log((self.size - df + 0.5) / (df + 0.5) + 1.0)

    def scores(self, query: str) -> np.ndarray:
        """BM25 score of every text for a query (each distinct query term counted once)."""
        out = np.zeros(self.size, dtype=np.float32)
        for term in set(tokenize(query)):
            if term not in self.postings:
                continue
            docs, tfs = self.postings[term]
            out[docs] += self.idf(term) * tfs * (self.k1 + 1) / (tfs + self.norm[docs])
        return out


# --- embeddings ------------------------------------------------------------------------------


class TextEmbedder(Protocol):
    """What the vector baseline needs of an embedder (kb's SentenceTransformerEmbedder fits)."""

    model_name: str

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        """Unit-length vectors, one per text."""
        ...


class EmbeddingCache:
    """Embeddings of texts by content hash, kept in one .npy pair per model across runs."""

    def __init__(self, embedder: TextEmbedder, directory: Path | None, batch: int = 256) -> None:
        self.embedder = embedder
        self.batch = batch
        self.known: dict[str, np.ndarray] = {}
        self.path = None
        if directory is not None:
            directory.mkdir(parents=True, exist_ok=True)
            slug = re.sub(r"[^A-Za-z0-9]+", "-", embedder.model_name)
            self.path = directory / f"embeddings-{slug}.npz"
            if self.path.exists():
                saved = np.load(self.path)
                self.known = dict(zip(saved["keys"].tolist(), saved["vectors"], strict=True))

    def embed(self, texts: Sequence[str], progress: bool = False) -> np.ndarray:
        """A (len(texts), dim) float32 matrix, embedding only texts never seen before."""
        keys = [hashlib.sha1(t.encode("utf-8")).hexdigest() for t in texts]
        missing = list(dict.fromkeys(k for k in keys if k not in self.known))
        if missing:
            by_key = dict(zip(keys, texts, strict=True))
            for start in range(0, len(missing), self.batch):
                part = missing[start : start + self.batch]
                vectors = self.embedder.embed([by_key[k] for k in part])
                for k, v in zip(part, vectors, strict=True):
                    self.known[k] = np.asarray(v, dtype=np.float32)
                if progress:
                    done = min(start + self.batch, len(missing))
                    print(f"  embedded {done}/{len(missing)} chunks", file=sys.stderr)
            self.save()
        if not keys:
            return np.zeros((0, 0), dtype=np.float32)
        return np.stack([self.known[k] for k in keys]).astype(np.float32)

    def save(self) -> None:
        """Write the cache to disk (no-op without a directory)."""
        if self.path is None or not self.known:
            return
        keys = list(self.known)
        np.savez(self.path, keys=np.asarray(keys), vectors=np.stack([self.known[k] for k in keys]))


# --- the three systems -----------------------------------------------------------------------


def unique_sources(
    order: Iterable[int], chunks: Sequence[Chunk], docs: Sequence[Document], depth: int
) -> list[Source]:
    """Sources of chunks in ranked order, each source once, at most `depth` of them."""
    seen: set[Source] = set()
    out: list[Source] = []
    for i in order:
        source = docs[chunks[i].doc].source
        if source in seen:
            continue
        seen.add(source)
        out.append(source)
        if len(out) >= depth:
            break
    return out


def reciprocal_rank_fusion(rankings: Sequence[Sequence[Source]], k: int = RRF_K) -> list[Source]:
    """Fuse rankings: score(s) = sum of 1/(k + rank); ties keep first-seen order."""
    scores: dict[Source, float] = {}
    for ranking in rankings:
        for rank, source in enumerate(ranking, start=1):
            scores[source] = scores.get(source, 0.0) + 1.0 / (k + rank)
    return sorted(scores, key=lambda s: -scores[s])


class Baselines:
    """BM25 only, vector only and the naive hybrid over one chunked corpus."""

    def __init__(
        self,
        docs: Sequence[Document],
        embedder: TextEmbedder | None = None,
        cache_dir: Path | None = None,
        progress: bool = False,
    ) -> None:
        self.docs = list(docs)
        self.chunks = chunk_corpus(self.docs)
        self.bm25_index = BM25([c.text for c in self.chunks])
        self.cache = EmbeddingCache(embedder, cache_dir) if embedder is not None else None
        self.matrix: np.ndarray | None = None
        if self.cache is not None:
            self.matrix = self.cache.embed([c.text for c in self.chunks], progress=progress)

    def systems(self) -> dict[str, Callable[[str, int], list[Source]]]:
        """The available systems by display name."""
        out: dict[str, Callable[[str, int], list[Source]]] = {"BM25 only": self.bm25}
        if self.matrix is not None:
            out["vector only"] = self.vector
            out["naive hybrid"] = self.hybrid
        return out

    def bm25(self, question: str, k: int = 10) -> list[Source]:
        """Top-k sources by BM25 over the chunks."""
        scores = self.bm25_index.scores(question)
        order = np.argsort(-scores, kind="stable")
        order = order[scores[order] > 0]
        return unique_sources(order.tolist(), self.chunks, self.docs, k)

    def vector(self, question: str, k: int = 10) -> list[Source]:
        """Top-k sources by cosine similarity of the chunk embeddings."""
        assert self.cache is not None and self.matrix is not None
        query = self.cache.embedder.embed([question])[0]
        scores = self.matrix @ np.asarray(query, dtype=np.float32)
        order = np.argsort(-scores, kind="stable")
        return unique_sources(order.tolist(), self.chunks, self.docs, k)

    def hybrid(self, question: str, k: int = 10) -> list[Source]:
        """Top-k sources of BM25 and vector rankings fused by reciprocal rank (k=60)."""
        fused = reciprocal_rank_fusion(
            [self.bm25(question, FUSION_DEPTH), self.vector(question, FUSION_DEPTH)]
        )
        return fused[:k]
