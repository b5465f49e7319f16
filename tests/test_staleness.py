"""Staleness: wisdom whose files changed substantially since it was recorded, or whose teller
(or source author) has departed, is flagged for re-verification with its evidence."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from facts import Facts
from gitrepo import Repo
from sqlalchemy import update

from kb.analysis.staleness import StalenessService, matches
from kb.app import KB
from kb.cli import cli
from kb.contract.connector import SourceConfig
from kb.contract.records import PersonRecord, WisdomRecord
from kb.settings import Settings
from kb.store.models import WisdomEntry, WisdomKind, WisdomOrigin

ANA = ("Ana Lima", "ana@x.io")
BO = ("Bo Chen", "bo@x.io")
CY = ("Cy Diaz", "cy@x.io")


pytestmark = pytest.mark.usefixtures("isolated_git")


def _rule(key: str, path: str | None, when: datetime, by: str | None = None) -> WisdomRecord:
    return WisdomRecord(
        external_id=f"test:{key}", kind=WisdomKind.UNWRITTEN_RULE, title=key,
        body=f"rule {key}", origin=WisdomOrigin.TAUGHT, repo="r" if path else None,
        path_glob=path, said_by_email=by, created_at=when,
    )  # fmt: skip


def _build(app: KB, path: Path) -> dict[str, Any]:
    repo = Repo(path)
    repo.commit("the ADR", {"docs/adr/0001-x.md": "# ADR\n"}, CY)
    cy_last = repo.clock
    repo.clock += timedelta(days=400)  # cy never comes back: departed after 270 days
    repo.commit("start", {"src/a.py": "a\n", "src/b.py": "b\n", "src/legacy/old.py": "o\n",
                          "src/legacy/keep.py": "k\n", "src/moved.py": "m\n"}, ANA)  # fmt: skip
    recorded = repo.clock + timedelta(minutes=30)
    shas = [repo.commit(f"tune a {i}", {"src/a.py": f"a{i}\n"}, BO) for i in range(3)]
    repo.commit("tune b", {"src/b.py": "b1\n"}, BO)
    repo.commit("tune b again", {"src/b.py": "b2\n", "src/legacy/keep.py": "k2\n"}, BO)
    repo.commit("drop old", {"src/legacy/old.py": None}, ANA)
    repo.git("mv", "src/moved.py", "src/new_place.py")
    repo.commit("move it", author=ANA)
    late = repo.clock + timedelta(days=1)
    report = app.ingestor().run(SourceConfig("git", "r", str(repo.path), {"history_only": True}))
    assert report.ok, report.failures
    facts = Facts(
        PersonRecord(name="Dee Park", emails=("dee@x.io",), left_at=recorded, seen_at=late),
        _rule("a-changed", "src/a.py", recorded),
        _rule("b-twice", "src/b.py", recorded),
        _rule("legacy-glob", "src/legacy/*", recorded),
        _rule("moved", "src/moved.py", recorded),
        _rule("a-after", "src/a.py", late),
        _rule("a-verified", "src/a.py", recorded),
        _rule("by-cy", None, recorded, by="cy@x.io"),
        _rule("by-dee", None, recorded, by="dee@x.io"),
        _rule("by-ana", None, recorded, by="ana@x.io"),
    )
    app.ingestor().run(SourceConfig("slack", "facts", "local", {}), connector=facts)
    with app.store.transaction() as s:
        s.execute(
            update(WisdomEntry)
            .where(WisdomEntry.external_id == "test:a-verified")
            .values(last_verified_at=late)
        )
    return {"shas": shas, "recorded": recorded, "cy_last": cy_last}


def test_stale_reasons_on_a_crafted_repository(history_kb: KB, tmp_path: Path) -> None:
    built = _build(history_kb, tmp_path / "r")
    stale = {e.entry.external_id.removeprefix("test:"): e for e in history_kb.staleness.stale()}
    assert sorted(stale) == ["a-changed", "by-cy", "by-dee", "legacy-glob", "moved"]

    (changed,) = stale["a-changed"].reasons
    assert changed.kind == "changed"
    assert [c["sha"] for c in changed.evidence["commits"]] == [s[:10] for s in built["shas"]]
    assert changed.evidence["commits"][0]["author"] == "Bo Chen"
    day = built["recorded"].date().isoformat()
    assert changed.detail.startswith(f"src/a.py changed in 3 commits since {day}")

    (deleted,) = stale["legacy-glob"].reasons  # keep.py's 1 change alone would not count
    assert (deleted.kind, deleted.evidence["path"]) == ("deleted", "src/legacy/old.py")

    (moved,) = stale["moved"].reasons
    assert moved.kind == "renamed" and moved.evidence["renamed_to"] == "src/new_place.py"

    (cy,) = stale["by-cy"].reasons
    assert cy.kind == "departed" and cy.evidence["role"] == "teller"
    assert cy.evidence["last_activity"] == built["cy_last"].date().isoformat()
    assert "Cy Diaz (teller) has been inactive since" in cy.detail

    (dee,) = stale["by-dee"].reasons
    assert dee.evidence == {"person": "Dee Park", "role": "teller", "left_at": day}

    # A stricter rule by argument: two commits are enough to flag b.py.
    strict = StalenessService(history_kb.store, history_kb.reader, min_commits=2).stale()
    assert "test:b-twice" in {e.entry.external_id for e in strict}
    only_kind = history_kb.staleness.stale(kind=WisdomKind.DANGER_ZONE)
    assert list(only_kind) == []


def test_path_globs() -> None:
    assert matches("src/a.py", "src/a.py") and not matches("src/a.py", "src/a.pyc")
    assert matches("src/legacy/*", "src/legacy/old.py")
    assert matches("src/legacy/", "src/legacy/deep/x.py")
    assert matches("**/*.sql", "db/migrations/0001.sql")
    assert not matches("src/legacy/*", "src/other.py")


def test_cli_wisdom_and_stale(tmp_path: Path) -> None:
    app = KB(Settings(home=tmp_path / "kb"))
    app.store.migrate()
    _build(app, tmp_path / "r")
    app.close()
    runner = CliRunner()
    home = ["--home", str(tmp_path / "kb")]
    res = runner.invoke(cli, [*home, "wisdom", "--stale", "--json"], obj={})
    assert res.exit_code == 0, res.output
    entries = {e["id"]: e for e in json.loads(res.output)["entries"]}
    assert set(entries) == {"test:a-changed", "test:by-cy", "test:by-dee", "test:legacy-glob",
                            "test:moved"}  # fmt: skip
    assert entries["test:moved"]["reasons"][0]["kind"] == "renamed"
    assert entries["test:by-cy"]["said_by"] == "Cy Diaz"
    listing = runner.invoke(cli, [*home, "wisdom", "--json"], obj={})
    assert len(json.loads(listing.output)["entries"]) == 9
    human = runner.invoke(cli, [*home, "wisdom", "--stale"], obj={})
    assert human.exit_code == 0
    assert "src/moved.py was renamed to src/new_place.py" in human.output
    none = runner.invoke(cli, [*home, "wisdom", "--kind", "danger_zone"], obj={})
    assert none.exit_code == 0 and "No wisdom entries match." in none.output


def test_demo_stale_wisdom(demo_kb: tuple[KB, list[Any]], demo_org: Any) -> None:
    app, _ = demo_kb
    stale = {e.entry.external_id: e for e in app.staleness.stale()}
    # user-service's ADR-0001 was written by Chen Wei, who has left since.
    adr = next(k for k in stale if k.startswith("git:user-service:file:docs/adr/0001"))
    (reason,) = stale[adr].reasons
    chen = demo_org.people["chen"]
    assert reason.kind == "departed" and reason.evidence["person"] == chen["name"]
    assert reason.evidence["role"] == "author of its source"
    # Hotspot danger zones are recomputed at every ingest: never stale by their files.
    assert not any(k.startswith("hotspot:") for k in stale)
    # Nothing Alex (still here) wrote or said is flagged for his departure.
    alex = demo_org.people["alex"]["name"]
    assert not any(r.evidence.get("person") == alex for e in stale.values() for r in e.reasons)
