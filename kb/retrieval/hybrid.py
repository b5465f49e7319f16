"""Hybrid retrieval: vector + full-text scores fused, re-ranked with what kb knows."""

from __future__ import annotations

import contextlib
import math
import re
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime

import numpy as np

from kb.embedding.embedder import Embedder
from kb.errors import ConfigError
from kb.retrieval.commit_search import CommitLog, words_of
from kb.retrieval.hits import Hit
from kb.retrieval.intent import ISO_DATE, STOPWORDS, Intent, _stem, read_intent, terms_of
from kb.store import Store
from kb.store import search as sq
from kb.store.vectors import VectorStore

VECTOR_CANDIDATES = 100
CANDIDATES = 60  # full-text candidates (bench/ask_speed.py times this top-k)
# A chunk's score: its closeness to the question, scaled between the best and the 100th
# vector hit, plus its full-text rank score scaled by the best one, weighed almost alike: on
# real repositories the words a question shares with its answer (names of files, flags,
# types) are worth about as much as its meaning (bench/README.md, "Rule ablations"); 0.85
# rather than 1 keeps the demo organisation's figures, the same on the tuning repositories.
VECTOR_WEIGHT = 1.0
LEXICAL_WEIGHT = 0.85
# A document's second-best chunk adds a little: two passages on the topic beat one.
SECOND_CHUNK_WEIGHT = 0.1
# Commits too terse to be documents, searched for history questions. A subject line holds a
# few words: one with half the question's (idf-weighted) words matches as well as a chunk can.
COMMIT_CANDIDATES = 8
COMMIT_FULL_COVERAGE = 0.5
# Multipliers for what the question names: a person the source talks about, the period
# the source dates from; a HACK/WARNING comment for a "why".
PERSON_PRIOR = 1.3
PERIOD_PRIOR = 1.3
WHY_COMMENT_PRIOR = 1.3
# A question that names code ("uniffi_bindgen", "askama.toml", "RustCallStatus") is answered by
# a comment in that code more often than the why-prior's decision records would say.
CODE_NAME_PRIOR = 1.4
# Test fixtures look like the real thing (an ADR in an integration test's sample project).
TEST_FILE_PRIOR = 0.6
# A superseded decision is history, not the answer (unless the question asks about the past).
SUPERSEDED_PRIOR = 0.55

# The re-ranking rules, by the name that switches each off (Settings.rerank_off).
RULES = (
    "kind_prior",  # the kinds of source each kind of question is answered by
    "person",  # sources that talk about the person the question names
    "period",  # sources from the period the question names
    "recent",  # newer sources for "now" questions
    "danger",  # DO NOT / WARNING comments and cue words for "never touch" questions
    "why_comment",  # a HACK/WARNING comment for a "why"
    "superseded",  # a superseded decision below its successor
    "adr_number",  # the ADR the question names by number
    "second_chunk",  # a document's second-best chunk adds a little
    "commit_search",  # history questions also search terse commit subjects
    "structural",  # a named service's decisions and danger zones join the candidates
    "test_files",  # files under a tests/fixtures/mocks directory go down
    "origin",  # "who wrote / when was X added": the commit that added the best file leads
    "code_name",  # a question that names code: code's comments go up
)

# How much each kind of source is worth for each kind of question (1.0 = neutral).
_KIND_PRIOR: dict[str, dict[str, float]] = {
    "why": {"adr": 1.45, "postmortem": 1.2, "commit": 1.15, "note": 1.3, "slack": 1.05},
    # The rule nobody wrote down was said in chat: Slack counts for "may I ...?" questions.
    "danger": {"code": 1.15, "note": 1.35, "adr": 1.1, "postmortem": 1.15, "slack": 1.3},
    "incident": {"slack": 1.35, "postmortem": 1.45, "note": 1.1},
    "who": {"code": 1.4, "commit": 1.05, "note": 1.1, "doc": 1.1},
    "howto": {"doc": 1.35, "contract": 1.2, "note": 1.15},
    "history": {"commit": 1.5, "slack": 1.1},
}


_TEST_DIR = re.compile(
    r"/(tests?|__tests__|spec|specs|fixtures?|testdata|test_data|integration[-_]tests?|e2e|"
    r"mocks?|__mocks__)/",
    re.I,
)


@dataclass
class _DocScore:
    source: sq.ChunkSource
    score: float
    chunks: list[tuple[float, sq.ChunkSource]] = field(default_factory=list)
    similarity: float = 0.0
    lexical: bool = False


class Retriever:
    """Finds the sources that answer a question; one hit per document, best first."""

    def __init__(
        self,
        store: Store,
        vectors: VectorStore,
        encoder: Embedder,
        rules_off: Collection[str] = (),
    ) -> None:
        unknown = set(rules_off) - set(RULES)
        if unknown:
            raise ConfigError(f"unknown re-ranking rules {sorted(unknown)}; known: {RULES}")
        self.off = frozenset(rules_off)
        self.store = store
        self.vectors = vectors
        self.encoder = encoder
        self._services: dict[str, str | None] | None = None
        self._people: list[str] | None = None
        self._commit_log: CommitLog | None = None
        self._last_query: tuple[str, list[float]] | None = None

    def services(self) -> list[str]:
        """Known service names (cached: services change only at ingest)."""
        return list(self.service_descriptions())

    def service_descriptions(self) -> dict[str, str | None]:
        """Known services with their catalog descriptions (cached like `services`)."""
        if self._services is None:
            self._services = sq.service_descriptions(self.store)
        return self._services

    def people(self) -> list[str]:
        """Names of the people kb knows (cached: people change only at ingest)."""
        if self._people is None:
            self._people = sq.person_names(self.store)
        return self._people

    def read_intent(self, question: str) -> Intent:
        """The question's intent, with the services and people this knowledge base knows."""
        return read_intent(question, self.service_descriptions(), self.people())

    def search(self, question: str, k: int = 8, intent: Intent | None = None) -> list[Hit]:
        """The k best sources for a question, re-ranked by what the question names."""
        intent = intent or self.read_intent(question)
        terms = terms_of(question)
        lexical = dict(sq.lexical_search(self.store, terms, CANDIDATES))
        query = self._embed_question(question)
        vector = self.vectors.query(query, VECTOR_CANDIDATES)
        similarity = {hit.id: hit.similarity for hit in vector}
        # What kb knows structurally joins the candidates even when the words differ:
        # the danger zones of a service asked about, its decisions for a "why".
        structural = [] if "structural" in self.off else self._structural_candidates(intent)
        candidates = list(dict.fromkeys([*similarity, *lexical, *structural]))
        # Every candidate is scored on both signals: a chunk found by its words alone still
        # gets its real closeness to the question (one read of its stored vector).
        unseen = [cid for cid in candidates if cid not in similarity]
        similarity.update(self._similarities(query, unseen))
        sources = sq.chunk_sources(self.store, candidates)  # vector hits unknown to SQL drop out

        # Scores, not ranks, are fused: the margin by which one chunk is closer to the
        # question than the next is evidence that rank fusion would throw away.
        top_sim = max(similarity.values(), default=0.0)
        floor_sim = vector[-1].similarity if len(vector) >= VECTOR_CANDIDATES else 0.0
        floor_sim = min(floor_sim, top_sim - 1e-6)
        top_lex = max(lexical.values(), default=0.0)

        def closeness(sim: float) -> float:
            return min(max((sim - floor_sim) / (top_sim - floor_sim), 0.0), 1.0)

        def chunk_score(cid: str) -> float:
            lex = lexical.get(cid, 0.0) / top_lex if top_lex > 0 else 0.0
            return VECTOR_WEIGHT * closeness(similarity.get(cid, floor_sim)) + LEXICAL_WEIGHT * lex

        docs: dict[int, _DocScore] = {}
        for cid in candidates:
            src = sources.get(cid)
            if src is None:
                continue
            entry = docs.setdefault(src.doc.document_id, _DocScore(src, 0.0))
            entry.chunks.append((chunk_score(cid), src))
            entry.similarity = max(entry.similarity, similarity.get(cid, 0.0))
            entry.lexical = entry.lexical or cid in lexical
        if intent.history and "commit_search" not in self.off:
            self._add_commit_messages(question, query, docs, closeness)
        for entry in docs.values():
            entry.chunks.sort(key=lambda c: -c[0])
            best = entry.chunks[0][0]
            second = entry.chunks[1][0] if len(entry.chunks) > 1 else 0.0
            if "second_chunk" in self.off:
                second = 0.0
            entry.source = entry.chunks[0][1]
            entry.score = (best + SECOND_CHUNK_WEIGHT * second) * self._prior(entry.source, intent)

        if "superseded" not in self.off:
            self._follow_supersession(docs, intent)
        ranked = _one_per_change(sorted(docs.values(), key=lambda d: -d.score))
        if intent.origin and "origin" not in self.off and ranked:
            ranked = self._lead_with_origin(ranked)
        ranked = ranked[:k]
        return [self._hit(d, terms, intent) for d in ranked]

    def _embed_question(self, question: str) -> list[float]:
        """The question's vector; the last one is kept for the answer that quotes the hits."""
        if self._last_query is None or self._last_query[0] != question:
            self._last_query = (question, list(self.encoder.embed([question])[0]))
        return self._last_query[1]

    def passages(self, question: str, hit: Hit) -> list[tuple[float, sq.Passage]]:
        """A hit's passages in document order, each with its cosine to the question."""
        if hit.document_id < 0:  # a commit that is no document: its message is all there is
            sim = float(hit.meta.get("similarity", 0.0))
            return [(sim, sq.Passage(hit.external_id, 0, None, hit.text))]
        found = sq.document_passages(self.store, hit.document_id)
        sims = self._similarities(self._embed_question(question), [p.chunk_id for p in found])
        return [(sims.get(p.chunk_id, 0.0), p) for p in found]

    def commit_log(self) -> CommitLog:
        """The commits that are not documents, indexed by their words (built on first use)."""
        if self._commit_log is None:
            self._commit_log = CommitLog(sq.commits_without_document(self.store), _stem)
        return self._commit_log

    def _add_commit_messages(
        self,
        question: str,
        query: Sequence[float],
        docs: dict[int, _DocScore],
        closeness: Callable[[float], float],
    ) -> None:
        """History questions also search the commits too terse to be documents."""
        terms = [w for w in words_of(question) if w not in STOPWORDS and len(w) > 1]
        matches = self.commit_log().search(terms, COMMIT_CANDIDATES)
        if not matches:
            return
        sources = sq.commit_sources(self.store, [m.commit.id for m in matches])
        found = [(m, sources[m.commit.id]) for m in matches if m.commit.id in sources]
        # Their words found them; their meaning is scored like any chunk's, on the subject.
        vectors = self.encoder.embed([_plain_subject(src.doc.title) for _, src in found])
        for (match, src), vec in zip(found, vectors, strict=True):
            sim = float(np.dot(np.asarray(vec), np.asarray(query)))
            score = VECTOR_WEIGHT * closeness(sim)
            score += LEXICAL_WEIGHT * min(match.coverage / COMMIT_FULL_COVERAGE, 1.0)
            docs[src.doc.document_id] = _DocScore(src, 0.0, [(score, src)], sim, True)

    def _similarities(self, query: Sequence[float], chunk_ids: Sequence[str]) -> dict[str, float]:
        """Cosine similarity of the query to chunks, from their stored vectors."""
        if not chunk_ids:
            return {}
        stored = self.vectors.get(chunk_ids)
        q = np.asarray(query, dtype=np.float32)
        q_norm = float(np.linalg.norm(q)) or 1.0
        out: dict[str, float] = {}
        for cid, (vec, _) in stored.items():
            v = np.asarray(vec, dtype=np.float32)
            out[cid] = float(v @ q) / (q_norm * (float(np.linalg.norm(v)) or 1.0))
        return out

    def _structural_candidates(self, intent: Intent) -> list[str]:
        docs: list[int] = []
        if intent.danger:
            docs += sq.service_documents(self.store, intent.services, ["code"], danger_only=True)
        if intent.why:
            docs += sq.service_documents(self.store, intent.services, ["adr"])
        return list(sq.first_chunks(self.store, docs[:40]).values())

    def _prior(self, src: sq.ChunkSource, intent: Intent) -> float:
        factor = 1.0
        kind = src.doc.kind
        on = self._on
        danger_zone = src.doc.meta.get("wisdom") == "danger_zone"
        if intent.danger and danger_zone and on("danger"):
            factor *= 1.5  # the comment that says DO NOT is the answer to "never touch"
        elif intent.why and danger_zone and on("why_comment"):
            factor *= WHY_COMMENT_PRIOR  # a HACK/WARNING comment says why the code is so
        for name, active in (
            ("why", intent.why),
            ("danger", intent.danger),
            ("incident", intent.incident),
            ("who", intent.who),
            ("howto", intent.howto),
            ("history", intent.history),
        ):
            if active and on("kind_prior"):
                factor *= _KIND_PRIOR[name].get(kind, 1.0)
        if intent.people and on("person") and _mentions_person(src, intent.people):
            factor *= PERSON_PRIOR  # the question names someone; this source talks about them
        lower = src.chunk_text.lower()
        if intent.danger and on("danger") and any(c in lower for c in _DANGER_CUES):
            factor *= 1.2
        if src.doc.status == "superseded" and not intent.past and on("superseded"):
            factor *= SUPERSEDED_PRIOR
        number = src.doc.meta.get("number")
        named = intent.adr_numbers and kind == "adr" and number in intent.adr_numbers
        if named and on("adr_number"):
            factor *= 2.0
        if intent.period and on("period") and _within(src, intent.period):
            factor *= PERIOD_PRIOR  # from the time the question is about
        if intent.code and kind == "code" and on("code_name"):
            factor *= CODE_NAME_PRIOR  # the question names code: its comments say why
        if on("test_files") and src.doc.path and _TEST_DIR.search("/" + src.doc.path):
            factor *= TEST_FILE_PRIOR  # a test's fixture or mock is rarely why the code is so
        if intent.now and on("recent") and src.doc.created_at:
            age_days = (datetime.now(UTC) - src.doc.created_at).days
            factor *= 1.0 + 0.3 * math.exp(-max(age_days, 0) / 365)
        return factor

    def _on(self, rule: str) -> bool:
        return rule not in self.off

    def _follow_supersession(self, docs: dict[int, _DocScore], intent: Intent) -> None:
        """A superseded decision is history: make sure its successor ranks above it."""
        if intent.past:
            return  # the question asks about that history
        old = {
            d.source.doc.external_id: d
            for d in docs.values()
            if d.source.doc.status == "superseded"
        }
        if not old:
            return
        succ = sq.successors(self.store, old)
        if not succ:
            return
        ids = sq.documents_by_external_id(self.store, succ.values())
        firsts = sq.first_chunks(self.store, ids.values())
        new_sources = sq.chunk_sources(self.store, firsts.values())
        by_doc = {s.doc.document_id: s for s in new_sources.values()}
        for old_ext, new_ext in succ.items():
            doc_id = ids.get(new_ext)
            if doc_id is None:
                continue
            floor = old[old_ext].score / SUPERSEDED_PRIOR * 1.02  # before its penalty
            if doc_id in docs:
                docs[doc_id].score = max(docs[doc_id].score, floor)
            elif doc_id in by_doc:
                src = by_doc[doc_id]
                docs[doc_id] = _DocScore(src, floor, [(floor, src)], old[old_ext].similarity)
            if doc_id in docs:
                docs[doc_id].source.doc.meta.setdefault("supersedes", []).append(old_ext)

    def _lead_with_origin(self, ranked: list[_DocScore]) -> list[_DocScore]:
        """Who wrote the decision, when the feature came: the commit that added the best
        source's file says both (its author and date), so it leads, the file next."""
        top = ranked[0]
        doc = top.source.doc
        if not doc.path or not doc.repo or doc.kind == "commit":
            return ranked
        commit_id = sq.first_commit(self.store, doc.repo, doc.path)
        src = sq.commit_sources(self.store, [commit_id]).get(commit_id) if commit_id else None
        if src is None:
            return ranked
        score = top.score * 1.01
        # A file's source carries the commit it was read at: only a commit's own is the same.
        same = [
            d
            for d in ranked
            if d.source.doc.kind == "commit" and d.source.doc.commit == src.doc.commit
        ]
        if same:  # already found (a commit document or a terse commit): it moves up
            same[0].score = max(same[0].score, score)
        else:
            ranked.append(_DocScore(src, score, [(score, src)], top.similarity, top.lexical))
        return sorted(ranked, key=lambda d: -d.score)

    def _hit(self, d: _DocScore, terms: Sequence[str], intent: Intent) -> Hit:
        src = d.source
        texts = [c.chunk_text for _, c in d.chunks[:2]]
        cues: tuple[str, ...] = ()
        if intent.why:
            cues += _WHY_CUES
        if intent.danger:
            cues += _DANGER_CUES
        snippet = best_sentences(" \n\n".join(texts), terms, cues)
        meta = dict(src.doc.meta)
        meta.update(
            {"external_id": src.doc.external_id, "similarity": round(d.similarity, 4),
             "lexical_match": d.lexical, "heading": src.heading}
        )  # fmt: skip
        line = src.doc.meta.get("line")
        return Hit(
            src.doc,
            snippet,
            d.score,
            text="\n\n".join(texts),
            line=line if isinstance(line, int) else src.start_line,
            meta=meta,
        )


_SUBJECT_NOISE = re.compile(
    r"\(#\d+\)|\[[^\]]*\]|(?:^|\s)#\d+\b[:-]?|^\s*[A-Z][A-Z0-9]+-\d+\s*[:-]?|\s-(?=\s|$)"
)


def _one_per_change(ranked: list[_DocScore]) -> list[_DocScore]:
    """One change landed twice (a patch applied again, a cherry-pick: the same message by the
    same author at the same time) is one source, where the better-ranked commit stands."""
    seen: set[tuple[str | None, str, str | None, datetime | None]] = set()
    out: list[_DocScore] = []
    for d in ranked:
        doc = d.source.doc
        if doc.kind == "commit":
            key = (doc.repo, doc.title, doc.author, doc.created_at)
            if key in seen:
                continue
            seen.add(key)
        out.append(d)
    return out


def _within(src: sq.ChunkSource, period: tuple[date, date]) -> bool:
    """Whether a source dates from a period: by its date, or a date in its path or title."""
    start, end = period
    if src.doc.created_at and start <= src.doc.created_at.date() < end:
        return True
    for m in ISO_DATE.finditer(f"{src.doc.path or ''} {src.doc.title}"):
        with contextlib.suppress(ValueError):
            if start <= date(int(m.group(1)), int(m.group(2)), int(m.group(3) or 1)) < end:
                return True
    return False


def _plain_subject(subject: str) -> str:
    """A commit subject without pull-request numbers, ticket ids and [tags]: what it says."""
    plain = " ".join(_SUBJECT_NOISE.sub(" ", subject).split()).strip(" -:")
    return plain or subject


def _mentions_person(src: sq.ChunkSource, people: Sequence[str]) -> bool:
    text = f"{src.doc.title}\n{src.chunk_text}".lower()
    for person in people:
        first = person.split()[0].lower()
        if person.lower() in text or re.search(rf"\b{re.escape(first)}\b", text):
            return True
    return False


_TOKEN = re.compile(r"[A-Za-z0-9_]+")
_SENTENCE = re.compile(r"(?<=[.!?])\s+|\n{2,}|\n(?=[-*#] )")
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
