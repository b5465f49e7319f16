"""What the assistant returns: answers with citations a person can open (the stable JSON)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from kb.retrieval.hits import Hit
from kb.store.search import SourceFields, SourceRef

CITATION_KINDS = ("adr", "commit", "doc", "code", "slack", "postmortem", "contract", "note")


@dataclass
class Citation(SourceFields):
    """A source an answer rests on, numbered as the answer's [n] markers name it."""

    source: SourceRef
    snippet: str
    score: float
    number: int = 0
    # "answer"; "context" (a superseded decision); "implementation" (commits of a decision);
    # "closest" (shown with "I don't know"); "retrieved" (found but not cited by the LLM).
    role: str = "answer"

    @property
    def date(self) -> str | None:
        created = self.source.created_at
        return created.date().isoformat() if created else None

    @property
    def where(self) -> str:
        """Where to open it: its web link, else repo, path and short commit."""
        if self.url:
            return self.url
        commit = (self.commit or "")[:10] or None
        return " ".join(x for x in (self.repo, self.path, commit) if x)

    def to_json(self) -> dict[str, Any]:
        """The stable citation object of `ask --json` (extra keys are additions only)."""
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

    def to_markdown(self) -> str:
        """One line: [n] kind: title, linked when it has a web link."""
        title = self.title.replace("[", "(").replace("]", ")")
        label = f"[{title}]({self.url})" if self.url else title
        where = "" if self.url else f" ({self.where})" if self.where else ""
        extra = f" — {self.role}" if self.role != "answer" else ""
        return f"[{self.number}] {self.kind}: {label}{where}{extra}"

    @classmethod
    def from_hit(cls, hit: Hit, number: int, role: str = "answer") -> Citation:
        """Cite a retrieved source."""
        return cls(hit.source, hit.snippet, hit.score, number=number, role=role)


@dataclass
class Contact:
    """Someone to ask about an answer's area, and why them."""

    name: str
    departed: bool
    reason: str

    def to_json(self) -> dict[str, Any]:
        """JSON form."""
        return {"name": self.name, "departed": self.departed, "reason": self.reason}

    def to_markdown(self) -> str:
        """The person, marked if they left, and why them."""
        left = " (has left)" if self.departed else ""
        return f"**{self.name}**{left}: {self.reason}"


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
    ask: list[Contact] = field(default_factory=list)
    services: list[str] = field(default_factory=list)
    answerer: str = "grounded"  # "grounded" (no LLM) or the LLM provider's name

    def to_json(self) -> dict[str, Any]:
        """The stable `ask --json` object, extended with extra keys only."""
        return {
            "question": self.question,
            "answer": self.answer,
            "confidence": round(float(self.confidence), 4),
            "citations": [c.to_json() for c in self.citations],
            "id": self.id,
            "answered": self.answered,
            "watch_out": self.watch_out,
            "ask": [p.to_json() for p in self.ask],
            "services": self.services,
            "answerer": self.answerer,
        }

    def to_markdown(self) -> str:
        """The answer, its sources as a numbered list, and how sure kb is."""
        lines = [self.answer.strip(), ""]
        if self.citations:
            lines += ["**Sources**", ""]
            lines += [f"- {c.to_markdown()}" for c in self.citations]
            lines.append("")
        lines.append(f"_confidence {self.confidence:.2f} · answer id `{self.id}`_")
        return "\n".join(lines) + "\n"
