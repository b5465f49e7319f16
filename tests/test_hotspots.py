"""Hotspots: crafted git repositories ingested by kb, scored by hand; the demo's danger zones.

Score = log2(1 + changes) × (1 + fixes + 2·reverts) × knowledge × (1 + incidents), where
knowledge is 2 with no author still here, 1.5 with one, 1 with more.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from facts import Facts
from gitrepo import Repo

from kb.app import KB
from kb.cli import cli
from kb.contract.connector import SourceConfig
from kb.contract.records import IncidentRecord, Record, ServiceRecord, WisdomRecord
from kb.settings import Settings
from kb.store import risk as sr
from kb.store.models import Severity, WisdomKind, WisdomOrigin
from kb.store.writer import RecordWriter

ANA = ("Ana Lima", "ana@x.io")
BO = ("Bo Chen", "bo@x.io")


pytestmark = pytest.mark.usefixtures("isolated_git")


def _ingest(app: KB, repo: Repo, name: str = "r") -> None:
    """A history-only ingest (the quick path leaves danger zones alone), then the refresh
    `kb hotspots --save` runs (a full ingest runs it by itself)."""
    report = app.ingestor().run(SourceConfig("git", name, str(repo.path), {"history_only": True}))
    assert report.ok, report.failures
    app.hotspots.refresh_danger_zones(name)


def test_history_only_ingest_leaves_danger_zones_to_save(history_kb: KB, tmp_path: Path) -> None:
    repo, _ = _crafted(tmp_path / "q")
    report = history_kb.ingestor().run(
        SourceConfig("git", "q", str(repo.path), {"history_only": True})
    )
    assert report.ok and _hotspot_zones(history_kb) == {}
    assert history_kb.hotspots.refresh_danger_zones("q") == {"q": 1}
    assert list(_hotspot_zones(history_kb)) == ["hotspot:q:src/core.py"]


def _facts(app: KB, *records: Record) -> None:
    app.ingestor().run(SourceConfig("slack", "facts", "local", {}), connector=Facts(*records))


def _crafted(path: Path) -> tuple[Repo, dict[str, str]]:
    """core.py: 9 changes by ana (3 fixes, 1 revert); calm.py: 9 changes by ana and bo."""
    repo = Repo(path)
    shas: dict[str, str] = {}
    repo.commit("start", {"src/core.py": "0\n", "src/calm.py": "0\n", "src/once.py": "1\n"}, ANA)
    repo.commit("add tests", {"tests/test_core.py": "t0\n"}, ANA)
    for i in range(4):
        repo.commit(f"feature {i}", {"src/core.py": f"f{i}\n", "src/calm.py": f"a{i}\n"}, ANA)
        repo.commit(f"polish calm {i}", {"src/calm.py": f"b{i}\n"}, BO)
    shas["fix1"] = repo.commit("fix: retry loop double charges", {"src/core.py": "x1\n"}, ANA)
    shas["fix2"] = repo.commit("Hotfix timeout in core", {"src/core.py": "x2\n"}, ANA)
    shas["bad"] = repo.commit("speed up core", {"src/core.py": "x3\n"}, ANA)
    shas["revert"] = repo.commit(
        f'Revert "speed up core"\n\nThis reverts commit {shas["bad"]}.',
        {"src/core.py": "x2\n"},
        ANA,
    )
    shas["fix3"] = repo.commit(
        "fix crash on empty cart", {"src/core.py": "x4\n", "tests/test_core.py": "t1\n"}, ANA
    )
    for i in range(3):
        repo.commit(f"fix flaky test {i}", {"tests/test_core.py": f"t{i + 2}\n"}, ANA)
    return repo, shas


def test_scores_and_evidence_on_a_crafted_repository(history_kb: KB, tmp_path: Path) -> None:
    repo, shas = _crafted(tmp_path / "r")
    _ingest(history_kb, repo)
    spots = {h.path: h for h in history_kb.hotspots.hotspots(repo="r", limit=None)}
    core = spots["src/core.py"]
    # start + 4 features + fix1 + fix2 + bad + revert + fix3 = 10 changes; the revert's
    # subject says nothing of a fix, so fixes are fix1, fix2, fix3.
    assert core.changes == 10
    assert [c.sha for c in core.fixes] == [shas["fix3"][:10], shas["fix2"][:10], shas["fix1"][:10]]
    assert [c.sha for c in core.reverts] == [shas["revert"][:10]]
    assert core.fixes[-1].subject == "fix: retry loop double charges"
    assert core.authors_here == ["Ana Lima"]
    assert core.factors == {"churn": round(math.log2(11), 3), "trouble": 6.0,
                            "knowledge": 1.5, "incidents": 1.0}  # fmt: skip
    assert core.score == pytest.approx(math.log2(11) * 6 * 1.5, abs=0.01)
    # calm.py: 9 changes, no fix, two authors: log2(10) × 1 × 1 × 1.
    calm = spots["src/calm.py"]
    assert calm.changes == 9 and not calm.fixes and calm.authors_here == ["Ana Lima", "Bo Chen"]
    assert calm.score == pytest.approx(math.log2(10), abs=0.01)
    ranked = history_kb.hotspots.hotspots(repo="r")
    assert ranked[0].path == "src/core.py"
    assert core.summary() == (
        "changed 10 times, 3 fixes and 1 revert, last 2024-01-01; only Ana Lima still knows it"
    )


def test_danger_zones_are_written_replaced_and_dropped(history_kb: KB, tmp_path: Path) -> None:
    repo, shas = _crafted(tmp_path / "r")
    _ingest(history_kb, repo)
    zones = _hotspot_zones(history_kb)
    # core.py qualifies; calm.py has no trouble; tests are not danger zones however hot.
    assert list(zones) == ["hotspot:r:src/core.py"]
    core = zones["hotspot:r:src/core.py"]
    assert (core.kind, core.origin, core.path_glob, core.repo) == (
        "danger_zone", "extracted", "src/core.py", "r")  # fmt: skip
    assert core.severity == Severity.HIGH.value  # log2(11)·6·1.5 = 31.13: 25..60
    assert core.body.startswith("Changed 10 times, 3 fixes and 1 revert")
    assert shas["fix1"][:10] in core.body and "fix: retry loop double charges" in core.body
    assert core.meta["hotspot"]["fixes"] == 3 and core.meta["hotspot"]["reverts"] == 1

    # A danger zone from a code comment is not the refresh's to touch.
    with history_kb.store.transaction() as s:
        RecordWriter(s, None).wisdom(
            WisdomRecord(
                external_id="git:r:file:src/calm.py#danger:k1", kind=WisdomKind.DANGER_ZONE,
                title="DO NOT reorder", body="DO NOT reorder the calls", repo="r",
                path_glob="src/calm.py",
            )
        )  # fmt: skip

    # An incident naming core.py (its basename), and a service owning src/.
    _facts(
        history_kb,
        ServiceRecord(name="core-svc", repo="r", path_prefix="src"),
        IncidentRecord(
            external_id="incident:INC-2030-01", title="Checkout double charges",
            root_cause="The retry loop in core.py retried without an idempotency key.",
            services=("core-svc",),
        ),
    )  # fmt: skip
    zones = _hotspot_zones(history_kb)
    core = zones["hotspot:r:src/core.py"]
    assert core.service == "core-svc"
    assert "mentioned in INC-2030-01" in core.body
    assert core.severity == Severity.CRITICAL.value  # 31.13 × 2 incidents = 62.27
    # re-ingesting changes nothing and duplicates nothing
    before = {k: (v.id, v.body) for k, v in zones.items()}
    _ingest(history_kb, repo)
    assert {k: (v.id, v.body) for k, v in _hotspot_zones(history_kb).items()} == before

    # core.py is deleted: it is no hotspot any more and loses its entry; the comment stays.
    repo.commit("drop core", {"src/core.py": None}, ANA)
    _ingest(history_kb, repo)
    assert _hotspot_zones(history_kb) == {}
    ids = {r.external_id for r in sr.wisdom_rows(history_kb.store)}
    assert "git:r:file:src/calm.py#danger:k1" in ids


def _hotspot_zones(app: KB) -> dict[str, sr.WisdomRow]:
    rows = sr.wisdom_rows(app.store, kinds=(WisdomKind.DANGER_ZONE,))
    return {r.external_id: r for r in rows if r.external_id.startswith("hotspot:")}


def test_cli_hotspots_json(tmp_path: Path) -> None:
    repo, _ = _crafted(tmp_path / "r")
    app = KB(Settings(home=tmp_path / "kb"))
    app.store.migrate()
    _ingest(app, repo)
    app.close()
    runner = CliRunner()
    res = runner.invoke(cli, ["--home", str(tmp_path / "kb"), "hotspots", "--json", "--limit",
                              "2"], obj={})  # fmt: skip
    assert res.exit_code == 0, res.output
    data = json.loads(res.output)["hotspots"]
    assert [h["path"] for h in data] == ["src/core.py", "tests/test_core.py"]
    assert data[0]["fixes"] == 3 and data[0]["authors_here"] == ["Ana Lima"]
    human = runner.invoke(cli, ["--home", str(tmp_path / "kb"), "hotspots"], obj={})
    assert human.exit_code == 0 and "src/core.py" in human.output
    bad = runner.invoke(cli, ["--home", str(tmp_path / "kb"), "hotspots", "--repo", "nope"],
                        obj={})  # fmt: skip
    assert bad.exit_code == 1 and "no repository 'nope'" in bad.output


def test_demo_danger_zones_and_incident_files_rank_high(demo_kb: tuple[KB, list[Any]],
                                                        demo_org: Any) -> None:  # fmt: skip
    app, _ = demo_kb
    spots = app.hotspots.hotspots(limit=None)
    rank = {f"{h.repo}:{h.path}": i for i, h in enumerate(spots)}
    by_key = {f"{h.repo}:{h.path}": h for h in spots}
    # The lock-ordering file behind INC-2025-07 is the hottest file of the organisation,
    # with the incidents that name it as evidence (INC-2025-11 recurred there).
    top = spots[0]
    assert (top.repo, top.path) == ("inventory-service", "src/inventory/reservations.py")
    incidents = {i.id: i for i in top.incidents}
    assert set(incidents) == {"INC-2025-07", "INC-2025-11"}
    assert "mentioned" in incidents["INC-2025-07"].how
    assert top.reverts and top.fixes and top.authors_here == ["Alex Morgan"]
    # Most danger zones the team wrote down in comments rank in the top quarter.
    quarter = len(spots) // 4
    zones = [f"{z['repo']}:{z['path']}" for z in demo_org.danger_zones]
    high = [z for z in zones if rank.get(z, len(spots)) < quarter]
    assert len(high) >= len(zones) * 2 // 3, {z: rank.get(z) for z in zones}
    # Every incident links files: by a mention, or by the tickets of the commits changing them.
    for incident in demo_org.incidents:
        linked = [k for k, h in by_key.items() if any(i.id == incident["id"] for i in h.incidents)]
        assert linked, incident["id"]
    # The extracted hotspot danger zones stand beside the comment ones, top 5 per repo.
    rows = sr.wisdom_rows(app.store, kinds=(WisdomKind.DANGER_ZONE,))
    hot = [r for r in rows if r.external_id.startswith("hotspot:")]
    assert {r.origin for r in hot} == {WisdomOrigin.EXTRACTED.value}
    assert max(sum(r.repo == name for r in hot) for name in demo_org.repos) <= 5
    res = next(r for r in hot if r.path_glob == "src/inventory/reservations.py")
    assert res.severity == "critical" and res.service == "inventory-service"
    assert "only Alex Morgan still knows it" in res.body and "INC-2025-07" in res.body
    comments = [r for r in rows if r.external_id.startswith("git:")]
    assert len(comments) == len(demo_org.danger_zones)
