"""Hybrid retrieval: vector + full-text fused by rank, re-ranked with what kb knows."""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from kb.answers import Hit
from kb.embeddings import Embedder
from kb.store import Store
from kb.store import search as sq
from kb.vectors import VectorStore

RRF_K = 60
CANDIDATES = 60
# Full text matches any question word; its ranking is noisier than the vector one.
LEXICAL_WEIGHT = 0.7
# A structural candidate counts as if it ranked 10th in one of the two lists.
STRUCTURAL_SCORE = 1.0 / (RRF_K + 10)

STOPWORDS = frozenset(
    (
        "a",
        "an",
        "the",
        "and",
        "or",
        "but",
        "if",
        "then",
        "so",
        "of",
        "to",
        "in",
        "on",
        "at",
        "by",
        "for",
        "with",
        "from",
        "into",
        "over",
        "under",
        "about",
        "is",
        "are",
        "was",
        "were",
        "be",
        "been",
        "being",
        "do",
        "does",
        "did",
        "done",
        "have",
        "has",
        "had",
        "having",
        "it",
        "its",
        "this",
        "that",
        "these",
        "those",
        "there",
        "here",
        "what",
        "which",
        "who",
        "whom",
        "whose",
        "why",
        "how",
        "when",
        "where",
        "can",
        "could",
        "should",
        "would",
        "will",
        "shall",
        "may",
        "might",
        "must",
        "not",
        "no",
        "nor",
        "i",
        "we",
        "you",
        "he",
        "she",
        "they",
        "me",
        "us",
        "our",
        "your",
        "their",
        "my",
        "mine",
        "ours",
        "as",
        "than",
        "too",
        "very",
        "just",
        "also",
        "any",
        "all",
        "some",
        "each",
        "every",
        "more",
        "most",
        "other",
        "such",
        "only",
        "own",
        "same",
        "again",
        "further",
        "once",
        "out",
        "up",
        "down",
        "off",
        "both",
        "few",
        "get",
        "got",
        "make",
        "made",
        "use",
        "used",
        "using",
        "like",
        "anyone",
        "someone",
        "something",
        "thing",
        "things",
        "know",
        "knows",
        "now",
        "currently",
        "today",
        "still",
        "ever",
    )
)

_TOKEN = re.compile(r"[A-Za-z0-9_]+")
_ADR_REF = re.compile(r"\badr[-\s#]?0*(\d{1,4})\b", re.IGNORECASE)
_PATHISH = re.compile(r"[\w./-]*[/.][\w./-]+")
_SENTENCE = re.compile(r"(?<=[.!?])\s+|\n{2,}|\n(?=[-*#] )")


def terms_of(question: str) -> list[str]:
    """Content words of a question, lower-cased, in order, without duplicates."""
    out: list[str] = []
    for tok in _TOKEN.findall(question.lower()):
        if tok in STOPWORDS or len(tok) < 2:
            continue
        if tok not in out:
            out.append(tok)
    return out


def _stem(word: str) -> str:
    # A crude stem for matching snippet sentences: "timeouts" ~ "timeout", "retries" ~ "retry".
    for suffix in ("ies", "es", "s", "ing", "ed"):
        if len(word) > len(suffix) + 3 and word.endswith(suffix):
            return word[: -len(suffix)]
    return word


@dataclass
class Intent:
    """What kind of question this is, and what it names."""

    services: list[str] = field(default_factory=list)
    adr_numbers: list[int] = field(default_factory=list)
    paths: list[str] = field(default_factory=list)
    why: bool = False
    danger: bool = False
    who: bool = False
    incident: bool = False
    howto: bool = False
    history: bool = False
    now: bool = False


def read_intent(question: str, services: Sequence[str]) -> Intent:
    """Detect the question's kind and the services, ADRs and paths it names."""
    q = question.lower()
    words = set(_TOKEN.findall(q))
    intent = Intent()
    for name in services:
        stem = name.lower().removesuffix("-service").removesuffix("_service")
        if name.lower() in q or (len(stem) > 2 and (stem in words or f"{stem}s" in words)):
            intent.services.append(name)
    intent.adr_numbers = [int(n) for n in _ADR_REF.findall(question)]
    intent.paths = [p for p in _PATHISH.findall(question) if "/" in p or p.endswith(".py")]
    intent.why = bool(words & {"why", "reason", "rationale", "decided", "decision", "chose"})
    intent.danger = (
        bool(
            words
            & {"never", "touch", "careful", "danger", "dangerous", "risky", "avoid", "fragile"}
        )
        or "don't" in q
        or "do not" in q
    )
    intent.who = bool(words & {"who", "whom", "expert", "owner", "owns", "page", "ask"})
    intent.incident = bool(
        words & {"incident", "outage", "down", "timeouts", "timeout", "errors", "failing",
                 "broke", "broken", "alert", "paged", "latency", "storm", "lag", "sev1"}
    )  # fmt: skip
    intent.howto = bool(words & {"how", "run", "setup", "configure", "deploy", "start"})
    intent.now = bool(words & {"now", "currently", "today", "latest", "still"})
    intent.history = bool(
        words & {"when", "changed", "change", "revert", "reverted", "introduced", "added",
                 "removed", "ago", "history", "commit", "shortened", "shorter", "longer",
                 "renamed", "moved", "fixed", "undo", "undid", "rolled"}
    )  # fmt: skip
    return intent


# How much each kind of source is worth for each kind of question (1.0 = neutral).
_KIND_PRIOR: dict[str, dict[str, float]] = {
    "why": {"adr": 1.45, "postmortem": 1.2, "commit": 1.15, "note": 1.3, "slack": 1.05},
    "danger": {"code": 1.15, "note": 1.35, "adr": 1.1, "postmortem": 1.15},
    "incident": {"slack": 1.35, "postmortem": 1.45, "note": 1.1},
    "who": {"code": 1.4, "commit": 1.05, "note": 1.1, "doc": 1.1},
    "howto": {"doc": 1.35, "contract": 1.2, "note": 1.15},
    "history": {"commit": 1.5, "slack": 1.1},
}


@dataclass
class _DocScore:
    source: sq.ChunkSource
    score: float
    chunks: list[tuple[float, sq.ChunkSource]] = field(default_factory=list)
    similarity: float = 0.0
    lexical: bool = False


class Retriever:
    """Finds the sources that answer a question; one hit per document, best first."""

    def __init__(self, store: Store, vectors: VectorStore, encoder: Embedder) -> None:
        self.store = store
        self.vectors = vectors
        self.encoder = encoder
        self._services: list[str] | None = None

    def services(self) -> list[str]:
        """Known service names (cached: services change only at ingest)."""
        if self._services is None:
            self._services = sq.service_names(self.store)
        return self._services

    def search(self, question: str, k: int = 8, intent: Intent | None = None) -> list[Hit]:
        """The k best sources for a question, re-ranked by what the question names."""
        intent = intent or read_intent(question, self.services())
        terms = terms_of(question)
        lexical = sq.lexical_search(self.store, terms, CANDIDATES)
        query = self.encoder.embed([question])[0]
        vector = self.vectors.query(query, CANDIDATES)

        fused: dict[str, float] = {}
        similarity: dict[str, float] = {}
        for rank, (cid, _) in enumerate(lexical):
            fused[cid] = fused.get(cid, 0.0) + LEXICAL_WEIGHT / (RRF_K + rank + 1)
        for rank, hit in enumerate(vector):
            fused[hit.id] = fused.get(hit.id, 0.0) + 1.0 / (RRF_K + rank + 1)
            similarity[hit.id] = hit.similarity
        lexical_ids = {cid for cid, _ in lexical}
        # What kb knows structurally joins the candidates even when the words differ:
        # the danger zones of a service asked about, its decisions for a "why".
        for cid in self._structural_candidates(intent):
            fused[cid] = max(fused.get(cid, 0.0), STRUCTURAL_SCORE)
        sources = sq.chunk_sources(self.store, fused)  # vector hits unknown to SQL drop out

        docs: dict[int, _DocScore] = {}
        for cid, score in fused.items():
            src = sources.get(cid)
            if src is None:
                continue
            entry = docs.setdefault(src.document_id, _DocScore(src, 0.0))
            entry.chunks.append((score, src))
            entry.similarity = max(entry.similarity, similarity.get(cid, 0.0))
            entry.lexical = entry.lexical or cid in lexical_ids
        for entry in docs.values():
            entry.chunks.sort(key=lambda c: -c[0])
            best = entry.chunks[0][0]
            second = entry.chunks[1][0] if len(entry.chunks) > 1 else 0.0
            entry.source = entry.chunks[0][1]
            entry.score = (best + 0.25 * second) * self._prior(entry.source, intent)

        self._follow_supersession(docs, intent)
        ranked = sorted(docs.values(), key=lambda d: -d.score)[:k]
        return [self._hit(d, terms, intent) for d in ranked]

    def _structural_candidates(self, intent: Intent) -> list[str]:
        docs: list[int] = []
        if intent.danger:
            docs += sq.service_documents(self.store, intent.services, ["code"], danger_only=True)
        if intent.why:
            docs += sq.service_documents(self.store, intent.services, ["adr"])
        return list(sq.first_chunks(self.store, docs[:40]).values())

    def _prior(self, src: sq.ChunkSource, intent: Intent) -> float:
        factor = 1.0
        kind = src.kind
        if intent.danger and src.meta.get("wisdom") == "danger_zone":
            factor *= 1.5  # the comment that says DO NOT is the answer to "never touch"
        for name, active in (
            ("why", intent.why),
            ("danger", intent.danger),
            ("incident", intent.incident),
            ("who", intent.who),
            ("howto", intent.howto),
            ("history", intent.history),
        ):
            if active:
                factor *= _KIND_PRIOR[name].get(kind, 1.0)
        if intent.services:
            mine = {s.lower() for s in intent.services}
            owner = (src.service or src.repo or "").lower()
            if owner in mine:
                factor *= 1.3
            elif _mentions(src, mine):
                factor *= 1.2  # a source about this service held elsewhere (ADR, thread)
            elif owner:
                factor *= 0.8
        if intent.danger and any(c in src.chunk_text.lower() for c in _DANGER_CUES):
            factor *= 1.2
        if kind == "note":
            factor *= 1.25  # told to kb by a person on purpose: rarely off-topic
        if src.status == "superseded":
            factor *= 0.55
        number = src.meta.get("number")
        if intent.adr_numbers and src.kind == "adr" and number in intent.adr_numbers:
            factor *= 2.0
        if intent.paths and src.path and any(p in src.path for p in intent.paths):
            factor *= 1.6
        if intent.now and src.created_at:
            age_days = (datetime.now(UTC) - src.created_at).days
            factor *= 1.0 + 0.3 * math.exp(-max(age_days, 0) / 365)
        return factor

    def _follow_supersession(self, docs: dict[int, _DocScore], intent: Intent) -> None:
        """A superseded decision is history: make sure its successor ranks above it."""
        old = {d.source.external_id: d for d in docs.values() if d.source.status == "superseded"}
        if not old:
            return
        succ = sq.successors(self.store, old)
        if not succ:
            return
        ids = sq.documents_by_external_id(self.store, succ.values())
        firsts = sq.first_chunks(self.store, ids.values())
        new_sources = sq.chunk_sources(self.store, firsts.values())
        by_doc = {s.document_id: s for s in new_sources.values()}
        for old_ext, new_ext in succ.items():
            doc_id = ids.get(new_ext)
            if doc_id is None:
                continue
            floor = old[old_ext].score / 0.55 * 1.02  # the old one's score before its penalty
            if doc_id in docs:
                docs[doc_id].score = max(docs[doc_id].score, floor)
            elif doc_id in by_doc:
                src = by_doc[doc_id]
                docs[doc_id] = _DocScore(src, floor, [(floor, src)], old[old_ext].similarity)
            if doc_id in docs:
                docs[doc_id].source.meta.setdefault("supersedes", []).append(old_ext)

    def _hit(self, d: _DocScore, terms: Sequence[str], intent: Intent) -> Hit:
        src = d.source
        texts = [c.chunk_text for _, c in d.chunks[:2]]
        cues: tuple[str, ...] = ()
        if intent.why:
            cues += _WHY_CUES
        if intent.danger:
            cues += _DANGER_CUES
        snippet = best_sentences(" \n\n".join(texts), terms, cues)
        meta = dict(src.meta)
        meta.update(
            {"external_id": src.external_id, "similarity": round(d.similarity, 4),
             "lexical_match": d.lexical, "heading": src.heading}
        )  # fmt: skip
        return Hit(
            document_id=src.document_id,
            external_id=src.external_id,
            kind=src.kind,
            title=src.title,
            repo=src.repo,
            path=src.path,
            commit=src.commit,
            url=src.url,
            snippet=snippet,
            score=d.score,
            text="\n\n".join(texts),
            service=src.service,
            author=src.author,
            created_at=src.created_at,
            status=src.status,
            line=src.meta.get("line") if isinstance(src.meta.get("line"), int) else src.start_line,
            meta=meta,
        )


def _mentions(src: sq.ChunkSource, services: set[str]) -> bool:
    text = f"{src.title}\n{src.chunk_text}".lower()
    return any(s in text or s.removesuffix("-service") in text for s in services)


# Words that mark the sentence answering a "why" or a "what must I not do" question.
_WHY_CUES = ("because", "so that", "since", "to avoid", "after", "why", "instead", "caused")
_DANGER_CUES = ("do not", "don't", "never", "warning", "careful", "must not", "breaks", "legacy")


def best_sentences(
    text: str, terms: Sequence[str], cues: Sequence[str] = (), limit: int = 320
) -> str:
    """The sentences of `text` that best match the question's terms, in their order."""
    sentences = [s.strip(" -*>\t") for s in _SENTENCE.split(text) if s and s.strip(" -*>\t")]
    if not sentences:
        return text[:limit]
    stems = {_stem(t) for t in terms}

    def score(sentence: str) -> float:
        lower = sentence.lower()
        words = {_stem(w) for w in _TOKEN.findall(lower)}
        hits = len(words & stems) + 0.6 * sum(1 for c in cues if c in lower)
        if lower.startswith("#") or len(sentence) < 25:
            hits -= 0.5  # a bare heading or fragment says little on its own
        return hits + (0.1 if 30 <= len(sentence) <= 300 else 0.0)

    ranked = sorted(range(len(sentences)), key=lambda i: -score(sentences[i]))
    chosen: list[int] = []
    size = 0
    for i in ranked:
        if chosen and (score(sentences[i]) < 1 or size + len(sentences[i]) > limit):
            continue
        chosen.append(i)
        size += len(sentences[i])
        if size >= limit * 0.6:
            break
    out = " ".join(sentences[i] for i in sorted(chosen))
    return out if len(out) <= limit else out[: limit - 1].rstrip() + "…"
