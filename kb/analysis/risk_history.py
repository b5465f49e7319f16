"""Knowledge over time: the system's truck factor and orphaned share as of each month.

Each point is the bus factor computed from history as it stood then: the files alive at the
end of the month (adds, renames and deletes replayed), the authorship of those files from the
commits made by then, and who had left by then (a known departure dated before it, or no
activity in the `departed_after_days` before it). The last point is kb's "now", so the series
ends on the figure the bus-factor report gives.

Exclusions (vendored, generated, lock, binary) are known for the files at HEAD only: a file
deleted long ago counts as code. Activity other than commits (Slack) is known by its latest
date only, so before that date a person's activity is their commits'.
"""

from __future__ import annotations

import bisect
import math
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from kb.analysis.authorship import Change, authorship_map, truck_factor
from kb.analysis.busfactor import BusFactorReport
from kb.analysis.departure import has_departed
from kb.contract.kinds import ChangeType
from kb.contract.markdown import pct, table

MAX_POINTS = 48


@dataclass
class RiskPoint:
    """The system's knowledge risk at one moment."""

    at: datetime
    truck_factor: int
    truck_factor_authors: list[str]
    files: int
    orphaned_files: int
    departed: list[str] = field(default_factory=list)

    @property
    def month(self) -> str:
        """The month of the point, YYYY-MM."""
        return self.at.strftime("%Y-%m")

    @property
    def orphaned_share(self) -> float:
        """Share of the files alive then whose every author had left."""
        return round(self.orphaned_files / self.files, 3) if self.files else 0.0

    def to_json(self) -> dict[str, Any]:
        """The point as plain JSON."""
        return {
            "month": self.month,
            "at": self.at.isoformat(),
            "truck_factor": self.truck_factor,
            "truck_factor_authors": self.truck_factor_authors,
            "files": self.files,
            "orphaned_files": self.orphaned_files,
            "orphaned_share": self.orphaned_share,
            "departed": self.departed,
        }


@dataclass
class RiskHistory:
    """The truck factor and orphaned share month by month (every `step_months` months)."""

    points: list[RiskPoint]
    step_months: int

    def to_json(self) -> dict[str, Any]:
        """The series as plain JSON, oldest first."""
        return {"step_months": self.step_months, "points": [p.to_json() for p in self.points]}

    def to_markdown(self) -> str:
        """The series as a table, and how the risk moved from first to last."""
        if not self.points:
            return "No history in kb yet: run `kb ingest git PATH` first."
        first, last = self.points[0], self.points[-1]
        lines = [
            "# Knowledge over time",
            "",
            f"From {first.month} to {last.month} the truck factor went from "
            f"{first.truck_factor} to {last.truck_factor}, and the share of orphaned files "
            f"from {pct(first.orphaned_share)} to {pct(last.orphaned_share)}.",
            "",
        ]
        lines += table(
            ["month", "truck factor", "who", "files", "orphaned", "departed by then"],
            [
                [
                    p.month, str(p.truck_factor), ", ".join(p.truck_factor_authors) or "—",
                    str(p.files), f"{p.orphaned_files} ({pct(p.orphaned_share)})",
                    str(len(p.departed)),
                ]
                for p in self.points
            ],
        )  # fmt: skip
        return "\n".join(lines) + "\n"


def month_ends(first: datetime, last: datetime, max_points: int = MAX_POINTS) -> tuple[
    list[datetime], int
]:  # fmt: skip
    """The ends of the months from `first`'s to the one before `last`'s, then `last` itself.

    When there are more months than `max_points`, every k-th is kept, counted back from
    `last` (k is returned), so the series has at most `max_points` points.
    """
    months = (last.year - first.year) * 12 + last.month - first.month
    step = max(1, math.ceil((months + 1) / max(max_points, 1)))
    ends: list[datetime] = []
    for back in range(step, months + 1, step):
        # The first instant of the month after the one `back` months before `last`'s.
        year, month = divmod(last.year * 12 + last.month - 1 - back + 1, 12)
        ends.append(datetime(year, month + 1, 1, tzinfo=UTC) - timedelta(microseconds=1))
    ends.reverse()
    return [*ends, last], step


@dataclass
class _RepoSeries:
    name: str
    commits: list[tuple[datetime, int]]  # (authored_at, commit id), by time
    changes: list[tuple[int, ChangeType, str, str | None]]
    credit: dict[int, tuple[str, ...]]
    excluded: dict[str, str | None]


def _alive(changes: list[Change[str]]) -> set[str]:
    """The paths that exist after `changes` are applied in order."""
    alive: set[str] = set()
    for ch in changes:
        if ch.kind is ChangeType.DELETE:
            alive.discard(ch.path)
        elif ch.kind is ChangeType.RENAME:
            if ch.old_path:
                alive.discard(ch.old_path)
            alive.add(ch.path)
        else:
            alive.add(ch.path)
    return alive


def risk_history(
    report: BusFactorReport,
    left_at: dict[str, datetime | None],
    departed_after_days: int,
    *,
    max_points: int = MAX_POINTS,
) -> RiskHistory:
    """The system's truck factor and orphaned share as of each month of `report`'s history.

    `report` is a default-mode report (people, co-authors, bots out); `left_at` maps developer
    keys to a known departure date.
    """
    series: list[_RepoSeries] = []
    times: dict[str, list[datetime]] = {}
    first: datetime | None = None
    for scope in report.repos:
        facts = report.facts[scope.repo]
        hist = facts.history
        commits = sorted((c.authored_at, c.id) for c in hist.commits.values())
        if not commits:
            continue
        first = commits[0][0] if first is None else min(first, commits[0][0])
        for at, cid in commits:
            for who in facts.credit.get(cid, ()):
                times.setdefault(who, []).append(at)
        series.append(
            _RepoSeries(
                scope.repo,
                commits,
                [(ch.commit_id, ch.kind, ch.path, ch.old_path) for ch in hist.changes],
                facts.credit,
                hist.files,
            )
        )
    now = report.as_of
    if first is None or now is None:
        return RiskHistory([], 1)
    for dev_times in times.values():
        dev_times.sort()
    ends, step = month_ends(first, now, max_points)
    tie = {k: d.name.casefold() + "\0" + k for k, d in report.developers.items()}
    points = []
    for at in ends:
        gone: set[str] = set()
        for key, dev in report.developers.items():
            dev_times = times.get(key, [])
            i = bisect.bisect_right(dev_times, at)
            last = dev_times[i - 1] if i else None
            if dev.last_activity is not None and dev.last_activity <= at:
                last = dev.last_activity if last is None else max(last, dev.last_activity)
            left = left_at.get(key)
            if last is None:
                continue  # not here yet
            if has_departed(left if left and left <= at else None, last, at, departed_after_days):
                gone.add(key)
        authored: dict[str, set[str]] = {}
        changed: Counter[str] = Counter()
        files: list[str] = []
        for repo in series:
            done = {cid for t, cid in repo.commits if t <= at}
            if not done:
                continue
            changes = [
                Change(kind, path, old, repo.credit.get(cid, ()))
                for cid, kind, path, old in repo.changes
                if cid in done
            ]
            alive = [p for p in _alive(changes) if repo.excluded.get(p) is None]
            amap = authorship_map(alive, changes)
            paths = [p for p, devs in amap.files.items() if devs]
            owned, counts = amap.scope(paths)
            for who, fs in owned.items():
                authored.setdefault(who, set()).update(f"{repo.name}:{p}" for p in fs)
            changed.update(counts)
            files.extend(f"{repo.name}:{p}" for p in paths)
        tf = truck_factor(authored, files, changed, gone=gone, tie_key=tie, curve=0)
        known: set[str] = set()
        for who, fs in authored.items():
            if who not in gone:
                known |= fs
        points.append(
            RiskPoint(
                at=at,
                truck_factor=tf.truck_factor,
                truck_factor_authors=[report.name(k) for k in tf.authors],
                files=len(files),
                orphaned_files=len(files) - len(known & set(files)),
                departed=sorted(report.name(k) for k in gone if k in authored),
            )
        )
    return RiskHistory(points, step)
