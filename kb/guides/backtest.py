"""Back-testing incident plans on the incidents kb holds.

For each incident with a start, the plan is made as of that start for each of its services,
with later knowledge hidden (changes, deploys and incidents after the start; the incident
itself). The truth comes from the incident's own write-up, which the plan never sees:

- its causal change: the commits, authored before the start, that carry a ticket id or sha
  its root cause names (decision-record and incident ids are not changes);
- incidents with the same root cause: earlier incidents its root cause or resolution names.

Two figures: how often a causal change ranks in the top 3 of "recent changes", and how
often an incident with the same root cause ranks in the top 3 of "similar past incidents".
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from kb.contract.markdown import table
from kb.errors import NotFoundError
from kb.guides.incident_plan import IncidentPlan
from kb.store import history as sh
from kb.store.changes import changes_by_sha
from kb.store.reader import Reader

TOP = 3
_TICKET = re.compile(r"\b[A-Z][A-Z0-9]{1,9}-\d+\b")
_SHA = re.compile(r"(?<![0-9a-zA-Z])[0-9a-f]{7,40}(?![0-9a-zA-Z])")
_NOT_CHANGES = re.compile(r"^(ADR|RFC|INC|SEV)-", re.I)
_SEVERITY = re.compile(r"\(\s*(SEV|P)\s*-?\d\s*\)", re.I)


@dataclass
class Case:
    """One incident replayed: what its write-up names, and where the plan ranked it."""

    id: str
    started_at: datetime
    services: list[str]
    symptom: str
    causes: list[str] = field(default_factory=list)  # "repo@sha subject"
    cause_rank: int | None = None
    same_cause: list[str] = field(default_factory=list)
    same_cause_rank: int | None = None

    def to_json(self) -> dict[str, Any]:
        """The case with its ranks (1-based; null when not ranked)."""
        return {
            "id": self.id,
            "started_at": self.started_at.isoformat(),
            "services": self.services,
            "symptom": self.symptom,
            "causes": self.causes,
            "cause_rank": self.cause_rank,
            "same_root_cause": self.same_cause,
            "same_root_cause_rank": self.same_cause_rank,
        }


@dataclass
class Backtest:
    """Every case and the two top-3 rates."""

    cases: list[Case]

    def _rate(self, ranks: list[int | None]) -> float | None:
        return sum(1 for r in ranks if r is not None and r <= TOP) / len(ranks) if ranks else None

    @property
    def causal_top3(self) -> float | None:
        """Share of incidents with a named cause whose cause ranks in the top 3 of changes."""
        return self._rate([c.cause_rank for c in self.cases if c.causes])

    @property
    def similar_top3(self) -> float | None:
        """Share of recurrences whose earlier incident ranks in the top 3 of similar ones."""
        return self._rate([c.same_cause_rank for c in self.cases if c.same_cause])

    def to_json(self) -> dict[str, Any]:
        """{"causal_top3", "causal_cases", "similar_top3", "similar_cases", "cases"}."""
        return {
            "causal_top3": self.causal_top3,
            "causal_cases": sum(1 for c in self.cases if c.causes),
            "similar_top3": self.similar_top3,
            "similar_cases": sum(1 for c in self.cases if c.same_cause),
            "cases": [c.to_json() for c in self.cases],
        }

    def to_markdown(self) -> str:
        """The two figures, then one row per incident."""

        def pct(x: float | None) -> str:
            return "—" if x is None else f"{x:.2f}"

        data = self.to_json()
        lines = [
            "# Incident plan back-test",
            "",
            f"- causal change in the top {TOP} of recent changes: **{pct(self.causal_top3)}** "
            f"({data['causal_cases']} incidents name their cause)",
            f"- incident with the same root cause in the top {TOP} of similar incidents: "
            f"**{pct(self.similar_top3)}** ({data['similar_cases']} recurrences)",
            "",
        ]
        rows = [
            [c.id, c.started_at.strftime("%Y-%m-%d %H:%M"), ", ".join(c.services),
             "; ".join(c.causes) or "—", str(c.cause_rank or "—"),
             ", ".join(c.same_cause) or "—", str(c.same_cause_rank or "—")]
            for c in self.cases
        ]  # fmt: skip
        lines += table(
            ["incident", "start", "services", "cause", "rank", "same root cause", "rank"], rows
        )
        return "\n".join(lines) + "\n"


def symptom_of(title: str, label: str) -> str:
    """What was seen, from the incident's title: its id, severity and 'Postmortem:' out."""
    text = title.replace(label, " ")
    text = _SEVERITY.sub(" ", text)
    text = re.sub(r"^\s*(post-?mortem|incident)\s*:\s*", "", text, flags=re.I)
    text = re.sub(r"\(\s*\)", " ", text)
    return " ".join(text.split()).strip(" :-—") or title


def backtest(
    reader: Reader,
    plan: Callable[[str, str, datetime, timedelta, str], IncidentPlan],
    since: timedelta,
) -> Backtest:
    """Replay every incident with a start; `plan(service, symptom, at, since, exclude)`."""
    rows = sh.incident_rows(reader)
    labels = {r.label for r in rows}
    cases = []
    for row in sorted((r for r in rows if r.started_at), key=lambda r: r.started_at or 0):
        start = row.started_at
        assert start is not None
        case = Case(row.label, start, list(row.services), symptom_of(row.title, row.label))
        cause_text = row.root_cause or ""
        tickets = {t for t in _TICKET.findall(cause_text)
                   if t not in labels and not _NOT_CHANGES.match(t)}  # fmt: skip
        causes = {c.sha: c for t in sorted(tickets) for c in sh.commits_naming(reader, t)
                  if c.authored_at <= start}  # fmt: skip
        for c in changes_by_sha(reader, _SHA.findall(cause_text)):
            if c.ref.authored_at <= start:
                causes.setdefault(c.ref.sha, c.ref)
        case.causes = [f"{c.repo}@{c.sha[:8]} {c.subject}" for c in causes.values()]
        said = f"{row.root_cause or ''} {row.resolution or ''}"
        case.same_cause = [
            r.label for r in rows
            if r.label != row.label and r.label in said and r.started_at and r.started_at < start
        ]  # fmt: skip
        if not case.causes and not case.same_cause:
            continue
        changes: dict[str, float] = {}
        similar: dict[str, float] = {}
        for service in row.services:
            try:
                p = plan(service, case.symptom, start, since, row.label)
            except NotFoundError:  # a service the map does not know
                continue
            for ch in p.changes:
                key = ch.sha or ch.subject
                changes[key] = max(changes.get(key, 0.0), ch.score)
            for inc in p.similar:
                similar[inc.id] = max(similar.get(inc.id, 0.0), inc.score)
        case.cause_rank = _rank(changes, tuple(causes))
        case.same_cause_rank = _rank(similar, tuple(case.same_cause), exact=True)
        cases.append(case)
    return Backtest(cases)


def _rank(scores: dict[str, float], wanted: tuple[str, ...], exact: bool = False) -> int | None:
    """1-based rank of the best-scored key that is (or, for shas, starts with) a wanted one."""
    ranked = sorted(scores, key=lambda k: -scores[k])
    hits = (i for i, k in enumerate(ranked, 1) if (k in wanted if exact else k.startswith(wanted)))
    return next(hits, None)
