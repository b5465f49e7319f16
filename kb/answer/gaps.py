"""Knowledge gaps: what people asked that kb could not answer well, and who could."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from kb.errors import NotFoundError
from kb.store import questions as qs

if TYPE_CHECKING:
    from kb.analysis.experts import ExpertService
    from kb.store import Store


@dataclass
class GapGroup:
    """The open questions about one service (None: no service named), and who could answer."""

    service: str | None
    ask: list[str]
    questions: list[qs.AskedQuestion] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        """The group as `kb gaps --json` prints it."""
        return {
            "service": self.service,
            "ask": self.ask,
            "questions": [
                {
                    "id": q.id,
                    "question": q.question,
                    "asked_at": q.asked_at.isoformat(),
                    "answered": q.answered,
                    "feedback": q.feedback,
                    "comment": q.feedback_comment,
                    "asker": q.asker,
                    "channel": q.channel,
                }
                for q in self.questions
            ],
        }


@dataclass
class KnowledgeGaps:
    """Unanswered and down-voted questions grouped by service, with the people to ask."""

    groups: list[GapGroup]

    @property
    def total(self) -> int:
        """How many open questions (one asked about two services is counted twice)."""
        return sum(len(g.questions) for g in self.groups)

    def to_json(self) -> dict[str, Any]:
        """The stable `kb gaps --json` object."""
        return {"services": [g.to_json() for g in self.groups], "total": self.total}

    def to_markdown(self) -> str:
        """The gaps as a list per service."""
        if not self.groups:
            return "No knowledge gaps recorded."
        lines = ["# Knowledge gaps", ""]
        for g in self.groups:
            lines.append(f"## {g.service or '(no service)'}")
            if g.ask:
                lines.append(f"Best placed to answer: {', '.join(g.ask)}")
            lines.append("")
            for q in g.questions:
                why = "unanswered" if not q.answered else f"voted down: {q.feedback_comment or ''}"
                lines.append(f"- {q.question} ({why}, {q.asked_at.date().isoformat()}, `{q.id}`)")
            lines.append("")
        return "\n".join(lines)


class GapService:
    """Reads the open questions and names who knows each service they are about."""

    def __init__(self, store: Store, experts: ExpertService) -> None:
        self.store = store
        self.experts = experts

    def gaps(self) -> KnowledgeGaps:
        """Open questions grouped by service; the people who know each service now."""
        groups: dict[str | None, GapGroup] = {}
        for q in qs.open_questions(self.store):
            targets: list[str | None] = list(q.services) or [None]
            for target in targets:
                if target not in groups:
                    groups[target] = GapGroup(target, self._who_knows(target))
                groups[target].questions.append(q)
        ordered = sorted(groups, key=lambda s: (s is None, s or ""))
        return KnowledgeGaps([groups[s] for s in ordered])

    def _who_knows(self, service: str | None) -> list[str]:
        # Authorship and recent work; people who left are not offered.
        if not service:
            return []
        try:
            return [e.name for e in self.experts.who(service, limit=3).current]
        except NotFoundError:
            return []
