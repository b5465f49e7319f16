"""`kb assess [SERVICE]`: should a service stay separate, or is it half of a distributed
monolith?

For each service kb weighs what it knows: who changed it in the last 180 days and how often
per week, the database tables it shares, its sync calls in and out, the services it changes
together with (`kb coupling`), and whether its stack differs from its neighbours'. A
neighbour it shares tables with, changes together with repeatedly and that is changed by the
same people is a merge candidate; otherwise the service keeps its boundary. The Conway check
flags changes of the service that repeatedly needed more than one owning team (catalogue
owners, CODEOWNERS): there the team boundary and the code boundary disagree.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import PurePosixPath
from typing import Any

from kb.analysis.servicemap.coupling import (
    MIN_CONFIDENCE,
    MIN_LIFT,
    ChangeSet,
    Coupling,
    change_sets,
    touched_services,
)
from kb.analysis.servicemap.graph import DATA_KINDS, SYNC_KINDS, ServiceGraph, ServiceNode
from kb.store.history import file_sizes, repo_history
from kb.store.reader import Reader
from kb.store.service_graph import ChangeCommit, change_commits

ACTIVE_DAYS = 180
CONWAY_MIN = 3  # cross-team changes before the Conway check flags a service
GENERATED_BYTES = 1_000_000  # a source file this large is generated (ingestion skips it too)
SAME_PEOPLE = 0.5  # share of active people in common that counts as "the same people"

_LANGUAGES = {
    ".py": "Python", ".go": "Go", ".java": "Java", ".kt": "Kotlin", ".kts": "Kotlin",
    ".scala": "Scala", ".js": "JavaScript", ".mjs": "JavaScript", ".jsx": "JavaScript",
    ".ts": "TypeScript", ".tsx": "TypeScript", ".cs": "C#", ".rb": "Ruby", ".rs": "Rust",
    ".php": "PHP", ".ex": "Elixir", ".exs": "Elixir", ".c": "C", ".cc": "C++", ".cpp": "C++",
    ".swift": "Swift", ".clj": "Clojure",
}  # fmt: skip


@dataclass(frozen=True)
class Reason:
    """One thing that weighs on the verdict, and the evidence for it."""

    signal: str  # people | frequency | shared_tables | sync_calls | cochange | stack | conway
    text: str
    evidence: list[str] = field(default_factory=list)
    toward: str | None = None  # the service it argues merging with, if any

    def to_json(self) -> dict[str, Any]:
        """{"signal", "text", "evidence", "toward"}."""
        return {"signal": self.signal, "text": self.text, "evidence": list(self.evidence),
                "toward": self.toward}  # fmt: skip


@dataclass
class ServiceAssessment:
    """The verdict on one service, its figures, and the reasons."""

    service: str
    verdict: str  # "keep separate" | "consider merging with X"
    merge_with: list[str]
    active_people: list[str]
    changes_per_week: float
    stack: str | None
    reasons: list[Reason]
    conway: Reason | None

    def to_json(self) -> dict[str, Any]:
        """{"service", "verdict", "merge_with", "active_people", "changes_per_week", "stack",
        "reasons", "conway"}."""
        return {
            "service": self.service,
            "verdict": self.verdict,
            "merge_with": list(self.merge_with),
            "active_people": list(self.active_people),
            "changes_per_week": round(self.changes_per_week, 2),
            "stack": self.stack,
            "reasons": [r.to_json() for r in self.reasons],
            "conway": self.conway.to_json() if self.conway else None,
        }


@dataclass
class Assessment:
    """The consolidation assessment of one service or of all of them."""

    services: list[ServiceAssessment]

    def to_json(self) -> dict[str, Any]:
        """{"services": [...]}."""
        return {"services": [s.to_json() for s in self.services]}

    def to_markdown(self) -> str:
        """A verdict per service with its reasons and evidence."""
        out = ["# Consolidation assessment", ""]
        for s in self.services:
            out += [f"## {s.service}: {s.verdict}", ""]
            stack = f", {s.stack}" if s.stack else ""
            out.append(
                f"{_people(len(s.active_people))} in the last {ACTIVE_DAYS} days "
                f"({', '.join(s.active_people[:5]) or 'nobody'}), "
                f"{s.changes_per_week:.1f} changes a week{stack}."
            )
            out.append("")
            for r in [*s.reasons, *([s.conway] if s.conway else [])]:
                out.append(f"- **{r.signal}**: {r.text}")
                out += [f"  - {e}" for e in r.evidence[:4]]
            out.append("")
        if not self.services:
            out.append("No services yet.")
        return "\n".join(out).rstrip() + "\n"


def _people(n: int) -> str:
    return "1 person" if n == 1 else f"{n} people"


def _stack(db: Reader, node: ServiceNode) -> str | None:
    if not node.repo:
        return None
    prefix = node.path.strip("/")
    langs: Counter[str] = Counter()
    history = repo_history(db, node.repo, with_changes=False)
    sizes = file_sizes(db, node.repo)
    for path, excluded in (history.files if history else {}).items():
        if excluded or (sizes.get(path) or 0) > GENERATED_BYTES:
            continue  # generated, vendored or huge files say nothing of the stack
        if prefix and not path.startswith(prefix + "/"):
            continue
        lang = _LANGUAGES.get(PurePosixPath(path).suffix.lower())
        if lang:
            langs[lang] += 1
    return langs.most_common(1)[0][0] if langs else None


def _teams(graph: ServiceGraph, node: ServiceNode) -> set[str]:
    """The owning teams of a service: its catalogue owner, else its CODEOWNERS owners."""
    return {node.owner} if node.owner else set(graph.code_owners(node))


def _commit_ref(c: ChangeCommit) -> str:
    return f"{c.repo}@{c.sha[:10]} {c.subject[:70]} ({c.author_name}, {c.authored_at:%Y-%m-%d})"


def assess(
    db: Reader, graph: ServiceGraph, names: list[str] | None, coupling: Coupling
) -> Assessment:
    """The verdict for `names` (every service when None)."""
    commits = change_commits(db) if db.exists() and db.has_table("commits") else []
    touched = touched_services(db, graph, commits)
    now = max((c.authored_at for c in commits), default=None)
    since = now - timedelta(days=ACTIVE_DAYS) if now else None
    per_service: dict[str, list[ChangeCommit]] = defaultdict(list)
    for c in commits:
        for name in touched.get(c.id, ()):
            per_service[name].append(c)
    sets = change_sets(commits, touched, timedelta(hours=coupling.window_hours))
    stacks = {s.name: _stack(db, s) for s in graph.services}
    people: dict[str, Counter[str]] = {}
    for s in graph.services:
        recent = [c for c in per_service[s.name] if since is None or c.authored_at >= since]
        people[s.name] = Counter(c.author_name for c in recent)
    out = []
    for node in graph.services:
        if names is not None and node.name not in names:
            continue
        out.append(_assess_one(graph, node, coupling, people, stacks, sets))
    return Assessment(out)


def _assess_one(
    graph: ServiceGraph,
    node: ServiceNode,
    coupling: Coupling,
    people: dict[str, Counter[str]],
    stacks: dict[str, str | None],
    sets: list[tuple[ChangeSet, set[str]]],
) -> ServiceAssessment:
    name = node.name
    mine = people[name]
    recent = sum(mine.values())
    reasons: list[Reason] = []
    signals: dict[str, set[str]] = defaultdict(set)  # neighbour -> signals toward merging
    reasons.append(Reason(
        "people", f"{_people(len(mine))} changed it in the last {ACTIVE_DAYS} days",
        [f"{who}: {n} commits" for who, n in mine.most_common(5)],
    ))  # fmt: skip
    reasons.append(Reason(
        "frequency", f"{recent / (ACTIVE_DAYS / 7):.1f} changes a week over {ACTIVE_DAYS} days"
    ))  # fmt: skip
    sync_in = [e for e in graph.edges if e.kind in SYNC_KINDS and e.to == name]
    sync_out = [e for e in graph.edges if e.kind in SYNC_KINDS and e.from_ == name]
    if sync_in or sync_out:
        reasons.append(Reason(
            "sync_calls", f"{len(sync_in)} sync calls in, {len(sync_out)} out",
            [f"{e.from_} → {e.to} {e.via}: {e.evidence[0]}" for e in [*sync_in, *sync_out]
             if e.evidence],
        ))  # fmt: skip
    for e in graph.edges:
        if e.kind in DATA_KINDS and name in (e.from_, e.to):
            other = e.to if e.from_ == name else e.from_
            signals[other].add("shared_tables")
            reasons.append(Reason("shared_tables", f"shares {e.via} with {other}",
                                  [str(loc) for loc in e.evidence], other))  # fmt: skip
    weak = []
    for p in coupling.pairs:
        if name not in p.services:
            continue
        other = p.services[1] if p.services[0] == name else p.services[0]
        if p.support < coupling.min_support:
            continue  # listed for its shared tables only (counted above)
        # Changing together is expected across a declared event or contract; it argues for
        # merging when nothing declares it, or when the two also call each other in sync.
        chatty = (
            p.confidence >= MIN_CONFIDENCE and p.lift >= MIN_LIFT
            and bool(SYNC_KINDS & set(p.declared_kinds))
        )  # fmt: skip
        if not (p.undeclared or chatty):
            weak.append(f"{other} ({p.support})")
            continue
        signals[other].add("cochange")
        label = "undeclared, " if p.undeclared else ""
        reasons.append(Reason(
            "cochange",
            f"changes together with {other} {p.support} times ({label}confidence "
            f"{p.confidence:.2f}, lift {p.lift:.2f})",
            [f"{cs.why}: " + ", ".join(f"{c.repo}@{c.sha[:10]}" for c in cs.commits)
             for cs in p.evidence],
            other,
        ))  # fmt: skip
        theirs = people.get(other, Counter())
        common = set(mine) & set(theirs)
        if mine and theirs and len(common) >= SAME_PEOPLE * min(len(mine), len(theirs)):
            signals[other].add("same_people")
            reasons.append(Reason("people", f"the same people change {other}",
                                  sorted(common), other))  # fmt: skip
    if weak:
        reasons.append(Reason("cochange", "changes now and then with " + ", ".join(weak)
                              + ": not more than chance"))  # fmt: skip
    neighbours = {e.to if e.from_ == name else e.from_ for e in graph.edges
                  if name in (e.from_, e.to) and graph.service(e.to if e.from_ == name
                                                               else e.from_)}  # fmt: skip
    mine_stack = stacks.get(name)
    other_stacks = {stacks.get(n) for n in neighbours} - {None}
    if mine_stack and other_stacks and mine_stack not in other_stacks:
        reasons.append(Reason("stack", f"{mine_stack}, unlike its neighbours "
                              f"({', '.join(sorted(s for s in other_stacks if s))})"))  # fmt: skip
    merge = sorted(
        (n for n, sig in signals.items() if {"cochange", "shared_tables"} & sig and len(sig) >= 2),
        key=lambda n: (-len(signals[n]), n),
    )
    verdict = f"consider merging with {', '.join(merge)}" if merge else "keep separate"
    return ServiceAssessment(name, verdict, merge, [w for w, _ in mine.most_common()],
                             recent / (ACTIVE_DAYS / 7), mine_stack, reasons,
                             _conway(graph, node, sets))  # fmt: skip


def _conway(
    graph: ServiceGraph, node: ServiceNode, sets: list[tuple[ChangeSet, set[str]]]
) -> Reason | None:
    """Changes of the service that spanned services of several owning teams."""
    crossing = []
    teams_seen: set[str] = set()
    for cs, services in sets:
        # One change for sure: a shared ticket, or one commit across service folders.
        one = cs.why.startswith("ticket") or len(cs.commits) == 1
        if node.name not in services or len(services) < 2 or not one:
            continue
        teams = set()
        for s in services:
            other = graph.service(s)
            if other is not None:
                teams |= _teams(graph, other)
        if len(teams) > 1:
            crossing.append(cs)
            teams_seen |= teams
    if len(crossing) < CONWAY_MIN:
        return None
    return Reason(
        "conway",
        f"{len(crossing)} changes needed several owning teams ({', '.join(sorted(teams_seen))}):"
        " the team boundary and the code boundary disagree",
        [f"{cs.why}: " + ", ".join(_commit_ref(c) for c in cs.commits[:2]) for cs in crossing[-4:]],
    )
