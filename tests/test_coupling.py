"""Co-change scoring (kb.analysis.servicemap.coupling) on change sets made by hand: what
counts as strong, what a declared edge or a shared table changes, what a sweep is."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from kb.analysis.servicemap.coupling import ChangeSet, change_sets, score_pairs
from kb.analysis.servicemap.graph import Edge, Location, ServiceGraph, ServiceNode
from kb.store.service_graph import ChangeCommit

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
SERVICES = ["a", "b", "c", "d", "e", "f"]


def _graph(*edges: Edge) -> ServiceGraph:
    return ServiceGraph(services=[ServiceNode(n, n, "", None) for n in SERVICES],
                        edges=list(edges))  # fmt: skip


def _commit(i: int, repo: str, author: str = "ann", minutes: int = 0,
            tickets: tuple[str, ...] = (), day: int | None = None) -> ChangeCommit:  # fmt: skip
    when = T0 + timedelta(days=i if day is None else day, minutes=minutes)
    return ChangeCommit(i, repo, f"{i:040x}", author, author.title(), when, tickets, f"c{i}")


def _sets(*groups: set[str]) -> list[tuple[ChangeSet, set[str]]]:
    return [(ChangeSet("one commit", (_commit(i, sorted(g)[0]),)), g)
            for i, g in enumerate(groups)]  # fmt: skip


def test_sessions_and_tickets_make_change_sets() -> None:
    commits = [
        _commit(1, "a", "ann", 0, day=1), _commit(2, "b", "ann", 20, day=1),  # one session
        _commit(3, "c", "bob", 0, day=3), _commit(4, "d", "bob", 90, day=3),  # too far apart
        _commit(5, "e", "cy", tickets=("OPS-7",)), _commit(9, "f", "dee", tickets=("OPS-7",)),
    ]  # fmt: skip
    touched = {c.id: {c.repo} for c in commits}
    found = {frozenset(s): cs.why for cs, s in
             change_sets(commits, touched, timedelta(minutes=30))}  # fmt: skip
    assert found[frozenset({"a", "b"})] == "same author within 20 min"
    assert frozenset({"c"}) in found and frozenset({"d"}) in found
    assert found[frozenset({"e", "f"})] == "ticket OPS-7"


def test_a_repeated_pair_is_undeclared_until_an_edge_declares_it() -> None:
    sets = _sets({"a", "b"}, {"a", "b"}, {"a", "b"}, {"c", "d"}, {"d", "e"}, {"e", "c"})
    pairs = {p.services: p for p in score_pairs(sets, _graph()).pairs}
    ab = pairs[("a", "b")]
    assert (ab.support, ab.confidence, round(ab.lift, 2)) == (3, 1.0, 2.0)
    assert ab.undeclared and not ab.declared
    assert set(pairs) == {("a", "b")}  # the others changed together once each
    call = Edge("a", "b", "sync_http", "GET /x", [Location("a", "x.py", 1)])
    declared = score_pairs(sets, _graph(call)).pairs[0]
    assert declared.declared and declared.declared_kinds == ["sync_http"]
    assert not declared.undeclared


def test_a_pair_no_likelier_than_chance_is_not_flagged_but_shared_tables_are() -> None:
    # a and b each change with everything: together as often as chance would have it.
    sets = _sets(*[{"a", x} for x in "bcdef"] * 3, *[{"b", x} for x in "cdef"] * 3)
    db = Edge("c", "d", "shared_db", "shop (stock)", [Location("c", "db.py", 3)])
    pairs = {p.services: p for p in score_pairs(sets, _graph(db)).pairs}
    ab = pairs[("a", "b")]
    assert ab.support == 3 and ab.lift < 1 and ab.confidence == 0.2 and not ab.undeclared
    cd = pairs[("c", "d")]
    assert cd.undeclared and cd.shared_tables == ["shop (stock)"] and cd.support == 0


def test_sweeping_change_sets_are_left_out() -> None:
    sweep = set(SERVICES)  # an upgrade touching every service
    result = score_pairs(_sets(sweep, sweep, sweep, {"a", "b"}), _graph(), min_support=1)
    assert result.sweeping == 3
    assert [p.services for p in result.pairs] == [("a", "b")]
