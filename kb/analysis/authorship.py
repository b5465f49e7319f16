"""Degree of authorship and the greedy truck factor (Avelino et al., ICPC 2016).

Pure functions over plain data, so the published algorithm can be checked against hand-worked
examples and the reference tool (aserg-ufmg/Truck-Factor) without a database:

- DOA(d, f) = 3.293 + 1.098·FA + 0.164·DL − 0.321·ln(1 + AC)  (Fritz et al.'s weights);
  FA = 1 if d added the path f (every developer who added it, re-adds included, as the
  reference tool does), DL = d's modifications and renames of f, AC = everyone else's.
- d authors f when DOA/max-DOA(f) > 0.75 and (DOA ≥ 3.293 or FA = 1).
- Truck factor: people ranked by the number of files they author (ties: more changes
  first) are removed in that order while at least half the files keep an author.

A file's history follows renames by path, the reference tool's way: the changes recorded
under the file's path, plus every change recorded under a path it was renamed from (and so
on). A rename is followed once per analysis, by the first file (in path order) that reaches
it, because the reference tool marks a rename as handled for good when it first expands it.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Generic, NamedTuple, TypeVar

from kb.contract.kinds import ChangeType

Dev = TypeVar("Dev", bound=Hashable)

DOA_BASE = 3.293
DOA_FIRST_AUTHORSHIP = 1.098
DOA_DELIVERIES = 0.164
DOA_ACCEPTANCES = 0.321
NORMALIZED_THRESHOLD = 0.75
ABSOLUTE_THRESHOLD = 3.293
COVERAGE_THRESHOLD = 0.5
PRUNE_SHARE = 0.1
"""The reference tool drops TF members who author < 10% of what its top member authors."""


class Change(NamedTuple, Generic[Dev]):
    """One change to one path, credited to one or more developers (author, co-authors).

    A tuple: a large repository has hundreds of thousands of them.
    """

    kind: ChangeType
    path: str
    old_path: str | None
    devs: tuple[Dev, ...]


@dataclass(slots=True)
class Authorship:
    """One developer's facts on one file."""

    first_authorship: bool = False
    deliveries: int = 0
    acceptances: int = 0
    doa: float = 0.0
    author: bool = False


def doa(first_authorship: bool, deliveries: int, acceptances: int) -> float:
    """The degree-of-authorship formula."""
    return (
        DOA_BASE
        + DOA_FIRST_AUTHORSHIP * (1 if first_authorship else 0)
        + DOA_DELIVERIES * deliveries
        - DOA_ACCEPTANCES * math.log(1 + acceptances)
    )


def file_histories(
    files: Iterable[str], changes: Sequence[Change[Dev]]
) -> dict[str, list[Change[Dev]]]:
    """The changes that make up each file's history, renames followed; files with none drop.

    Deletes and copies are not part of any history (the reference tool ignores them).
    """
    rename = ChangeType.RENAME
    in_history = (ChangeType.ADD, ChangeType.MODIFY, rename)
    by_path: dict[str, list[int]] = {}  # path -> its changes, in order
    renames_to: dict[str, list[int]] = {}  # path -> the renames that made it
    for i, ch in enumerate(changes):
        if ch.kind in in_history:
            own = by_path.get(ch.path)
            if own is None:
                by_path[ch.path] = [i]
            else:
                own.append(i)
            if ch.kind is rename:
                renames_to.setdefault(ch.path, []).append(i)
    followed: set[int] = set()  # renames already expanded, for good
    out: dict[str, list[Change[Dev]]] = {}
    for path in sorted(set(files)):
        own = by_path.get(path)
        if not own:
            continue
        pending = [i for i in renames_to.get(path, ()) if i not in followed]
        if not pending:  # most files: their own changes, already in order
            out[path] = [changes[i] for i in own]
            continue
        members = set(own)
        while pending:
            i = pending.pop()
            if i in followed:
                continue
            followed.add(i)
            old = changes[i].old_path
            for j in by_path.get(old, ()) if old else ():
                if j not in members:
                    members.add(j)
                    if changes[j].kind is rename and j not in followed:
                        pending.append(j)
        out[path] = [changes[i] for i in sorted(members)]
    return out


def file_authorship(history: Sequence[Change[Dev]]) -> dict[Dev, Authorship]:
    """Every developer's DOA on one file, and who its authors are."""
    facts: dict[Dev, Authorship] = {}
    total = 0
    for ch in history:
        adds = ch.kind is ChangeType.ADD
        if not adds:
            total += len(ch.devs)
        for dev in ch.devs:
            a = facts.get(dev)
            if a is None:
                a = facts[dev] = Authorship()
            if adds:
                a.first_authorship = True
            else:
                a.deliveries += 1
    best = 0.0
    for a in facts.values():
        a.acceptances = total - a.deliveries
        a.doa = doa(a.first_authorship, a.deliveries, a.acceptances)
        best = max(best, a.doa)
    if best > 0:
        for a in facts.values():
            a.author = a.doa / best > NORMALIZED_THRESHOLD and (
                a.doa >= ABSOLUTE_THRESHOLD or a.first_authorship
            )
    return facts


@dataclass
class AuthorshipMap(Generic[Dev]):
    """Authorship of every analysed file of one repository."""

    files: dict[str, dict[Dev, Authorship]]

    def authors(self, path: str) -> list[Dev]:
        return [d for d, a in self.files.get(path, {}).items() if a.author]

    def scope(self, paths: Iterable[str]) -> tuple[dict[Dev, set[str]], dict[Dev, int]]:
        """Authored files and FA + DL change counts (the tie-break) of each developer,
        over the analysed files among `paths`."""
        authored: dict[Dev, set[str]] = {}
        changes: dict[Dev, int] = {}
        for path in paths:
            for dev, a in self.files.get(path, {}).items():
                changes[dev] = changes.get(dev, 0) + (1 if a.first_authorship else 0) + a.deliveries
                if a.author:
                    authored.setdefault(dev, set()).add(path)
        return authored, changes


def authorship_map(files: Iterable[str], changes: Sequence[Change[Dev]]) -> AuthorshipMap[Dev]:
    """DOA facts of every file at HEAD that has a history."""
    return AuthorshipMap(
        {path: file_authorship(h) for path, h in file_histories(files, changes).items()}
    )


@dataclass
class TruckFactor(Generic[Dev]):
    """A truck factor, the people behind it and how knowledge drains as they go."""

    truck_factor: int
    authors: list[Dev]
    files: int
    # Share of files with a remaining author after removing the first k ranked people
    # (index 0: nobody removed).
    coverage: list[float] = field(default_factory=list)
    ranking: list[Dev] = field(default_factory=list)


def truck_factor(
    authored: Mapping[Dev, Collection[str]],
    files: Collection[str],
    changes: Mapping[Dev, int],
    *,
    gone: Collection[Dev] = (),
    prune: bool = False,
    tie_key: Mapping[Dev, str] | None = None,
    curve: int = 10,
) -> TruckFactor[Dev]:
    """The greedy truck factor over `files`.

    `gone` are people whose knowledge is already lost: their files count as unknown from
    the start and they are never removed (they are not part of the answer). `prune` drops,
    as the reference tool does, members who author under 10% of what its top member does.
    Ties on files and changes are broken by `tie_key` (else by repr), so runs repeat.
    """
    file_set = set(files)
    total = len(file_set)
    owned = {d: set(fs) & file_set for d, fs in authored.items() if d not in gone}
    owned = {d: fs for d, fs in owned.items() if fs}

    def order(d: Dev) -> tuple[int, int, str]:
        key = tie_key.get(d, repr(d)) if tie_key else repr(d)
        return (-len(owned[d]), -changes.get(d, 0), key)

    ranking = sorted(owned, key=order)
    known: dict[str, int] = {}
    for fs in owned.values():
        for f in fs:
            known[f] = known.get(f, 0) + 1
    covered = len(known)
    coverage = [covered / total if total else 0.0]
    tf = 0
    stopped = False
    for d in ranking:
        if not stopped and covered * 2 < total:  # coverage < 50%: the truck has hit
            stopped = True
        if stopped and len(coverage) > curve:
            break
        if not stopped:
            tf += 1
        for f in owned[d]:
            known[f] -= 1
            if known[f] == 0:
                covered -= 1
        if len(coverage) <= curve:
            coverage.append(covered / total if total else 0.0)
    members = ranking[:tf]
    if prune and members:
        top = len(owned[members[0]])
        members = [d for d in members if len(owned[d]) / top >= PRUNE_SHARE]
    return TruckFactor(
        truck_factor=len(members),
        authors=members,
        files=total,
        coverage=coverage,
        ranking=ranking,
    )
