"""Knowledge gaps: what people asked that kb could not answer well, and who could."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from kb.errors import NotFoundError

if TYPE_CHECKING:
    from kb.app import KB


def knowledge_gaps(app: KB) -> dict[str, Any]:
    """Unanswered and down-voted questions grouped by service, with the people to ask."""
    groups: dict[str | None, list[dict[str, Any]]] = {}
    for q in app.gaps():
        entry = {
            "id": q.id,
            "question": q.question,
            "asked_at": q.asked_at.isoformat(),
            "answered": q.answered,
            "feedback": q.feedback,
            "comment": q.feedback_comment,
            "asker": q.asker,
            "channel": q.channel,
        }
        targets: list[str | None] = list(q.services) or [None]
        for target in targets:
            groups.setdefault(target, []).append(entry)
    out = []
    for service in sorted(groups, key=lambda s: (s is None, s or "")):
        ask: list[str] = []
        if service:
            # Who knows the service now: authorship and recent work, people who left out.
            try:
                ask = [e.name for e in app.experts.who(service, limit=3).current]
            except NotFoundError:
                ask = []
        out.append({"service": service, "ask": ask, "questions": groups[service]})
    return {"services": out, "total": sum(len(v) for v in groups.values())}
