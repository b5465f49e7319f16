"""Questions asked of kb: answers given, feedback received, knowledge gaps."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import or_, select

from kb.errors import NotFoundError
from kb.store.models import Feedback, Question, utcnow
from kb.store.store import Store


@dataclass(frozen=True)
class AskedQuestion:
    """A stored question and what became of it."""

    id: str
    asked_at: datetime
    question: str
    answered: bool
    confidence: float
    services: list[str]
    feedback: str | None
    feedback_comment: str | None
    asker: str | None
    channel: str | None


def record_question(store: Store, qid: str, values: dict[str, Any]) -> None:
    """Store an asked question with its answer (values: the Question columns)."""
    with store.transaction() as s:
        s.add(Question(id=qid, **values))


def set_feedback(store: Store, qid: str, vote: Feedback, comment: str | None) -> None:
    """Record 👍/👎 (and a comment) on an answer."""
    with store.transaction() as s:
        row = s.get(Question, qid)
        if row is None:
            raise NotFoundError(
                f"no answer with id {qid!r}: the id is printed under each answer "
                '(and in `kb ask --json` as "id")'
            )
        row.feedback = vote
        row.feedback_comment = comment
        row.feedback_at = utcnow()


def open_questions(store: Store) -> list[AskedQuestion]:
    """Questions kb could not answer, or whose answer was voted down, newest first."""
    with store.transaction() as s:
        rows = s.scalars(
            select(Question)
            .where(or_(Question.answered.is_(False), Question.feedback == Feedback.DOWN))
            .order_by(Question.asked_at.desc())
        )
        return [
            AskedQuestion(
                id=q.id,
                asked_at=q.asked_at,
                question=q.question,
                answered=q.answered,
                confidence=q.confidence,
                services=list(q.services or []),
                feedback=q.feedback.value if q.feedback else None,
                feedback_comment=q.feedback_comment,
                asker=q.asker,
                channel=q.channel,
            )
            for q in rows
        ]
