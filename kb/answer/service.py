"""The answer service: grounded answers with citations, or an honest "I don't know"."""

from __future__ import annotations

import logging
import math
import re
import uuid
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING

from kb.analysis.departure import has_departed
from kb.answer.compose import (
    BODY_CHARS,
    DANGER_CUES,
    SECOND_CHARS,
    SECOND_MIN_NEW,
    SECOND_MIN_SHARE,
    WHY_CUES,
    Scored,
    focused,
    new_share,
    sentences_of,
)
from kb.answer.types import Answer, Citation, Contact
from kb.contract.visibility import HasMeta
from kb.errors import KBError
from kb.retrieval.hits import Hit
from kb.retrieval.hybrid import Retriever
from kb.retrieval.intent import Intent, _stem, names_of, terms_of
from kb.store import Store, history
from kb.store import questions as qs
from kb.store import search as sq
from kb.store.models import WisdomKind
from kb.store.reader import Reader

if TYPE_CHECKING:
    from kb.analysis.experts import ExpertService
    from kb.answer.llm import LLMAnswerer

log = logging.getLogger(__name__)

# Below this confidence kb says it doesn't know (and records a knowledge gap).
MIN_CONFIDENCE = 0.4
# A source is part of the answer only if it scores at least this share of the best one.
RELATIVE_FLOOR = 0.5
_TOKEN = re.compile(r"[A-Za-z0-9_]+")
_WATCH_KINDS = (WisdomKind.DANGER_ZONE, WisdomKind.KNOWN_ISSUE, WisdomKind.UNWRITTEN_RULE)


def confidence_of(
    hits: Sequence[Hit], terms: Sequence[str], frequencies: tuple[int, dict[str, int]]
) -> float:
    """How well the best sources answer, 0..1: semantic closeness and rare-word coverage.

    Coverage weighs each question word by its rarity (IDF): a question whose distinctive
    words ("tombstone", "GPU quota") appear in no source is one kb cannot answer, however
    close its common words come.
    """
    if not hits or not terms:
        return 0.0
    total, df = frequencies
    weights = {_stem(t): math.log((total + 1) / (df.get(t, 0) + 0.5)) for t in terms}
    mass = sum(weights.values()) or 1.0
    best_cov = 0.0
    for hit in hits[:3]:
        words = {_stem(w) for w in _TOKEN.findall((hit.title + " " + hit.text).lower())}
        best_cov = max(best_cov, sum(w for t, w in weights.items() if t in words) / mass)
    similarity = max(float(h.meta.get("similarity", 0.0)) for h in hits[:3])
    semantic = min(max((similarity - 0.25) / 0.4, 0.0), 1.0)
    return round(0.5 * semantic + 0.5 * best_cov, 4)


class AnswerService:
    """Answers questions from the stores; the CLI, bot, dashboard and MCP server share it."""

    def __init__(
        self,
        store: Store,
        reader: Reader,
        retriever: Retriever,
        llm: LLMAnswerer | None = None,
        departed_after_days: int = 270,
        experts: ExpertService | None = None,
    ) -> None:
        self.store = store
        self.reader = reader
        self.retriever = retriever
        self.llm = llm
        self.departed_after_days = departed_after_days
        self.experts = experts

    def ask(
        self,
        question: str,
        k: int = 5,
        asker: str | None = None,
        channel: str | None = None,
        surface: str = "cli",
        record: bool = True,
        visible: Callable[[HasMeta], bool] | None = None,
    ) -> Answer:
        """Answer a question with cited sources; records it (and any gap) unless told not to.

        `visible`, when given, keeps only the sources it accepts (a surface's reader may not
        see every private channel kb holds).
        """
        question = question.strip()
        terms = terms_of(question)
        intent = self.retriever.read_intent(question)
        hits = self.retriever.search(question, k=max(k, 8), intent=intent) if terms else []
        if visible is not None:
            hits = [hit for hit in hits if visible(hit.source)]
        frequencies = sq.term_frequencies(self.store, terms)
        confidence = confidence_of(hits, terms, frequencies)
        services = self._services(intent, hits)
        # A question about something nothing here mentions ("GraphQL", "Erlang") cannot be
        # answered from these sources, however close its other words come. A name whose words
        # the full-text index holds is mentioned; the others are looked for as substrings
        # ("DTO" in "AdrDto.ts").
        counts = frequencies[1]
        rare = [n for n in names_of(question) if not all(counts.get(w) for w in terms_of(n))]
        unknown = sq.unmentioned(self.store, rare) if hits and rare else []
        # "Who took over the email service?" is answered by the people of a service kb knows,
        # and "Can I rename a column in inventory's stock table?" by a danger zone of it that
        # leads the sources, however loosely the texts match the question's words.
        by_people = intent.who and bool(intent.services) and confidence < MIN_CONFIDENCE
        by_danger = bool(hits) and intent.danger and _names_service(hits[0], intent.services)
        by_danger = by_danger and hits[0].meta.get("wisdom") == "danger_zone"
        answer = None
        if hits and not unknown and (confidence >= MIN_CONFIDENCE or by_people or by_danger):
            answer = self._grounded(question, hits[:k], confidence, intent, services, visible)
            if by_people and not answer.ask:
                answer = None
            elif self.llm is not None:
                self._rewrite_with_llm(answer, hits[:k])
        if answer is None:
            answer = self._dont_know(question, hits[:3], confidence, services, unknown)
        answer.id = uuid.uuid4().hex[:12]
        if record:
            qs.record_question(
                self.store,
                answer.id,
                {
                    "question": question,
                    "answer": answer.answer,
                    "confidence": answer.confidence,
                    "citations": [c.to_json() for c in answer.citations],
                    "answered": answer.answered,
                    "services": services,
                    "asker": asker,
                    "channel": channel,
                    "surface": surface,
                },
            )
        return answer

    # -- composing -----------------------------------------------------------------------

    def _services(self, intent: Intent, hits: Sequence[Hit]) -> list[str]:
        if intent.services:
            return list(intent.services)
        known = set(self.retriever.services())
        out: list[str] = []
        for hit in hits[:3]:
            name = hit.service or hit.repo
            if name in known and name not in out:
                out.append(name)
        return out[:2]

    def _dont_know(
        self,
        question: str,
        closest: Sequence[Hit],
        confidence: float,
        services: list[str],
        unknown: Sequence[str] = (),
    ) -> Answer:
        if unknown:
            named = ", ".join(unknown)
            lines = [f"I don't know: nothing in the knowledge base mentions {named}."]
        else:
            lines = ["I don't know: nothing in the knowledge base answers this with confidence."]
        if closest:
            lines.append("The closest sources I found:")
            lines.extend(f"- {h.title} [{i}]" for i, h in enumerate(closest, start=1))
        lines.append(
            'If you know the answer, teach it: kb remember "..."'
            + (f" --service {services[0]}" if services else "")
        )
        return Answer(
            question=question,
            answer="\n".join(lines),
            confidence=confidence,
            citations=[
                Citation.from_hit(h, i, role="closest") for i, h in enumerate(closest, start=1)
            ],
            answered=False,
            services=services,
        )

    def _grounded(
        self,
        question: str,
        hits: Sequence[Hit],
        confidence: float,
        intent: Intent,
        services: list[str],
        visible: Callable[[HasMeta], bool] | None = None,
    ) -> Answer:
        # The reader at 3 AM reads the first sources: keep only those close to the best.
        floor = RELATIVE_FLOOR * hits[0].score if hits else 0.0
        kept = [h for h in hits if h.score >= floor or h.status == "superseded"]
        ordered = self._decision_order(kept)
        citations: list[Citation] = []
        for hit in ordered:
            role = "context" if hit.status == "superseded" else "answer"
            citations.append(Citation.from_hit(hit, len(citations) + 1, role=role))
        self._cite_implementing_commits(ordered, citations)
        people = self._people(intent, ordered, services)
        parts: list[str] = []
        if intent.who and people:
            parts.append(self._who_line(people))
        budget = BODY_CHARS - sum(len(p) + 2 for p in parts)
        parts.append(self._compose(question, ordered, intent, budget))
        watch = self._watch_out(services, question, visible)
        if watch:
            parts.append("Watch out:\n" + "\n".join(f"- {w}" for w in watch))
        if people and not intent.who:
            parts.append("Ask: " + "; ".join(_person_text(p) for p in people))
        return Answer(
            question=question,
            answer="\n\n".join(p for p in parts if p),
            confidence=confidence,
            citations=citations,
            watch_out=watch,
            ask=people,
            services=services,
        )

    @staticmethod
    def _decision_order(hits: list[Hit]) -> list[Hit]:
        """A superseded decision goes after the decision that replaced it."""
        by_ext = {h.external_id: h for h in hits}
        ordered: list[Hit] = []
        for hit in hits:
            if hit.status == "superseded" and any(
                hit.external_id in (other.meta.get("supersedes") or []) for other in hits
            ):
                continue  # placed right after its successor below
            ordered.append(hit)
            for old in hit.meta.get("supersedes") or []:
                if old in by_ext and by_ext[old] not in ordered:
                    ordered.append(by_ext[old])
        ordered.extend(h for h in hits if h not in ordered)
        return ordered

    def _compose(self, question: str, hits: Sequence[Hit], intent: Intent, budget: int) -> str:
        """The lead source's sentences on the question; a second source's if it adds to them."""
        if not hits:
            return ""
        terms = terms_of(question)
        cues = (WHY_CUES if intent.why else ()) + (DANGER_CUES if intent.danger else ())
        lead = hits[0]
        lead_passages = self._scored(question, lead)
        room = budget - len(self._sentence(lead, 1, ""))
        second_text = ""
        second_n = 0
        first = focused(lead_passages, terms, cues, room - SECOND_CHARS)
        for n, hit in enumerate(hits[1:3], start=2):
            if hit.score < SECOND_MIN_SHARE * lead.score and hit.status != "superseded":
                continue
            limit = SECOND_CHARS - len(self._sentence(hit, n, ""))
            text = focused(self._scored(question, hit), terms, cues, limit, sentences_of(first))
            if text and new_share(text, first) >= SECOND_MIN_NEW:
                second_text, second_n = text, n
                break
        if not second_text:
            first = focused(lead_passages, terms, cues, room)
        out = self._sentence(lead, 1, first or lead.snippet)
        if second_text:
            out += " " + self._sentence(hits[second_n - 1], second_n, second_text)
        return out

    def _scored(self, question: str, hit: Hit) -> list[Scored]:
        try:
            found = self.retriever.passages(question, hit)
        except KBError:
            found = []
        if not found:
            return [
                Scored(float(hit.meta.get("similarity", 0.0)), None, hit.text or hit.snippet, 0)
            ]
        return [Scored(sim, p.heading, p.text, p.ordinal) for sim, p in found]

    @staticmethod
    def _sentence(hit: Hit, n: int, text: str) -> str:
        snippet = " ".join(text.split())
        if hit.kind == "commit" and hit.commit:
            by = f" by {hit.author}" if hit.author else ""
            when = f" on {hit.created_at.date().isoformat()}" if hit.created_at else ""
            return f"Commit {hit.commit[:10]}{by}{when}: {snippet} [{n}]"
        if hit.kind == "code" and hit.path:
            return f"{hit.path}: {snippet} [{n}]"
        if hit.kind == "note" and hit.author:
            when = f" on {hit.created_at.date().isoformat()}" if hit.created_at else ""
            if hit.meta.get("origin") == "agent_taught":  # no person vouches for it
                return f"As {hit.author} (a coding agent) noted{when}: {snippet} [{n}]"
            return f"As {hit.author} explained{when}: {snippet} [{n}]"
        if hit.status == "superseded":
            return f"Earlier, {hit.title} (since superseded) said: {snippet} [{n}]"
        if hit.kind in ("adr", "doc", "postmortem", "contract"):
            return f"{hit.title}: {snippet} [{n}]"
        return f"{snippet} [{n}]"

    def _cite_implementing_commits(self, hits: Sequence[Hit], citations: list[Citation]) -> None:
        """A decision's answer links the commits that implemented it, when they name it."""
        for hit in hits[:2]:
            number = hit.meta.get("number")
            if hit.kind != "adr" or not isinstance(number, int) or hit.status == "superseded":
                continue
            needles = [f"ADR-{number:04d}", f"ADR-{number}", f"ADR {number}"]
            cited = {c.commit for c in citations if c.commit}
            for ext in sq.commits_mentioning(self.store, needles, limit=3):
                ids = sq.documents_by_external_id(self.store, [ext])
                firsts = sq.first_chunks(self.store, ids.values())
                for src in sq.chunk_sources(self.store, firsts.values()).values():
                    if not src.doc.commit or src.doc.commit in cited:
                        continue
                    number = len(citations) + 1
                    snippet = src.chunk_text[:240]
                    citations.append(Citation(src.doc, snippet, 0.0, number, "implementation"))
                    if src.doc.commit:
                        cited.add(src.doc.commit)

    def _watch_out(
        self,
        services: Sequence[str],
        question: str,
        visible: Callable[[HasMeta], bool] | None = None,
    ) -> list[str]:
        if not services:
            return []
        items = sq.wisdom(self.store, services=services, kinds=_WATCH_KINDS)
        if visible is not None:  # a private channel's warning stays with its members too
            items = [i for i in items if visible(i)]
        wanted = {_stem(t) for t in terms_of(question)}
        severity = {"critical": 3, "high": 2, "medium": 1, "low": 0}

        def rank(item: sq.WisdomItem) -> tuple[int, int]:
            words = {_stem(w) for w in _TOKEN.findall((item.title + " " + item.body).lower())}
            return (len(words & wanted), severity.get(item.severity, 0))

        out: list[str] = []
        for item in sorted(items, key=rank, reverse=True)[:3]:
            where = ""
            if item.path:
                where = f" ({item.repo + ':' if item.repo else ''}{item.path}"
                where += f":{item.line})" if item.line else ")"
            label = item.kind.replace("_", " ")
            out.append(f"{label}: {item.title}{where}")
        return out

    # -- people ---------------------------------------------------------------------------

    def _people(
        self, intent: Intent, hits: Sequence[Hit], services: Sequence[str]
    ) -> list[Contact]:
        """Who knows this area now, by authorship; people who left are marked."""
        if self.experts is not None:
            experts = self._experts(hits, services)
            if experts:
                return experts
        now = history.latest_activity(self.reader)
        if now is None:
            return []
        paths = [h.path for h in hits[:3] if h.path and h.kind in ("code", "doc", "adr")]
        repo = (hits[0].repo if hits else None) or (services[0] if services else None)
        rows = sq.contributors(self.store, repo=repo, paths=paths) if paths else []
        if not rows and repo:
            rows = sq.contributors(self.store, repo=repo)
        people: list[Contact] = []
        for c in rows:
            if c.is_bot:
                continue
            left = self._departed(c, now)
            since = c.last_commit.date().isoformat() if c.last_commit else "?"
            what = f"{c.commits} commits to {'these files' if paths else repo}, last {since}"
            people.append(Contact(name=c.name, departed=left, reason=what))
        active = [p for p in people if not p.departed][:3]
        gone = [p for p in people if p.departed][:2]
        return active + gone

    def _experts(self, hits: Sequence[Hit], services: Sequence[str]) -> list[Contact]:
        """The people of the cited files (degree of authorship, recent commits, threads)."""
        from kb.analysis.experts import Area

        assert self.experts is not None
        top = hits[:3]
        areas = [
            Area(h.repo, h.path, weight=1.0 / (1 + i))
            for i, h in enumerate(top)
            if h.repo and h.path and h.kind in ("code", "doc", "adr", "contract", "postmortem")
        ]
        if not areas:
            repo = (top[0].repo if top else None) or (services[0] if services else None)
            if repo is None:
                return []
            areas = [Area(repo, "")]
        threads = [h.source for h in top if h.kind == "slack"]
        try:
            found = self.experts.for_areas("", "answer", areas, threads, limit=3)
        except KBError:  # a repo kb no longer has: fall back to commit counts
            return []
        return [Contact(name=e.name, departed=e.departed, reason=e.reason()) for e in found.people]

    def _departed(self, c: sq.Contributor, now: datetime) -> bool:
        return has_departed(c.left_at, c.last_activity, now, self.departed_after_days)

    @staticmethod
    def _who_line(people: Sequence[Contact]) -> str:
        active = [p for p in people if not p.departed]
        gone = [p for p in people if p.departed]
        text = ""
        if active:
            text = "Who knows this now: " + "; ".join(_person_text(p) for p in active) + "."
        if gone:  # named only: they cannot be asked, and the answer's room is the sources'
            verb = "has" if len(gone) == 1 else "have"
            text += f" Also wrote it, but {verb} left: " + ", ".join(p.name for p in gone) + "."
        return text.strip()

    # -- LLM --------------------------------------------------------------------------------

    def _rewrite_with_llm(self, answer: Answer, hits: Sequence[Hit]) -> None:
        """Let the configured LLM phrase the answer from the same sources; keep ours if not."""
        assert self.llm is not None
        numbered = self._decision_order(list(hits))
        result = self.llm.answer(answer.question, numbered)
        if result is None:
            return
        cited = set(result.cited)
        extra = ""
        if answer.watch_out:
            extra += "\n\nWatch out:\n" + "\n".join(f"- {w}" for w in answer.watch_out)
        if answer.ask:  # who to ask, and who has left, is ours to say, not the model's
            extra += "\n\nAsk: " + "; ".join(_person_text(p) for p in answer.ask)
        answer.answer = result.text + extra
        answer.answerer = self.llm.name
        for c in answer.citations:
            if c.number not in cited and c.role == "answer":
                c.role = "retrieved"


def _names_service(hit: Hit, services: Sequence[str]) -> bool:
    return bool(services) and (hit.service in services or hit.repo in services)


def _person_text(p: Contact) -> str:
    return f"{p.name}{' (left)' if p.departed else ''} — {p.reason}"
