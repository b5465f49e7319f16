"""The knowledge-risk views the dashboard (and any surface) draws, on real git repositories:
the KPIs, the treemap, the leaver simulation ranked by hotspots, the risk month by month; the
incident log, the wisdom table and the record of ingest runs.

Expected values are worked out by hand in the comments (see tests/test_busfactor.py for the
degree-of-authorship arithmetic).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ClassVar

import pytest
from gitrepo import Repo

from kb.analysis.risk_history import month_ends
from kb.app import KB
from kb.contract.connector import SourceConfig
from kb.contract.records import Checkpoint, Failure, Record

ANA = ("Ana Lima", "ana@x.io")
BO = ("Bo Chen", "bo@x.io")
CY = ("Cy Diaz", "cy@x.io")

pytestmark = pytest.mark.usefixtures("isolated_git")


def _ingest(app: KB, repo: Repo, name: str, **options: Any) -> None:
    opts = {"history_only": True, **options}
    report = app.ingestor().run(SourceConfig("git", name, str(repo.path), opts))
    assert report.ok, report.failures


def _two_repos(app: KB, tmp_path: Path) -> None:
    s = Repo(tmp_path / "s")
    s.commit("old work", {"old/a.py": "a\n", "old/b.py": "b\n"}, CY)
    s.clock = datetime(2025, 6, 1, tzinfo=UTC)  # cy never comes back: departed (270 days)
    s.commit("core", {"core/x.py": "x\n", "core/y.py": "y\n", "core/z.py": "z\n"}, ANA)
    s.commit("fix: crash in x", {"core/x.py": "x2\n"}, ANA)
    s.commit("api", {"api/h.py": "h\n"}, BO)
    s.commit("api tune", {"api/h.py": "h2\n", "core/z.py": "z2\n"}, BO)
    t = Repo(tmp_path / "t")
    t.clock = datetime(2025, 6, 2, tzinfo=UTC)
    t.commit("t", {"a.py": "a\n", "b.py": "b\n", "lib/c.py": "c\n"}, BO)
    _ingest(app, s, "s")
    _ingest(app, t, "t")


def test_overview_kpis_across_repositories(history_kb: KB, tmp_path: Path) -> None:
    _two_repos(history_kb, tmp_path)
    ov = history_kb.risk.overview()
    # 9 files; cy's 2 orphaned. Bo authors z, h and t's 3 (5), Ana x, y, z (3): without Bo
    # only x, y, z stay known (3 of 9 < half): the system's truck factor is 1, Bo.
    assert (ov.files, ov.orphaned_files, ov.orphaned_share) == (9, 2, 0.222)
    assert (ov.truck_factor, ov.truck_factor_authors) == (1, ["Bo Chen"])
    assert ov.departed == ["Cy Diaz"]
    assert [(p["name"], p["sole_author_files"]) for p in ov.sole_holders] == [
        ("Bo Chen", 4),  # h, a, b, lib/c
        ("Ana Lima", 2),  # x, y (z is Bo's too)
    ]
    assert history_kb.risk.people() == ["Bo Chen", "Ana Lima"]
    data = ov.to_json()
    assert data["truck_factor"] == 1 and data["orphaned_files"] == 2
    assert "Truck factor of the system: **1** (Bo Chen)" in ov.to_markdown()


def test_treemap_truck_factor_sizes_and_the_leavers_share(history_kb: KB, tmp_path: Path) -> None:
    _two_repos(history_kb, tmp_path)
    tree = history_kb.risk.treemap(["ana"])
    nodes = {n.id: n for n in tree.nodes}
    assert tree.leavers == ["Ana Lima"] and tree.files_shown
    # Parents come before children, and every parent exists: what a treemap chart needs.
    seen: set[str] = set()
    for n in tree.nodes:
        assert n.parent == "" or n.parent in seen, n.id
        seen.add(n.id)
    core = nodes["s/core"]
    # core: x, y (Ana), z (Ana and Bo): without Ana 1 of 3 known -> truck factor 1 (Ana).
    assert (core.files, core.known, core.truck_factor, core.authors) == (3, 3, 1, ["Ana Lima"])
    assert (core.lost, core.share_lost) == (2, 0.667)
    old = nodes["s/old"]
    assert (old.files, old.known, old.truck_factor, old.lost) == (2, 0, 0, 0)
    z = nodes["s/core/z.py"]
    assert (z.kind, z.parent, z.truck_factor, z.authors) == (
        "file", "s/core", 2, ["Ana Lima", "Bo Chen"],
    )  # fmt: skip
    # Sizes are the bytes at HEAD ("x2\n" is 3), summed up the tree.
    assert nodes["s/core/x.py"].size == 3
    assert core.size == 3 + 2 + 3
    assert nodes["s"].size == sum(n.size for n in tree.nodes if n.parent == "s")
    assert (nodes["s"].lost, nodes["t"].lost, nodes["t"].truck_factor) == (2, 0, 1)
    # Without leavers nothing is lost; colouring by truck factor still works.
    plain = history_kb.risk.treemap()
    assert plain.leavers == [] and all(n.lost == 0 for n in plain.nodes)
    assert "s/core" in tree.to_markdown()


def test_treemap_shows_directories_alone_when_files_are_too_many(
    history_kb: KB, tmp_path: Path
) -> None:
    from kb.analysis.risk_views import knowledge_treemap

    _two_repos(history_kb, tmp_path)
    report = history_kb.busfactor.report()
    tree = knowledge_treemap(report, {}, max_files=5)
    assert not tree.files_shown
    assert {n.kind for n in tree.nodes} == {"repo", "directory"}
    assert {n.id for n in tree.nodes} == {"s", "s/api", "s/core", "s/old", "t", "t/lib"}


def test_leaver_simulation_ranks_what_is_lost_hotspots_first(
    history_kb: KB, tmp_path: Path
) -> None:
    _two_repos(history_kb, tmp_path)
    sim = history_kb.risk.simulate_departure(["Ana Lima"])
    # Known now: 7 files; only Ana knows x and y.
    assert (sim.people, sim.files_known_now, sim.files_lost) == (["Ana Lima"], 7, 2)
    assert sim.share_files_lost == 0.286
    assert sim.directories_unknowable == ["s:core"]
    # x broke once (a fix): churn log2(3) × trouble 2 × knowledge 1.5 (one author here) = 4.75
    # ranks above y, changed once: log2(2) × 1 × 1.5 = 1.5.
    assert [(f.path, f.hotspot_score, f.fixes) for f in sim.lost] == [
        ("core/x.py", 4.75, 1),
        ("core/y.py", 1.5, 0),
    ]
    assert sim.lost[0].holders == ["Ana Lima"]
    data = sim.to_json()
    assert data["lost"][0]["path"] == "core/x.py" and data["files_lost"] == 2
    assert "| s:core/x.py |" in sim.to_markdown()
    both = history_kb.risk.simulate_departure(["Ana Lima", "Bo Chen"])
    assert both.files_lost == 7 and both.repos_unknowable == ["s", "t"]


def test_month_ends_keep_the_recent_months_when_they_must_thin_out() -> None:
    ends, step = month_ends(
        datetime(2024, 1, 15, tzinfo=UTC), datetime(2024, 4, 3, tzinfo=UTC), max_points=48
    )
    assert step == 1
    assert [e.strftime("%Y-%m-%d") for e in ends] == [
        "2024-01-31", "2024-02-29", "2024-03-31", "2024-04-03",
    ]  # fmt: skip
    ends, step = month_ends(
        datetime(2005, 1, 1, tzinfo=UTC), datetime(2026, 4, 3, tzinfo=UTC), max_points=48
    )
    assert step == 6 and len(ends) <= 48
    assert [e.strftime("%Y-%m") for e in ends[-3:]] == ["2025-04", "2025-10", "2026-04"]


def test_risk_history_replays_files_authorship_and_departures_month_by_month(
    history_kb: KB, tmp_path: Path
) -> None:
    r = Repo(tmp_path / "h")

    def on(day: str, message: str, files: dict[str, str | None], who: tuple[str, str]) -> None:
        r.commit(message, files, who, when=datetime.fromisoformat(day + "T10:00:00+00:00"))

    on("2024-01-10", "core", {"core/x.py": "x\n", "core/y.py": "y\n"}, ANA)
    on("2024-02-10", "api", {"api/h.py": "h\n"}, BO)
    on("2024-03-10", "old", {"old/o.py": "o\n"}, ANA)  # Ana's last commit
    on("2024-04-10", "drop old", {"old/o.py": None}, BO)
    r.git("mv", "api/h.py", "api/handler.py")
    on("2024-05-10", "rename", {}, BO)
    on("2025-01-15", "tune", {"api/handler.py": "h2\n"}, BO)  # kb's "now"
    _ingest(history_kb, r, "h")
    hist = history_kb.risk.history()
    months = [p.month for p in hist.points]
    assert hist.step_months == 1
    assert months[0] == "2024-01" and months[-1] == "2025-01" and len(months) == 13
    by = {p.month: p for p in hist.points}
    # January: Ana's two files; the truck factor is Ana.
    assert (by["2024-01"].files, by["2024-01"].truck_factor) == (2, 1)
    assert by["2024-01"].truck_factor_authors == ["Ana Lima"]
    # March: x, y, o (Ana) and h (Bo); April: o deleted; May: h renamed, still Bo's.
    assert [by[m].files for m in ("2024-02", "2024-03", "2024-04", "2024-05")] == [3, 4, 3, 3]
    # Ana's last activity is 2024-03-10: 270 days later (2024-12-05) she counts as gone.
    assert by["2024-11"].departed == [] and by["2024-11"].orphaned_files == 0
    assert by["2024-12"].departed == ["Ana Lima"]
    assert (by["2024-12"].orphaned_files, by["2024-12"].orphaned_share) == (2, 0.667)
    assert by["2024-12"].truck_factor == 0  # only Bo's file is known: under half already
    # The series ends on what the bus-factor report says now.
    last, ov = hist.points[-1], history_kb.risk.overview()
    assert (last.truck_factor, last.files, last.orphaned_files) == (
        ov.truck_factor, ov.files, ov.orphaned_files,
    )  # fmt: skip
    assert hist.to_json()["points"][-1]["orphaned_share"] == 0.667
    assert "from 1 to 0" in hist.to_markdown()
    # Kept while the facts stay the same.
    assert history_kb.risk.history() is hist


def test_empty_knowledge_base_views(history_kb: KB) -> None:
    assert history_kb.risk.overview().files == 0
    assert history_kb.risk.history().points == []
    assert history_kb.risk.treemap().nodes == []
    assert "kb ingest git" in history_kb.risk.overview().to_markdown()
    assert history_kb.incident_log().incidents == []
    assert history_kb.sources().sources == []


class _Flaky:
    """A connector that reads one item and fails on another, then checkpoints."""

    kind: ClassVar[str] = "flaky"

    def load(self, cursor: dict[str, Any]) -> Iterator[Record]:
        yield Failure("export/bad.json:12", "not JSON")
        yield Checkpoint({"done": True})


class _Broken:
    kind: ClassVar[str] = "broken"

    def load(self, cursor: dict[str, Any]) -> Iterator[Record]:
        raise OSError("the export vanished")
        yield  # pragma: no cover


def test_every_ingest_run_is_recorded_with_its_failures(history_kb: KB, tmp_path: Path) -> None:
    before = history_kb.version()
    r = Repo(tmp_path / "s")
    r.commit("one", {"a.py": "a\n"}, ANA)
    _ingest(history_kb, r, "s")
    _ingest(history_kb, r, "s")  # nothing new: still a run
    history_kb.ingestor().run(SourceConfig("flaky", "x", "/exports/x", {}), _Flaky())
    with pytest.raises(OSError):
        history_kb.ingestor().run(SourceConfig("broken", "y", "/exports/y", {}), _Broken())
    assert history_kb.version() != before
    overview = history_kb.sources()
    by = {(s.kind, s.name): s for s in overview.sources}
    git = by[("git", "s")]
    assert (git.runs, git.last_ok) == (2, True)
    assert git.last_report is not None and git.last_report["commits_written"] == 0
    assert git.last_finished_at is not None and git.last_started_at <= git.last_finished_at
    flaky = by[("flaky", "x")]
    assert flaky.last_ok is False
    assert overview.failures == [
        {"source": "flaky:x", "where": "export/bad.json:12", "message": "not JSON"}
    ]
    broken = by[("broken", "y")]
    assert broken.last_ok is False and broken.last_report["error"] == "the export vanished"
    assert overview.counts["commits"] == 1
    data = overview.to_json()
    assert data["sources"][0]["last_run"]["summary"]["kind"]
    assert "export/bad.json:12" in overview.to_markdown()


def test_wisdom_table_links_entries_to_their_source_on_the_forge(
    history_kb: KB, tmp_path: Path
) -> None:
    r = Repo(tmp_path / "s")
    r.commit("core", {"core/x.py": "x\n"}, ANA)
    for i in range(4):
        r.commit(f"fix: x breaks {i}", {"core/x.py": f"x{i}\n"}, ANA)
    _ingest(history_kb, r, "s", web_url="https://git.example.com/shop/s")
    history_kb.hotspots.refresh_danger_zones()  # what a full ingest does after the run
    table = history_kb.staleness.table()
    (row,) = [x for x in table.rows() if x["path"] == "core/x.py"]
    head = r.head()
    assert row["url"] == f"https://git.example.com/shop/s/blob/{head}/core/x.py"
    assert row["kind"] == "danger_zone" and row["stale"] is False and row["reasons"] == []
    assert "danger_zone" in table.to_markdown()


def test_incident_log_correlates_known_issues_and_changes(
    demo_kb: tuple[KB, list[object]],
) -> None:
    app, _ = demo_kb
    log = app.incident_log()
    ids = [i.row.label for i in log.incidents]
    # Newest first: incidents with an id, and the alert threads of #incidents.
    assert [i for i in ids if i.startswith("INC-")] == [
        "INC-2026-09", "INC-2026-08", "INC-2026-05", "INC-2025-11", "INC-2025-07",
        "INC-2025-02", "INC-2024-03",
    ]  # fmt: skip
    assert "#incidents 2024-03-14 14:02" in ids
    deadlock = next(i for i in log.incidents if i.row.label == "INC-2025-07").to_json()
    assert deadlock["severity"] == "high" and deadlock["minutes"] == 38
    assert deadlock["services"] == ["inventory-service", "order-service"]
    assert "inverted the lock order" in deadlock["root_cause"]
    assert deadlock["postmortem"]["path"] == "docs/postmortems/2025-07-22-inventory-deadlock.md"
    why = {c["subject"]: c["why"] for c in deadlock["changes"]}
    # The change that caused it (the day before), and its revert, which names the incident.
    assert why["perf(inventory): lock sku rows first in release_expired (INV-471)"] == (
        "changed in the 72 h before"
    )
    assert why['Revert "perf(inventory): lock sku rows first in release_expired (INV-471)"'] == (
        "names INC-2025-07"
    )
    assert all(k["service"] in deadlock["services"] for k in deadlock["known_issues"])
    email = app.incident_log("notification-service").to_json()["incidents"]
    assert "INC-2025-02" in [i["id"] for i in email]
    assert all("notification-service" in i["services"] for i in email)
    assert "| 2024-03-14 | INC-2024-03 | critical |" in log.to_markdown()
