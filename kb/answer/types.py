"""What the assistant returns: answers with citations a person can open (the stable JSON)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

CITATION_KINDS = ("adr", "commit", "doc", "code", "slack", "postmortem", "contract", "note")


@dataclass
class Hit:
    """One retrieved source document (a document is returned once, with its best snippet)."""

    document_id: int
    external_id: str
    kind: str  # one of CITATION_KINDS
    title: str
    repo: str | None
    path: str | None
    commit: str | None
    url: str | None
    snippet: str
    score: float
    text: str = ""  # the best-matching chunk(s), for composing or prompting
    service: str | None = None
    author: str | None = None
    created_at: datetime | None = None
    status: str | None = None  # ADR status
    line: int | None = None
    meta: dict[str, Any] = field(default_factory=dict)


@dataclass
class Citation:
    """A source an answer rests on, in the shape of DESIGN.md's `ask --json`."""

    kind: str
    title: str
    repo: str | None
    path: str | None
    commit: str | None
    url: str | None
    snippet: str
    score: float
    number: int = 0
    author: str | None = None
    date: str | None = None
    # "answer"; "context" (a superseded decision); "implementation" (commits of a decision);
    # "closest" (shown with "I don't know"); "retrieved" (found but not cited by the LLM).
    role: str = "answer"

    def as_json(self) -> dict[str, Any]:
        """The stable citation object (extra keys are additions, never changes)."""
        return {
            "kind": self.kind,
            "title": self.title,
            "repo": self.repo,
            "path": self.path,
            "commit": self.commit,
            "url": self.url,
            "snippet": self.snippet,
            "score": round(float(self.score), 4),
            "number": self.number,
            "author": self.author,
            "date": self.date,
            "role": self.role,
        }

    @classmethod
    def from_hit(cls, hit: Hit, number: int, role: str = "answer") -> Citation:
        """Cite a retrieved source."""
        return cls(
            kind=hit.kind,
            title=hit.title,
            repo=hit.repo,
            path=hit.path,
            commit=hit.commit,
            url=hit.url,
            snippet=hit.snippet,
            score=hit.score,
            number=number,
            author=hit.author,
            date=hit.created_at.date().isoformat() if hit.created_at else None,
            role=role,
        )


@dataclass
class Person:
    """Someone to ask, with why."""

    name: str
    departed: bool
    reason: str

    def as_json(self) -> dict[str, Any]:
        """JSON form."""
        return {"name": self.name, "departed": self.departed, "reason": self.reason}


@dataclass
class Answer:
    """An answer: text with [n] markers, its citations, how sure, what to watch, whom to ask."""

    question: str
    answer: str
    confidence: float
    citations: list[Citation]
    answered: bool = True
    id: str = ""
    watch_out: list[str] = field(default_factory=list)
    ask: list[Person] = field(default_factory=list)
    services: list[str] = field(default_factory=list)
    answerer: str = "grounded"  # "grounded" (no LLM) or the LLM provider's name

    def as_json(self) -> dict[str, Any]:
        """The stable `ask --json` object (DESIGN.md), extended with extra keys only."""
        return {
            "question": self.question,
            "answer": self.answer,
            "confidence": round(float(self.confidence), 4),
            "citations": [c.as_json() for c in self.citations],
            "id": self.id,
            "answered": self.answered,
            "watch_out": self.watch_out,
            "ask": [p.as_json() for p in self.ask],
            "services": self.services,
            "answerer": self.answerer,
        }
