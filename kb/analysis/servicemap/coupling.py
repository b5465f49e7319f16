"""`kb coupling`: services that change together, and those no dependency explains.

Commits are grouped into change sets: commits naming the same ticket id, and commits by the
same person less than a short window apart (a working session), are one change. A change set
touches every service whose code one of its commits changed (a whole repository, or a
service's folder of a monorepo). Two services that keep appearing in the same change sets
are coupled: support is how many change sets they share, confidence how often a change of one
comes with the other, lift how much more often than chance.

Change sets touching more than four services (framework upgrades, renames, clean-ups) say
nothing of any two of them and are left out.

A pair that changes together repeatedly (support >= the minimum) under shared tickets, or
more often than chance (lift >= 1.5) in most of one side's cross-service changes
(confidence >= 0.5), with no declared dependency between them (a call, an event, a
library) is an undeclared dependency, a "distributed monolith" sign; so is a pair of
services sharing database tables.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from kb.analysis.servicemap.graph import DATA_KINDS, ServiceGraph
from kb.store.reader import Reader
from kb.store.service_graph import ChangeCommit, change_commits, changed_paths

EVIDENCE_SETS = 5  # change sets shown per pair
# "Strong" co-change: repeatedly under one ticket, or more often than chance among the
# changes that span services and in most of the cross-service changes of one of the two.
MIN_LIFT = 1.5
MIN_CONFIDENCE = 0.5
# A change set touching more services than this is a sweep (a framework upgrade, a rename, a
# lint pass), not two services needing each other; co-change mining leaves such out.
MAX_SERVICES = 4


@dataclass(frozen=True)
class ChangeSet:
    """Commits that are one change: why they are grouped, and the commits."""

    why: str  # "ticket DATA-101" | "same author within 35 min" | "one commit"
    commits: tuple[ChangeCommit, ...]

    def to_json(self) -> dict[str, Any]:
        """{"why", "commits": [{"repo", "sha", "subject", "author", "date"}]}."""
        return {
            "why": self.why,
            "commits": [
                {"repo": c.repo, "sha": c.sha, "subject": c.subject, "author": c.author_name,
                 "date": c.authored_at.isoformat()}
                for c in self.commits
            ],
        }  # fmt: skip


@dataclass
class CouplingPair:
    """Two services that change together (or share tables), with the numbers and evidence."""

    services: tuple[str, str]
    support: int
    confidence: float  # the larger of P(b | a) and P(a | b)
    lift: float
    tickets: int  # how many of the change sets a shared ticket id made
    declared: bool
    declared_kinds: list[str]
    shared_tables: list[str]
    undeclared: bool
    evidence: list[ChangeSet] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        """{"services", "support", "confidence", "lift", "tickets", "declared", "declared_kinds",
        "shared_tables", "undeclared", "evidence"}."""
        return {
            "services": list(self.services),
            "support": self.support,
            "confidence": round(self.confidence, 3),
            "lift": round(self.lift, 2),
            "tickets": self.tickets,
            "declared": self.declared,
            "declared_kinds": list(self.declared_kinds),
            "shared_tables": list(self.shared_tables),
            "undeclared": self.undeclared,
            "evidence": [c.to_json() for c in self.evidence],
        }


@dataclass
class Coupling:
    """Every pair at or above the minimum support (and every pair sharing tables)."""

    min_support: int
    window_hours: float
    change_sets: int
    pairs: list[CouplingPair]
    sweeping: int = 0  # change sets left out for touching more than MAX_SERVICES services

    def to_json(self) -> dict[str, Any]:
        """{"min_support", "window_hours", "change_sets", "sweeping", "pairs": [...]}."""
        return {
            "min_support": self.min_support,
            "window_hours": self.window_hours,
            "change_sets": self.change_sets,
            "sweeping": self.sweeping,
            "pairs": [p.to_json() for p in self.pairs],
        }

    def to_markdown(self) -> str:
        """Undeclared dependencies first, then the declared pairs, with evidence commits."""
        out = [
            "# Services that change together",
            "",
            f"{self.change_sets} change sets (one ticket, or one person's commits less than "
            f"{self.window_hours:g} h apart); pairs sharing at least {self.min_support}. "
            f"{self.sweeping} sweeping change sets (more than {MAX_SERVICES} services: "
            "upgrades, renames, clean-ups) are left out.",
            "",
        ]
        flagged = [p for p in self.pairs if p.undeclared]
        if flagged:
            out += ["## Undeclared dependencies", ""]
            for p in flagged:
                out.append(f"- **{p.services[0]} ↔ {p.services[1]}**: {_numbers(p)}")
                if p.shared_tables:
                    out.append(f"  - share tables: {', '.join(p.shared_tables)}")
                for cs in p.evidence:
                    shas = ", ".join(f"{c.repo}@{c.sha[:10]}" for c in cs.commits)
                    out.append(f"  - {cs.why}: {shas} ({cs.commits[0].subject[:70]})")
            out.append("")
        rest = [p for p in self.pairs if not p.undeclared]
        if rest:
            out += ["## Other pairs", "", "| services | support | confidence | lift | declared |",
                    "| --- | --- | --- | --- | --- |"]  # fmt: skip
            for p in rest:
                out.append(
                    f"| {' ↔ '.join(p.services)} | {p.support} | {p.confidence:.2f} | "
                    f"{p.lift:.2f} | {', '.join(p.declared_kinds) or 'no'} |"
                )
        if not self.pairs:
            out.append("No two services change together that often.")
        return "\n".join(out).rstrip() + "\n"


def _numbers(p: CouplingPair) -> str:
    shared = f" ({p.tickets} by a shared ticket)" if p.tickets else ""
    return f"{p.support} changes together{shared}, confidence {p.confidence:.2f}, lift {p.lift:.2f}"


def _service_index(graph: ServiceGraph) -> dict[str, list[tuple[str, str]]]:
    """repo -> [(path prefix, service)], longest prefix first."""
    out: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for s in graph.services:
        if s.repo:
            prefix = s.path.strip("/")
            out[s.repo].append((prefix + "/" if prefix else "", s.name))
    for prefixes in out.values():
        prefixes.sort(key=lambda p: -len(p[0]))
    return out


def touched_services(
    db: Reader, graph: ServiceGraph, commits: list[ChangeCommit]
) -> dict[int, set[str]]:
    """commit id -> the services whose code it changed."""
    index = _service_index(graph)
    out: dict[int, set[str]] = {}
    for c in commits:
        prefixes = index.get(c.repo)
        if prefixes and len(prefixes) == 1 and prefixes[0][0] == "":
            out[c.id] = {prefixes[0][1]}  # the whole repository is one service
    for repo, prefixes in index.items():
        if len(prefixes) == 1 and prefixes[0][0] == "":
            continue
        for cid, path in changed_paths(db, repo):
            for prefix, name in prefixes:
                if path.startswith(prefix):
                    out.setdefault(cid, set()).add(name)
                    break
    return out


def change_sets(
    commits: list[ChangeCommit], touched: dict[int, set[str]], window: timedelta
) -> list[tuple[ChangeSet, set[str]]]:
    """Group commits into change sets (union of shared tickets and same-author sessions)."""
    parent = {c.id: c.id for c in commits if c.id in touched}

    def find(x: int) -> int:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    def union(a: int, b: int) -> None:
        ra, rb = find(a), find(b)
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)

    by_ticket: dict[str, int] = {}
    last_by_author: dict[str, ChangeCommit] = {}
    why: dict[int, str] = {}
    for c in commits:  # oldest first
        if c.id not in parent:
            continue
        for t in c.tickets:
            if t in by_ticket:
                union(by_ticket[t], c.id)
                why.setdefault(c.id, f"ticket {t}")
            else:
                by_ticket[t] = c.id
        prev = last_by_author.get(c.author)
        if prev is not None and c.authored_at - prev.authored_at <= window:
            minutes = int((c.authored_at - prev.authored_at).total_seconds() // 60)
            if find(prev.id) != find(c.id):
                why.setdefault(c.id, f"same author within {minutes} min")
            union(prev.id, c.id)
        last_by_author[c.author] = c
    groups: dict[int, list[ChangeCommit]] = defaultdict(list)
    for c in commits:
        if c.id in parent:
            groups[find(c.id)].append(c)
    out = []
    for members in groups.values():
        services = set().union(*(touched[c.id] for c in members))
        reasons = sorted({why[c.id] for c in members if c.id in why})
        label = "; ".join(reasons[:2]) if reasons else "one commit"
        out.append((ChangeSet(label, tuple(members)), services))
    return out


def stored_change_sets(
    db: Reader, graph: ServiceGraph, window_hours: float
) -> list[tuple[ChangeSet, set[str]]]:
    """The change sets of every stored commit that touched a service, with those services
    (computed once per graph read: every `kb impact` of a long-lived server needs them)."""
    key = ("change_sets", window_hours)
    if key not in graph.derived:
        commits = change_commits(db) if db.exists() and db.has_table("commits") else []
        touched = touched_services(db, graph, commits)
        graph.derived[key] = change_sets(commits, touched, timedelta(hours=window_hours))
    sets: list[tuple[ChangeSet, set[str]]] = graph.derived[key]
    return sets


def coupling(
    db: Reader, graph: ServiceGraph, min_support: int = 3, window_hours: float = 0.5
) -> Coupling:
    """Pairs of services that change together, undeclared ones flagged."""
    return score_pairs(stored_change_sets(db, graph, window_hours), graph, min_support,
                       window_hours)  # fmt: skip


def score_pairs(
    sets: list[tuple[ChangeSet, set[str]]],
    graph: ServiceGraph,
    min_support: int = 3,
    window_hours: float = 0.5,
) -> Coupling:
    """Support, confidence and lift of each pair of services over the change sets."""
    # The base rates are those of changes that span services: most change sets touch one
    # service only, and against them every pair would look rarer than chance.
    per_service: dict[str, int] = defaultdict(int)
    together: dict[tuple[str, str], list[ChangeSet]] = defaultdict(list)
    cross = sweeping = 0
    for cs, services in sets:
        if len(services) < 2:
            continue
        if len(services) > MAX_SERVICES:  # an upgrade, a rename, a lint pass: no coupling
            sweeping += 1
            continue
        cross += 1
        for s in services:
            per_service[s] += 1
        names = sorted(services)
        for i, a in enumerate(names):
            for b in names[i + 1 :]:
                together[(a, b)].append(cs)
    declared: dict[tuple[str, str], set[str]] = defaultdict(set)
    tables: dict[tuple[str, str], list[str]] = defaultdict(list)
    for e in graph.edges:
        key = (min(e.from_, e.to), max(e.from_, e.to))
        if e.kind in DATA_KINDS:
            tables[key].append(e.via)
        else:
            declared[key].add(e.kind)
    total = cross or 1
    pairs = []
    for key in sorted(set(together) | set(tables)):
        shared = together.get(key, [])
        support = len(shared)
        if support < min_support and key not in tables:
            continue
        a, b = key
        na, nb = per_service[a] or 1, per_service[b] or 1
        lift = support * total / (na * nb)
        is_declared = bool(declared.get(key))
        confidence = max(support / na, support / nb)
        tickets = sum(1 for cs in shared if cs.why.startswith("ticket"))
        strong = tickets >= min_support or (
            support >= min_support and lift >= MIN_LIFT and confidence >= MIN_CONFIDENCE
        )
        evidence = sorted(shared, key=lambda cs: cs.commits[-1].authored_at, reverse=True)
        pairs.append(
            CouplingPair(
                key, support, confidence, lift, tickets, is_declared,
                sorted(declared.get(key, set())), tables.get(key, []),
                not is_declared and (strong or key in tables), evidence[:EVIDENCE_SETS],
            )
        )  # fmt: skip
    pairs.sort(key=lambda p: (not p.undeclared, -p.support, -p.lift, p.services))
    return Coupling(min_support, window_hours, len(sets), pairs, sweeping)
