"""Knowledge risk from stored history: truck factors, who alone knows what, leaver simulation.

Two modes over the same stored commits:

- ``avelino2016`` reproduces the reference tool (aserg-ufmg/Truck-Factor) without its
  language filter: every tracked file with history, identities merged only by upper-cased
  email or upper-cased accent-stripped name, bots counted, nobody departed, and the tool's
  pruning of TF members who author under 10% of what its top member authors;
- ``default`` is what a team should look at: people as kb knows them (mailmap, every
  source's identities), `Co-authored-by:` credited, bots and AI agents left out (with the
  files only they touched), vendored/generated/lock/binary files left out, and people with
  no activity for `departed_after_days` counted as departed — their knowledge is gone
  already, so their files start out orphaned.
"""

from __future__ import annotations

import gc
import threading
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import PurePosixPath
from typing import Any

from kb.analysis.authorship import truck_factor
from kb.analysis.busfactor_facts import Developer, RepoFacts, compat_facts, default_facts
from kb.analysis.busfactor_report import busfactor_markdown
from kb.analysis.departure import has_departed
from kb.contract.identity import normalise_email, normalise_name
from kb.errors import NotFoundError
from kb.store import history as sh
from kb.store.reader import Reader

ALGORITHMS = ("default", "avelino2016")
_CACHED_REPORTS = 16


@dataclass
class Scope:
    """A repo, a service or a directory, and how much of it is still known."""

    kind: str  # repo | service | directory
    name: str
    repo: str
    paths: list[str]
    truck_factor: int = 0
    authors: list[str] = field(default_factory=list)  # developer keys
    coverage: list[float] = field(default_factory=list)
    known_now: int = 0  # files with at least one author still here
    knowledge: dict[str, int] = field(default_factory=dict)  # developer key -> files authored

    @property
    def files(self) -> int:
        return len(self.paths)

    @property
    def orphaned(self) -> int:
        return self.files - self.known_now


@dataclass
class BusFactorReport:
    """Everything `kb bus-factor` shows, the bot says and the dashboard draws."""

    algorithm: str
    as_of: datetime | None
    departed_after_days: int | None
    repos: list[Scope]
    services: list[Scope]
    directories: list[Scope]
    developers: dict[str, Developer]
    facts: dict[str, RepoFacts]
    without: list[str] = field(default_factory=list)  # developer keys simulated gone

    def name(self, key: str) -> str:
        return self.developers[key].name

    # -- leaver simulation ------------------------------------------------------------------

    def simulate(self, leavers: Iterable[str]) -> dict[str, Any]:
        """What becomes unknowable if `leavers` (developer keys) go too."""
        gone = set(leavers)
        out: dict[str, Any] = {"people": [self.name(k) for k in sorted(gone)]}
        total, lost_files = self.lost_files(gone)
        lost = len(lost_files)
        out["files_known_now"] = total
        out["files_lost"] = lost
        out["share_files_lost"] = round(lost / total, 3) if total else 0.0
        out["files"] = [f"{repo}:{path}" for repo, path in lost_files[:200]]
        for label, scopes in (
            ("repos", self.repos),
            ("services", self.services),
            ("directories", self.directories),
        ):
            known = [s for s in scopes if s.files and s.known_now * 2 >= s.files]
            unknowable = [s for s in known if self._known_after(s, gone) * 2 < s.files]
            out[f"{label}_known_now"] = len(known)
            out[f"{label}_unknowable"] = [
                f"{s.repo}:{s.name}" if label == "directories" else s.name for s in unknowable
            ]
            out[f"share_{label}_unknowable"] = (
                round(len(unknowable) / len(known), 3) if known else 0.0
            )
        return out

    def lost_files(self, gone: Iterable[str]) -> tuple[int, list[tuple[str, str]]]:
        """Files someone here knows now, and those (repo, path) only `gone` know."""
        gone = set(gone)
        total = 0
        lost: list[tuple[str, str]] = []
        for scope in self.repos:
            facts = self.facts[scope.repo]
            for path in scope.paths:
                authors = [d for d in facts.authorship.authors(path) if not self._gone(d)]
                if not authors:
                    continue
                total += 1
                if all(d in gone for d in authors):
                    lost.append((scope.repo, path))
        return total, lost

    def _gone(self, key: str) -> bool:
        return self.developers[key].departed

    def _known_after(self, scope: Scope, gone: set[str]) -> int:
        facts = self.facts[scope.repo]
        n = 0
        for path in scope.paths:
            if any(not self._gone(d) and d not in gone for d in facts.authorship.authors(path)):
                n += 1
        return n

    # -- views ------------------------------------------------------------------------------

    def heatmap(self) -> dict[str, Any]:
        """Services x people: the share of each service's files a person authors."""
        scopes = self.services or self.repos
        totals: Counter[str] = Counter()
        for s in scopes:
            totals.update(s.knowledge)
        people = [k for k, _ in totals.most_common() if totals[k] > 0]
        return {
            "rows": [s.name for s in scopes],
            "columns": [self.name(k) for k in people],
            "departed": [self.developers[k].departed for k in people],
            "values": [
                [round(s.knowledge.get(k, 0) / s.files, 3) if s.files else 0.0 for k in people]
                for s in scopes
            ],
        }

    def people(self) -> list[dict[str, Any]]:
        """Per person: files authored, files only they know, the scopes they are critical to."""
        sole: Counter[str] = Counter()
        authored: Counter[str] = Counter()
        orphaned: Counter[str] = Counter()  # departed people: their files no one here knows
        for scope in self.repos:
            facts = self.facts[scope.repo]
            for path in scope.paths:
                authors = facts.authorship.authors(path)
                authored.update(authors)
                here = [d for d in authors if not self._gone(d)]
                if len(here) == 1:
                    sole[here[0]] += 1
                elif not here:
                    orphaned.update(authors)
        rows = []
        for key in sorted(authored, key=lambda k: (-authored[k], self.name(k))):
            dev = self.developers[key]
            rows.append(
                {
                    "name": dev.name,
                    "departed": dev.departed,
                    "last_activity": dev.last_activity.date().isoformat()
                    if dev.last_activity
                    else None,
                    "files_authored": authored[key],
                    "sole_author_files": sole[key],
                    "orphaned_files": orphaned[key],
                    "truck_factor_of": list(
                        dict.fromkeys(
                            f"{s.kind}:{s.name}"
                            for s in (*self.services, *self.repos)
                            if key in s.authors
                        )
                    ),
                    "services": {
                        s.name: round(s.knowledge.get(key, 0) / s.files, 3)
                        for s in self.services
                        if s.files and s.knowledge.get(key)
                    },
                }
            )
        return rows

    def scope_json(self, s: Scope, curve: bool = True) -> dict[str, Any]:
        out: dict[str, Any] = {
            "name": s.name,
            "truck_factor": s.truck_factor,
            "truck_factor_authors": [self.name(k) for k in s.authors],
            "files_analyzed": s.files,
            "orphaned_files": s.orphaned,
        }
        if s.kind != "repo":
            out["repo"] = s.repo
        if curve:
            out["coverage"] = [round(c, 3) for c in s.coverage]
        return out

    def to_markdown(self) -> str:
        """The report a manager reads: truck factors, single points of failure, leavers."""
        return busfactor_markdown(self)

    def to_json(self) -> dict[str, Any]:
        repos = []
        for s in self.repos:
            item = self.scope_json(s)
            facts = self.facts[s.repo]
            item["head"] = facts.head
            item["files_excluded"] = dict(sorted(facts.excluded.items()))
            item["directories"] = [
                self.scope_json(d, curve=False) for d in self.directories if d.repo == s.repo
            ]
            repos.append(item)
        out: dict[str, Any] = {
            "algorithm": self.algorithm,
            "as_of": self.as_of.isoformat() if self.as_of else None,
            "departed_after_days": self.departed_after_days,
            "repos": repos,
            "services": [self.scope_json(s) for s in self.services],
            "people": self.people(),
            "heatmap": self.heatmap(),
        }
        if self.without:
            out["without"] = self.simulate(self.without)
        return out


class BusFactorService:
    """Computes bus-factor reports from the store (history ingested by the git connector)."""

    def __init__(self, reader: Reader, departed_after_days: int = 270) -> None:
        self.reader = reader
        self.departed_after_days = departed_after_days
        self._cache: dict[tuple[Any, ...], tuple[tuple[Any, ...], BusFactorReport]] = {}
        self._lock = threading.Lock()

    def is_departed(self, person: sh.PersonRow, as_of: datetime | None = None) -> bool:
        """Left (`left_at`), or no activity for `departed_after_days` before kb's "now"."""
        if person.left_at is None and as_of is None:
            as_of = sh.latest_activity(self.reader)
        return has_departed(
            person.left_at, person.last_activity_at, as_of, self.departed_after_days
        )

    def report(
        self,
        *,
        algorithm: str = "default",
        repo: str | None = None,
        service: str | None = None,
        without: Sequence[str] = (),
        depth: int = 2,
        repos: Sequence[str] | None = None,
    ) -> BusFactorReport:
        """The report over every repo (or `repo`, `repos`, or the repo of `service`).

        Reports are kept while the stored facts stay the same (one cheap query tells), so
        the bot, the dashboard and every answer's "Ask" section don't recompute them.
        """
        if algorithm not in ALGORITHMS:
            raise ValueError(f"unknown algorithm {algorithm!r}: use {' or '.join(ALGORITHMS)}")
        key = (algorithm, repo, service, tuple(repos) if repos is not None else None, depth)
        version = sh.facts_version(self.reader)
        with self._lock:
            hit = self._cache.get(key)
        if hit is not None and hit[0] == version:
            base = hit[1]
        else:
            with _collector_paused():
                base = self._compute(algorithm, repo, service, depth, repos)
            with self._lock:
                self._cache[key] = (version, base)
                while len(self._cache) > _CACHED_REPORTS:
                    self._cache.pop(next(iter(self._cache)))
        return replace(base, without=_resolve(base.developers, without))

    def _compute(
        self,
        algorithm: str,
        repo: str | None,
        service: str | None,
        depth: int,
        repos: Sequence[str] | None,
    ) -> BusFactorReport:
        compat = algorithm == "avelino2016"
        all_services = sh.services(self.reader)
        if service is not None:
            picked = [s for s in all_services if s.name == service]
            if not picked:
                known = ", ".join(s.name for s in all_services) or "none"
                raise NotFoundError(f"no service {service!r} (known: {known})")
            if picked[0].repo is None:
                raise NotFoundError(f"service {service!r} has no repository in kb")
            repo = picked[0].repo
        names = sh.repo_names(self.reader)
        if repo is not None:
            if repo not in names:
                raise NotFoundError(f"no repository {repo!r} (known: {', '.join(names) or 'none'})")
            names = [repo]
        elif repos is not None:
            names = [n for n in names if n in set(repos)]
        as_of = None if compat else sh.latest_activity(self.reader)
        people = {} if compat else sh.people(self.reader)
        identities = {} if compat else sh.person_by_identity(self.reader)
        developers: dict[str, Developer] = {}
        facts: dict[str, RepoFacts] = {}
        for name in names:
            hist = sh.repo_history(self.reader, name)
            if hist is None:
                continue
            if compat:
                facts[name] = compat_facts(hist, developers)
            else:
                facts[name] = default_facts(hist, developers, people, identities)
        if not compat:
            for dev in developers.values():
                person = people.get(dev.person_id) if dev.person_id is not None else None
                dev.departed = person is not None and self.is_departed(person, as_of)
        gone = {k for k, d in developers.items() if d.departed}
        tie = {k: d.name.casefold() + "\0" + k for k, d in developers.items()}

        def measure(kind: str, label: str, repo_name: str, paths: list[str]) -> Scope:
            scope = Scope(kind, label, repo_name, paths)
            authored, changes = facts[repo_name].authorship.scope(paths)
            tf = truck_factor(authored, paths, changes, gone=gone, prune=compat, tie_key=tie)
            scope.truck_factor, scope.authors, scope.coverage = (
                tf.truck_factor,
                tf.authors,
                tf.coverage,
            )
            scope.knowledge = {k: len(v) for k, v in authored.items()}
            here: set[str] = set()
            for k, fs in authored.items():
                if k not in gone:
                    here |= fs
            scope.known_now = len(here)
            return scope

        repo_scopes = [measure("repo", n, n, f.files) for n, f in facts.items()]
        services = []
        for svc in all_services:
            if svc.repo not in facts or (service is not None and svc.name != service):
                continue
            prefix = svc.path_prefix.strip("/")
            paths = [p for p in facts[svc.repo].files if not prefix or p.startswith(prefix + "/")]
            services.append(measure("service", svc.name, svc.repo, paths))
        directories = []
        for n, f in facts.items():
            for directory, paths in _directories(f.files, depth).items():
                directories.append(measure("directory", directory, n, paths))
        return BusFactorReport(
            algorithm=algorithm,
            as_of=as_of,
            departed_after_days=None if compat else self.departed_after_days,
            repos=repo_scopes,
            services=services,
            directories=directories,
            developers=developers,
            facts=facts,
        )


@contextmanager
def _collector_paused() -> Iterator[None]:
    """No cyclic garbage collection in the block; it resumes afterwards if it ran before.

    A large repository's history is some 10^5 small objects that form no cycles, and each
    full collection while they are built walks all of them again: that took as long as
    building them did.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _directories(files: Sequence[str], depth: int) -> dict[str, list[str]]:
    """Directory path -> files under it, for directories up to `depth` levels deep."""
    out: dict[str, list[str]] = {}
    for path in files:
        parts = PurePosixPath(path).parts[:-1]
        for level in range(1, min(depth, len(parts)) + 1):
            out.setdefault("/".join(parts[:level]), []).append(path)
    return dict(sorted(out.items()))


def _resolve(developers: dict[str, Developer], wanted: Sequence[str]) -> list[str]:
    """Developer keys for names, emails or handles as a user types them."""
    keys: list[str] = []
    for raw in wanted:
        needle = raw.strip().lstrip("@")
        if not needle:
            continue
        folded = normalise_name(needle)
        hits = [
            k
            for k, d in developers.items()
            if normalise_name(d.name) == folded
            or any(normalise_email(e) == normalise_email(needle) for e in d.emails)
            or any(normalise_name(e.split("@")[0]) == folded for e in d.emails)
        ]
        if not hits:  # a first name alone ("alex") when only one person has it
            hits = [
                k for k, d in developers.items() if normalise_name(d.name).split(" ")[0] == folded
            ]
        if len(hits) != 1:
            known = ", ".join(sorted(d.name for d in developers.values())[:20])
            why = "matches no one" if not hits else "is ambiguous"
            raise NotFoundError(f"{raw!r} {why} (people: {known})")
        if hits[0] not in keys:
            keys.append(hits[0])
    return keys
