"""Views of one bus-factor report that every surface draws: the KPIs, the knowledge treemap and
the leaver simulation with what is lost ranked hotspots first.

Pure functions over a `BusFactorReport` (and hotspots), so a test can check them on a report
built from a real repository without a dashboard, and the bot, MCP and the dashboard show the
same figures.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import PurePosixPath
from typing import Any

from kb.analysis.authorship import TruckFactor, truck_factor
from kb.analysis.busfactor import BusFactorReport
from kb.analysis.hotspots import Hotspot
from kb.contract.markdown import pct, table

# A treemap with more files than this shows directories as its leaves: a browser draws some
# thousands of rectangles quickly, not a hundred thousand.
TREEMAP_MAX_FILES = 4000
TREEMAP_DEPTH = 3


def _tie_keys(report: BusFactorReport) -> dict[str, str]:
    return {k: d.name.casefold() + "\0" + k for k, d in report.developers.items()}


def system_truck_factor(report: BusFactorReport) -> TruckFactor[str]:
    """The truck factor of every analysed file of every repository taken together."""
    authored: dict[str, set[str]] = {}
    changes: Counter[str] = Counter()
    files: list[str] = []
    for scope in report.repos:
        owned, changed = report.facts[scope.repo].authorship.scope(scope.paths)
        for dev, paths in owned.items():
            authored.setdefault(dev, set()).update(f"{scope.repo}:{p}" for p in paths)
        changes.update(changed)
        files.extend(f"{scope.repo}:{p}" for p in scope.paths)
    gone = {k for k, d in report.developers.items() if d.departed}
    return truck_factor(
        authored,
        files,
        changes,
        gone=gone,
        prune=report.algorithm == "avelino2016",
        tie_key=_tie_keys(report),
    )


# -- the KPIs -------------------------------------------------------------------------------


@dataclass
class RiskOverview:
    """The landing page's figures: truck factors, orphaned share, who alone holds knowledge."""

    as_of: datetime | None
    truck_factor: int
    truck_factor_authors: list[str]
    files: int
    orphaned_files: int
    services: list[dict[str, Any]]
    sole_holders: list[dict[str, Any]]
    departed: list[str]
    people: list[dict[str, Any]]  # everyone who authors a file: name, departed, files

    @property
    def orphaned_share(self) -> float:
        """Share of analysed files every author of which has left."""
        return round(self.orphaned_files / self.files, 3) if self.files else 0.0

    def to_json(self) -> dict[str, Any]:
        """The figures as plain JSON."""
        return {
            "as_of": self.as_of.isoformat() if self.as_of else None,
            "truck_factor": self.truck_factor,
            "truck_factor_authors": self.truck_factor_authors,
            "files": self.files,
            "orphaned_files": self.orphaned_files,
            "orphaned_share": self.orphaned_share,
            "services": self.services,
            "sole_holders": self.sole_holders,
            "departed": self.departed,
            "people": self.people,
        }

    def to_markdown(self) -> str:
        """The figures in a few lines and a table per service."""
        if not self.files:
            return "No history in kb yet: run `kb ingest git PATH` first."
        who = ", ".join(self.truck_factor_authors) or "no one (already orphaned)"
        lines = [
            "# Knowledge risk",
            "",
            f"- Truck factor of the system: **{self.truck_factor}** ({who}).",
            f"- {self.orphaned_files} of {self.files} files ({pct(self.orphaned_share)}) are "
            "orphaned: every author has left"
            + (f" ({', '.join(self.departed)})." if self.departed else "."),
        ]
        if self.sole_holders:
            lines.append(
                "- Alone hold knowledge: "
                + ", ".join(
                    f"{p['name']} ({p['sole_author_files']} files)" for p in self.sole_holders
                )
                + "."
            )
        if self.services:
            lines += ["", *table(
                ["service", "truck factor", "who", "files", "orphaned"],
                [
                    [
                        s["name"], str(s["truck_factor"]),
                        ", ".join(s["truck_factor_authors"]) or "—",
                        str(s["files_analyzed"]), str(s["orphaned_files"]),
                    ]
                    for s in self.services
                ],
            )]  # fmt: skip
        return "\n".join(lines) + "\n"


def risk_overview(report: BusFactorReport) -> RiskOverview:
    """The KPIs of a report: system and per-service truck factor, orphaned share, sole holders."""
    tf = system_truck_factor(report)
    people = report.people()
    sole = [
        {
            "name": p["name"],
            "sole_author_files": p["sole_author_files"],
            "critical_to": list(dict.fromkeys(x.split(":", 1)[1] for x in p["truck_factor_of"])),
        }
        for p in sorted(people, key=lambda p: (-p["sole_author_files"], p["name"]))
        if not p["departed"] and p["sole_author_files"]
    ]
    return RiskOverview(
        as_of=report.as_of,
        truck_factor=tf.truck_factor,
        truck_factor_authors=[report.name(k) for k in tf.authors],
        files=sum(s.files for s in report.repos),
        orphaned_files=sum(s.orphaned for s in report.repos),
        services=[report.scope_json(s, curve=False) for s in report.services],
        sole_holders=sole,
        departed=sorted(p["name"] for p in people if p["departed"]),
        people=[
            {"name": p["name"], "departed": p["departed"], "files_authored": p["files_authored"]}
            for p in people
        ],
    )


# -- the treemap ----------------------------------------------------------------------------


@dataclass
class TreemapNode:
    """A repository, directory or file: its size, who knows it, what the leavers would take."""

    id: str
    parent: str
    label: str
    kind: str  # repo | directory | file
    repo: str
    path: str
    size: int  # bytes (repo_files.size): line counts are not stored
    files: int
    known: int  # files someone still here authors
    truck_factor: int  # a file's: how many of its authors are still here
    authors: list[str] = field(default_factory=list)
    lost: int = 0  # known files only the leavers know

    @property
    def share_lost(self) -> float:
        """Share of the node's known files the leavers would take."""
        return round(self.lost / self.known, 3) if self.known else 0.0

    def to_json(self) -> dict[str, Any]:
        """The node as plain JSON."""
        return {
            "id": self.id,
            "parent": self.parent,
            "label": self.label,
            "kind": self.kind,
            "repo": self.repo,
            "path": self.path,
            "size": self.size,
            "files": self.files,
            "known": self.known,
            "orphaned": self.files - self.known,
            "truck_factor": self.truck_factor,
            "authors": self.authors,
            "lost": self.lost,
            "share_lost": self.share_lost,
        }


@dataclass
class KnowledgeTreemap:
    """Repositories → directories → files, sized by bytes, with truck factor and leavers' share."""

    nodes: list[TreemapNode]
    leavers: list[str]
    files_shown: bool  # False: too many files, directories are the leaves

    def to_json(self) -> dict[str, Any]:
        """Nodes in parent-before-child order (what a treemap chart takes)."""
        return {
            "leavers": self.leavers,
            "size": "bytes",
            "files_shown": self.files_shown,
            "nodes": [n.to_json() for n in self.nodes],
        }

    def to_markdown(self) -> str:
        """The riskiest directories (lowest truck factor, most files), and the leavers' share."""
        dirs = sorted(
            (n for n in self.nodes if n.kind == "directory" and n.files >= 3),
            key=lambda n: (-n.lost, n.truck_factor, -n.files, n.id),
        )[:15]
        if not dirs:
            return "No history in kb yet: run `kb ingest git PATH` first."
        head = ["directory", "truck factor", "files", "orphaned"]
        if self.leavers:
            head.append(f"lost if {', '.join(self.leavers)} left")
        rows = []
        for n in dirs:
            row = [f"{n.repo}/{n.path}", str(n.truck_factor), str(n.files), str(n.files - n.known)]
            if self.leavers:
                row.append(f"{n.lost} ({pct(n.share_lost)})")
            rows.append(row)
        return "\n".join(["# Knowledge map", "", *table(head, rows)]) + "\n"


def knowledge_treemap(
    report: BusFactorReport,
    sizes: dict[str, dict[str, int | None]],
    leavers: Sequence[str] = (),
    *,
    depth: int = TREEMAP_DEPTH,
    max_files: int = TREEMAP_MAX_FILES,
) -> KnowledgeTreemap:
    """The treemap of `report`'s files; `sizes` is repo -> path -> bytes, `leavers` are keys."""
    gone_now = {k for k, d in report.developers.items() if d.departed}
    leaving = set(leavers)
    tie = _tie_keys(report)
    show_files = sum(s.files for s in report.repos) <= max_files
    nodes: list[TreemapNode] = []
    for scope in report.repos:
        facts = report.facts[scope.repo]
        repo_sizes = sizes.get(scope.repo, {})
        here = {
            p: [d for d in facts.authorship.authors(p) if d not in gone_now] for p in scope.paths
        }
        lost = {p for p, ds in here.items() if ds and all(d in leaving for d in ds)}
        size = {p: max(int(repo_sizes.get(p) or 0), 1) for p in scope.paths}
        groups: dict[str, list[str]] = {"": list(scope.paths)}
        for path in scope.paths:
            parts = PurePosixPath(path).parts[:-1]
            for level in range(1, min(depth, len(parts)) + 1):
                groups.setdefault("/".join(parts[:level]), []).append(path)

        for directory in sorted(groups, key=lambda d: (d.count("/"), d) if d else (-1, "")):
            paths = groups[directory]
            owned, changed = facts.authorship.scope(paths)
            tf = truck_factor(owned, paths, changed, gone=gone_now, tie_key=tie, curve=0)
            parent = ""
            if directory:
                parent_dir = directory.rpartition("/")[0]
                parent = f"{scope.repo}/{parent_dir}" if parent_dir else scope.repo
            nodes.append(
                TreemapNode(
                    id=f"{scope.repo}/{directory}" if directory else scope.repo,
                    parent=parent,
                    label=PurePosixPath(directory).name if directory else scope.repo,
                    kind="directory" if directory else "repo",
                    repo=scope.repo,
                    path=directory,
                    size=sum(size[p] for p in paths),
                    files=len(paths),
                    known=sum(1 for p in paths if here[p]),
                    truck_factor=tf.truck_factor,
                    authors=[report.name(k) for k in tf.authors],
                    lost=sum(1 for p in paths if p in lost),
                )
            )
        if not show_files:
            continue
        for path in sorted(scope.paths):
            parts = PurePosixPath(path).parts[:-1][:depth]
            parent = f"{scope.repo}/{'/'.join(parts)}" if parts else scope.repo
            nodes.append(
                TreemapNode(
                    id=f"{scope.repo}/{path}",
                    parent=parent,
                    label=PurePosixPath(path).name,
                    kind="file",
                    repo=scope.repo,
                    path=path,
                    size=size[path],
                    files=1,
                    known=1 if here[path] else 0,
                    truck_factor=len(here[path]),
                    authors=sorted(report.name(k) for k in here[path]),
                    lost=1 if path in lost else 0,
                )
            )
    return KnowledgeTreemap(nodes, [report.name(k) for k in leavers], show_files)


# -- the leaver simulation ------------------------------------------------------------------


@dataclass
class LostFile:
    """A file no one left would know, with its hotspot evidence (score 0: not a hotspot)."""

    repo: str
    path: str
    service: str | None
    hotspot_score: float
    severity: str | None
    changes: int
    fixes: int
    incidents: list[str]
    holders: list[str]  # the leavers who know it

    def to_json(self) -> dict[str, Any]:
        """The file as plain JSON."""
        return {
            "repo": self.repo,
            "path": self.path,
            "service": self.service,
            "hotspot_score": self.hotspot_score,
            "severity": self.severity,
            "changes": self.changes,
            "fixes": self.fixes,
            "incidents": self.incidents,
            "holders": self.holders,
        }


@dataclass
class DepartureSimulation:
    """What becomes unknowable if some people leave, what is lost ranked hotspots first."""

    people: list[str]
    files_known_now: int
    files_lost: int
    services_known_now: int
    services_unknowable: list[str]
    directories_known_now: int
    directories_unknowable: list[str]
    repos_known_now: int
    repos_unknowable: list[str]
    lost: list[LostFile]

    @property
    def share_files_lost(self) -> float:
        """Share of the files known now that no one would know."""
        return round(self.files_lost / self.files_known_now, 3) if self.files_known_now else 0.0

    @property
    def share_services_unknowable(self) -> float:
        """Share of the services known now that would become unknowable."""
        known = self.services_known_now
        return round(len(self.services_unknowable) / known, 3) if known else 0.0

    def to_json(self) -> dict[str, Any]:
        """The simulation as plain JSON (the bus-factor report's `without`, plus `lost`)."""
        return {
            "people": self.people,
            "files_known_now": self.files_known_now,
            "files_lost": self.files_lost,
            "share_files_lost": self.share_files_lost,
            "services_known_now": self.services_known_now,
            "services_unknowable": self.services_unknowable,
            "share_services_unknowable": self.share_services_unknowable,
            "directories_known_now": self.directories_known_now,
            "directories_unknowable": self.directories_unknowable,
            "repos_known_now": self.repos_known_now,
            "repos_unknowable": self.repos_unknowable,
            "lost": [f.to_json() for f in self.lost],
        }

    def to_markdown(self, top: int = 20) -> str:
        """The figures, then the `top` files lost, hotspots first."""
        if not self.people:
            return "Pick one or more people to see what would become unknowable."
        lines = [
            f"# If {', '.join(self.people)} left",
            "",
            f"- {self.files_lost} of {self.files_known_now} files ({pct(self.share_files_lost)}) "
            "would have no author left.",
            f"- {len(self.services_unknowable)} of {self.services_known_now} services "
            f"({pct(self.share_services_unknowable)}) would become unknowable"
            + (f": {', '.join(self.services_unknowable)}." if self.services_unknowable else "."),
            f"- {len(self.directories_unknowable)} of {self.directories_known_now} directories.",
        ]
        if self.lost:
            lines += ["", "## What is lost, hotspots first", ""]
            lines += table(
                ["file", "service", "hotspot", "changes", "fixes", "incidents"],
                [
                    [
                        f"{f.repo}:{f.path}", f.service or "—", f"{f.hotspot_score:g}",
                        str(f.changes), str(f.fixes), ", ".join(f.incidents) or "—",
                    ]
                    for f in self.lost[:top]
                ],
            )  # fmt: skip
        return "\n".join(lines) + "\n"


def simulate_departure(
    report: BusFactorReport, leavers: Sequence[str], hotspots: Iterable[Hotspot] = ()
) -> DepartureSimulation:
    """What `leavers` (developer keys) take with them, lost files ranked by hotspot score."""
    sim = report.simulate(leavers)
    _, lost = report.lost_files(leavers)
    spots = {(h.repo, h.path): h for h in hotspots}
    names = {k: report.name(k) for k in leavers}
    rows = []
    for repo, path in lost:
        h = spots.get((repo, path))
        holders = [names[k] for k in report.facts[repo].authorship.authors(path) if k in names]
        rows.append(
            LostFile(
                repo=repo,
                path=path,
                service=h.service if h else None,
                hotspot_score=h.score if h else 0.0,
                severity=h.severity.value if h else None,
                changes=h.changes if h else 0,
                fixes=len(h.fixes) if h else 0,
                incidents=[i.id for i in h.incidents] if h else [],
                holders=sorted(holders),
            )
        )
    rows.sort(key=lambda f: (-f.hotspot_score, -f.changes, f.repo, f.path))
    return DepartureSimulation(
        people=sim["people"],
        files_known_now=sim["files_known_now"],
        files_lost=sim["files_lost"],
        services_known_now=sim["services_known_now"],
        services_unknowable=sim["services_unknowable"],
        directories_known_now=sim["directories_known_now"],
        directories_unknowable=sim["directories_unknowable"],
        repos_known_now=sim["repos_known_now"],
        repos_unknowable=sim["repos_unknowable"],
        lost=rows,
    )
