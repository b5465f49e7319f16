"""Truck factor: the published algorithm on hand-worked examples, then kb's default mode.

Expected values are worked out by hand in the comments (DOA = 3.293 + 1.098·FA + 0.164·DL
− 0.321·ln(1 + AC)); the crafted repositories are real git repositories ingested by kb.
"""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from gitrepo import Repo

from kb.analysis.authorship import (
    Change,
    authorship_map,
    doa,
    file_authorship,
    file_histories,
    truck_factor,
)
from kb.analysis.busfactor_facts import java_fold
from kb.app import KB
from kb.contract.connector import SourceConfig
from kb.errors import NotFoundError
from kb.store import history as sh
from kb.store.models import ChangeType
from kb.store.reader import Reader

A, M, R = ChangeType.ADD, ChangeType.MODIFY, ChangeType.RENAME

ANA = ("Ana Lima", "ana@x.io")
ANA_CASE = ("A. Lima", "ANA@X.IO")  # same email, other case and name
ANA_ACCENT = ("Âna Lima", "ana.lima@gmail.com")  # same name once accents are stripped
BO = ("Bo Chen", "bo@x.io")
CY = ("Cy Diaz", "cy@x.io")
DEPENDABOT = ("dependabot[bot]", "49699333+dependabot[bot]@users.noreply.github.com")


pytestmark = pytest.mark.usefixtures("isolated_git")


# -- the formula and the author rule ---------------------------------------------------------


def test_doa_formula_by_hand() -> None:
    assert doa(True, 0, 0) == pytest.approx(4.391)
    assert doa(False, 3, 1) == pytest.approx(3.293 + 0.492 - 0.321 * math.log(2))
    assert doa(True, 1, 3) == pytest.approx(4.555 - 0.321 * math.log(4))


def test_author_rule_relative_and_absolute() -> None:
    # ana adds, bo modifies 3 times, ana once: ana 4.555 - 0.321 ln 4 = 4.110 (FA, DL 1, AC 3);
    # bo 3.785 - 0.321 ln 2 = 3.5625 (DL 3, AC 1) -> 0.867 of ana's: both author it.
    history = [Change(A, "f", None, ("ana",))] + [Change(M, "f", None, ("bo",))] * 3
    history.append(Change(M, "f", None, ("ana",)))
    facts = file_authorship(history)
    assert facts["ana"].doa == pytest.approx(4.110, abs=1e-3)
    assert facts["bo"].doa == pytest.approx(3.5625, abs=1e-3)
    assert (facts["ana"].acceptances, facts["bo"].acceptances) == (3, 1)
    assert facts["ana"].author and facts["bo"].author
    # cy's single change among 9 others: 3.457 - 0.321 ln 10 = 2.718, 0.66 of the best: not
    # an author (neither relative nor absolute threshold holds).
    history.append(Change(M, "f", None, ("cy",)))
    history.extend([Change(M, "f", None, ("ana",))] * 4)
    assert not file_authorship(history)["cy"].author


def test_a_file_can_have_no_author() -> None:
    # Only modifications, the best one has DOA < 3.293 and no first authorship: nobody.
    # (the add was made by someone outside the analysis: devs=())
    history = [Change(A, "f", None, ())] + [
        Change(M, "f", None, (d,)) for d in ("a", "b", "c", "d", "e", "f")
    ]
    facts = file_authorship(history)
    assert facts["a"].doa < 3.293
    assert not any(a.author for a in facts.values())


def test_renames_followed_by_path_and_deletes_copies_ignored() -> None:
    changes = [
        Change(A, "old.py", None, ("ana",)),
        Change(M, "old.py", None, ("bo",)),
        Change(R, "mid.py", "old.py", ("cy",)),
        Change(R, "new.py", "mid.py", ("cy",)),
        Change(ChangeType.DELETE, "gone.py", None, ("bo",)),
        Change(ChangeType.COPY, "copy.py", "new.py", ("bo",)),
    ]
    histories = file_histories(["new.py", "copy.py"], changes)
    assert list(histories) == ["new.py"]  # copy.py has no add/modify/rename: not analysed
    assert [c.kind for c in histories["new.py"]] == [A, M, R, R]


def test_a_rename_is_followed_once_as_the_reference_tool_does() -> None:
    # o.py -> n.py -> p.py; later a new n.py is added and renamed to q.py. Both p.py and q.py
    # reach n.py's entries, which hold the o.py -> n.py rename. The reference tool marks a
    # rename as handled when it first expands it, for good: p.py (first in path order) gets
    # o.py's add, q.py does not.
    changes = [
        Change(A, "o.py", None, ("ana",)),
        Change(R, "n.py", "o.py", ("bo",)),
        Change(R, "p.py", "n.py", ("cy",)),
        Change(A, "n.py", None, ("dee",)),
        Change(R, "q.py", "n.py", ("eve",)),
    ]
    h = file_histories(["q.py", "p.py"], changes)
    assert sorted(c.devs[0] for c in h["p.py"]) == ["ana", "bo", "cy", "dee"]
    assert sorted(c.devs[0] for c in h["q.py"]) == ["bo", "dee", "eve"]


# -- the greedy truck factor -----------------------------------------------------------------


def test_ties_on_files_go_to_more_changes() -> None:
    # d, e, f author two files each; e changed most, then d, then f.
    # 6/6 -> remove e -> 4/6 -> remove d -> 2/6 < 50%: TF 2 = {e, d}, never f.
    authored = {"d": {"d1", "d2"}, "e": {"e1", "e2"}, "f": {"f1", "f2"}}
    files = {f for fs in authored.values() for f in fs}
    tf = truck_factor(authored, files, {"d": 5, "e": 9, "f": 2})
    assert (tf.truck_factor, tf.authors) == (2, ["e", "d"])
    assert tf.coverage[:3] == [1.0, pytest.approx(4 / 6), pytest.approx(2 / 6)]


def test_exactly_half_still_counts_as_covered() -> None:
    tf = truck_factor({"a": {"1", "2"}, "b": {"3", "4"}}, {"1", "2", "3", "4"}, {"a": 2, "b": 1})
    assert tf.truck_factor == 2  # after a: 2/4 = 50% is not below half


def test_reference_tool_prunes_members_with_under_a_tenth_of_the_top() -> None:
    # top authors 20 of 40 files, 20 others one file each: removing top leaves exactly 50%,
    # so one more goes (19/40): TF 2 by the greedy rule, 1 once pruned (1/20 < 10%).
    authored: dict[str, set[str]] = {"top": {f"t{i}" for i in range(20)}}
    for i in range(20):
        authored[f"dev{i:02}"] = {f"o{i}"}
    files = {f for fs in authored.values() for f in fs}
    changes = {k: len(v) for k, v in authored.items()}
    assert truck_factor(authored, files, changes).truck_factor == 2
    pruned = truck_factor(authored, files, changes, prune=True)
    assert (pruned.truck_factor, pruned.authors) == (1, ["top"])


def test_departed_people_are_gone_before_the_count_starts() -> None:
    authored = {"gone": {"1", "2", "3"}, "here": {"4", "5"}, "new": {"5"}}
    tf = truck_factor(authored, {"1", "2", "3", "4", "5"}, {}, gone={"gone"})
    # Only 2/5 known now: below half already, the truck factor is 0.
    assert tf.truck_factor == 0 and tf.coverage[0] == pytest.approx(0.4)
    assert "gone" not in tf.ranking


def test_java_identity_folding() -> None:
    assert java_fold("Âna Lima") == java_fold("ana lima") == "ANA LIMA"
    assert java_fold("Łukasz;x") == "LUKASZ&X"


# -- crafted repositories through kb ---------------------------------------------------------


def _ingest(app: KB, repo: Repo, name: str) -> None:
    report = app.ingestor().run(SourceConfig("git", name, str(repo.path), {"history_only": True}))
    assert report.ok, report.failures


def test_stored_history_reads_back_as_written_on_both_backends(
    history_kb: KB, tmp_path: Path, db_url: str
) -> None:
    """The read model comes straight from the driver: times UTC-aware whatever the session's
    time zone, co-authors decoded, flags as bools, the subject line, changes in order."""
    repo = Repo(tmp_path / "h")
    evening = datetime(2024, 3, 14, 23, 30, tzinfo=timezone(timedelta(hours=-5)))
    repo.commit("start", {"a.py": "a\n"}, ANA, when=evening)
    repo.commit("Fix the parser\n\nWhy.\n\nCo-authored-by: Cy Diaz <cy@x.io>", {"a.py": "b\n"}, BO)
    repo.git("mv", "a.py", "b.py")
    repo.commit("move a to b", author=BO)
    _ingest(history_kb, repo, "h")
    reader = history_kb.reader
    if not db_url.startswith("sqlite"):  # PostgreSQL hands back times in the session's zone
        sep = "&" if "?" in db_url else "?"
        reader = Reader(f"{db_url}{sep}options=-c%20timezone%3DAsia%2FKolkata")
        assert reader.one("SHOW timezone") == ("Asia/Kolkata",)
    hist = sh.repo_history(reader, "h")
    assert hist is not None
    start, fix, move = hist.commits.values()
    assert start.authored_at.isoformat() == "2024-03-15T04:30:00+00:00"
    assert all(c.authored_at.utcoffset() == timedelta(0) for c in (start, fix, move))
    assert fix.authored_at == datetime(2024, 1, 1, 10, 0, tzinfo=UTC)
    assert (start.co_authors, fix.co_authors) == ((), ("Cy Diaz <cy@x.io>",))
    assert (fix.subject, fix.is_fix, start.is_fix, fix.is_merge) == (
        "Fix the parser",
        True,
        False,
        False,
    )
    assert {type(v) for c in (start, fix) for v in (c.is_merge, c.is_fix, c.is_revert)} == {bool}
    assert [
        (hist.commits[ch.commit_id].subject, ch.kind, ch.path, ch.old_path) for ch in hist.changes
    ] == [
        ("start", ChangeType.ADD, "a.py", None),
        ("Fix the parser", ChangeType.MODIFY, "a.py", None),
        ("move a to b", ChangeType.RENAME, "b.py", "a.py"),
    ]
    assert all(type(ch.kind) is ChangeType for ch in hist.changes)
    if reader is not history_kb.reader:
        reader.close()


def _hand_worked_repo(path: Path) -> Repo:
    repo = Repo(path)
    repo.commit("start", {"f1": "1\n", "f2": "2\n", "f3": "three\n" * 20, "f4": "4\n"}, ANA)
    repo.commit("tune f1", {"f1": "1b\n"}, BO)
    repo.commit("tune f2", {"f2": "2b\n"}, ANA_ACCENT)
    repo.git("mv", "f3", "g3")
    repo.commit("move f3", author=BO)
    repo.commit("more", {"f5": "5\n", "f6": "6\n"}, CY)
    repo.commit("drop f6", {"f6": None}, CY)
    repo.commit("bring f6 back", {"f6": "six again\n"}, BO)
    repo.commit("tune f4", {"f4": "4b\n"}, ANA_CASE)
    return repo


def test_compatibility_mode_on_a_hand_worked_repository(history_kb: KB, tmp_path: Path) -> None:
    """Files at HEAD: f1 f2 g3 f4 f5 f6; ana = ana@x.io = ANA@X.IO = Âna Lima.

    f1: ana FA (4.391 - 0.321 ln 2 = 4.169), bo DL 1 (3.457, 0.83 of it): both author.
    f2: ana FA + DL 1 (as Âna): ana alone.   g3: f3's add by ana + bo's rename: both.
    f4: ana FA + DL 1 (as ANA@X.IO): ana.    f5: cy.
    f6: added by cy, deleted, re-added by bo: both FA = 1, both author.
    ana 4 files, bo 3, cy 2: 6/6 -> -ana 4/6 -> -bo 2/6 < 50%: TF 2 = {ana, bo}.
    """
    _ingest(history_kb, _hand_worked_repo(tmp_path / "r"), "r")
    report = history_kb.busfactor.report(algorithm="avelino2016")
    data = report.to_json()
    (repo,) = data["repos"]
    assert repo["files_analyzed"] == 6
    assert repo["truck_factor"] == 2
    assert repo["truck_factor_authors"] == ["Ana Lima", "Bo Chen"]
    assert len(report.developers) == 3  # the three aliases of ana are one developer
    people = {p["name"]: p["files_authored"] for p in data["people"]}
    assert people == {"Ana Lima": 4, "Bo Chen": 3, "Cy Diaz": 2}
    assert repo["coverage"][:3] == [
        1.0,
        pytest.approx(4 / 6, abs=1e-3),
        pytest.approx(2 / 6, abs=1e-3),
    ]
    facts = report.facts["r"].authorship
    assert sorted(report.name(k) for k in facts.authors("f6")) == ["Bo Chen", "Cy Diaz"]
    assert sorted(report.name(k) for k in facts.authors("g3")) == ["Ana Lima", "Bo Chen"]


def test_default_mode_leaves_out_bots_vendored_files_and_credits_co_authors(
    history_kb: KB, tmp_path: Path
) -> None:
    repo = Repo(tmp_path / "d")
    repo.commit(
        "start",
        {"app.py": "a\n", "vendor/lib.py": "v\n", "poetry.lock": "l\n", "deps.txt": "d\n"},
        ANA,
    )
    for i in range(6):  # the bot's churn on deps.txt is nobody's knowledge
        repo.commit(f"Bump x from {i} to {i + 1}", {"deps.txt": f"{i}\n", "bot.cfg": f"{i}\n"},
                    DEPENDABOT)  # fmt: skip
    repo.commit("rework app\n\nCo-authored-by: Cy Diaz <cy@x.io>", {"app.py": "b\n"}, BO)
    _ingest(history_kb, repo, "d")
    compat = history_kb.busfactor.report(algorithm="avelino2016").to_json()["repos"][0]
    default = history_kb.busfactor.report().to_json()["repos"][0]
    # compat: app.py, vendor/lib.py, poetry.lock, deps.txt, bot.cfg -- all of them.
    assert compat["files_analyzed"] == 5
    assert default["files_excluded"] == {"bots only": 1, "lock file": 1, "vendored": 1}
    assert default["files_analyzed"] == 2  # app.py, deps.txt
    report = history_kb.busfactor.report()
    authors = {report.name(k) for k in report.facts["d"].authorship.authors("app.py")}
    # ana FA (4.391 - 0.321 ln 3 = 4.038); bo and cy one delivery each (3.457 - 0.321 ln 2
    # = 3.234 < 3.293, and 0.80 of ana's): the relative test passes, the absolute fails.
    assert authors == {"Ana Lima"}
    facts = report.facts["d"].authorship.files["app.py"]
    credited = {report.name(k): a.deliveries for k, a in facts.items()}
    assert credited == {"Ana Lima": 0, "Bo Chen": 1, "Cy Diaz": 1}  # co-author credited
    deps = report.facts["d"].authorship.files["deps.txt"]
    assert [report.name(k) for k in deps] == ["Ana Lima"]  # the bot's 6 changes are not AC


def test_departed_people_and_leaver_simulation(history_kb: KB, tmp_path: Path) -> None:
    repo = Repo(tmp_path / "s")
    repo.commit("old work", {"old/a.py": "a\n", "old/b.py": "b\n"}, CY)
    repo.clock += timedelta(days=400)  # cy never comes back: departed after 270 days
    repo.commit("core", {"core/x.py": "x\n", "core/y.py": "y\n", "core/z.py": "z\n"}, ANA)
    repo.commit("api", {"api/h.py": "h\n"}, BO)
    repo.commit("api tune", {"api/h.py": "h2\n", "core/z.py": "z2\n"}, BO)
    _ingest(history_kb, repo, "s")
    report = history_kb.busfactor.report(without=["ana"])
    data = report.to_json()
    (s,) = data["repos"]
    # 6 files; cy's 2 are orphaned already. Known now: core/x, core/y, core/z (ana; bo also
    # authors z: DL 1, AC 0 -> 3.457, 0.83 of ana's 4.169), api/h.py (bo): 4/6.
    assert s["orphaned_files"] == 2
    assert s["truck_factor"] == 1 and s["truck_factor_authors"] == ["Ana Lima"]
    cy = next(p for p in data["people"] if p["name"] == "Cy Diaz")
    assert cy["departed"] and cy["sole_author_files"] == 0
    sim = data["without"]
    assert sim["people"] == ["Ana Lima"]
    assert (sim["files_known_now"], sim["files_lost"]) == (4, 2)  # core/x, core/y
    assert sim["share_files_lost"] == 0.5
    # core: only z stays known (1/3); api: bo's; old: unknown already, so not "becomes".
    assert sim["directories_unknowable"] == ["s:core"]
    with pytest.raises(NotFoundError, match="matches no one"):
        history_kb.busfactor.report(without=["nobody-at-all"])


def test_authorship_map_drops_files_without_history() -> None:
    amap = authorship_map(["a", "b"], [Change(A, "a", None, ("x",))])
    assert list(amap.files) == ["a"]


# -- experts, the CLI and the report -----------------------------------------------------------


def test_who_knows_a_path_and_flags_who_left(history_kb: KB, tmp_path: Path) -> None:
    repo = Repo(tmp_path / "w")
    repo.commit("tokens", {"src/tokens.py": "t\n", "src/keys.py": "k\n"}, CY)
    repo.commit("tune tokens", {"src/tokens.py": "t2\n"}, CY)
    repo.clock += timedelta(days=300)  # cy leaves; ana takes over
    for i in range(3):
        repo.commit(f"tokens {i}", {"src/tokens.py": f"t{i + 3}\n"}, ANA)
    repo.commit("docs", {"README.md": "r\n"}, BO)
    _ingest(history_kb, repo, "w")
    experts = history_kb.experts.who("w:src/tokens.py")
    assert experts.kind == "path" and experts.files == 1
    assert [e.name for e in experts.current] == ["Ana Lima"]
    ana = experts.current[0]
    assert (ana.files_authored, ana.commits, ana.recent_commits) == (1, 3, 3)
    assert ana.evidence["files"] == ["w:src/tokens.py"]
    assert [e.name for e in experts.departed] == ["Cy Diaz"]  # knew it, but left
    # A directory (no repo prefix) and the whole repo resolve too.
    assert history_kb.experts.who("src").scope == ["w:src"]
    assert history_kb.experts.who("w").kind == "repo"
    with pytest.raises(NotFoundError):
        history_kb.experts.who("no/such/file.py")


def test_cli_bus_factor_json_markdown_and_who(history_kb: KB, tmp_path: Path) -> None:
    from click.testing import CliRunner

    from kb.cli import cli

    _ingest(history_kb, _hand_worked_repo(tmp_path / "r"), "r")
    home = str(history_kb.settings.home)
    env = {"KB_DATABASE_URL": history_kb.settings.database_url or ""}
    runner = CliRunner()
    md = tmp_path / "out" / "bus-factor.md"
    res = runner.invoke(
        cli, ["--home", home, "bus-factor", "--json", "--without", "ana", "--markdown", str(md)],
        obj={}, env=env,
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    data = json.loads(res.output)
    assert {"repos", "services", "people", "heatmap", "without"} <= set(data)
    repo = data["repos"][0]
    assert {"name", "truck_factor", "truck_factor_authors", "files_analyzed", "coverage"} <= set(
        repo
    )
    assert data["without"]["people"] == ["Ana Lima"]
    text = md.read_text()
    assert text.startswith("# Knowledge risk: bus factor")
    assert "| r | 2 | Ana Lima, Bo Chen | 6 |" in text
    assert "## What if they left?" in text
    res = runner.invoke(cli, ["--home", home, "who", "r:f6", "--json"], obj={}, env=env)
    assert res.exit_code == 0, res.output
    assert {p["name"] for p in json.loads(res.output)["people"]} == {"Bo Chen", "Cy Diaz"}
    res = runner.invoke(cli, ["--home", home, "bus-factor", "--repo", "nope"], obj={}, env=env)
    assert res.exit_code == 1 and "no repository 'nope'" in res.output


def test_demo_senior_is_the_single_point_of_failure(
    demo_kb: tuple[KB, list[object]], demo_org: object
) -> None:
    """The seed's ground truth: if Alex leaves, 4 of 6 services become unknowable."""
    app, _ = demo_kb
    truth = demo_org.manifest["stories"]["bus_factor"]  # type: ignore[attr-defined]
    report = app.busfactor.report()
    data = report.to_json()
    services = {s["name"]: s for s in data["services"]}
    for name in truth["orphaned_services"]:
        assert services[name]["truck_factor_authors"] == ["Alex Morgan"], name
    people = {p["name"]: p for p in data["people"]}
    assert people["Alex Morgan"]["sole_author_files"] == max(
        p["sole_author_files"] for p in people.values()
    )
    # The departed (Ben, Chen, Jamie) are flagged, and files only they knew are orphaned.
    departed = {p["name"] for p in data["people"] if p["departed"]}
    assert {"Ben Okafor", "Chen Wei"} <= departed
    assert sum(r["orphaned_files"] for r in data["repos"]) > 0
    alex = next(k for k, d in report.developers.items() if d.name == "Alex Morgan")
    sim = report.simulate([alex])
    assert sorted(sim["services_unknowable"]) == sorted(truth["orphaned_services"])
    assert sim["share_services_unknowable"] == pytest.approx(truth["share"], abs=0.01)


def test_rename_chain_and_reused_path_as_the_reference_tool_reads_them(
    history_kb: KB, tmp_path: Path
) -> None:
    """a.py -> b.py -> c.py, then a new b.py. Expected facts are the reference tool's own
    output (aserg-ufmg/Truck-Factor, run on this very history): ann's a.py history lands
    on the new b.py, not on c.py, because b.py comes first and takes the rename for good."""
    ann, ben, cid, dee, eli = (
        (n, f"{n.lower()}@x.org") for n in ("Ann", "Ben", "Cid", "Dee", "Eli")
    )
    repo = Repo(tmp_path / "ro")
    text = "".join(f"line {i} of a\n" for i in range(5))
    repo.commit("ann adds a", {"a.py": text}, ann)
    for i in range(3):
        text += f"edit {i}\n"
        repo.commit(f"ann edits a {i}", {"a.py": text}, ann)
    repo.git("mv", "a.py", "b.py")
    repo.commit("ben renames a -> b", author=ben)
    repo.git("mv", "b.py", "c.py")
    repo.commit("cid renames b -> c", author=cid)
    repo.commit("dee adds a new b.py", {"b.py": "a brand new b.py\n"}, dee)
    repo.commit("eli adds two", {"other1.py": "1\n", "other2.py": "2\n"}, eli)
    _ingest(history_kb, repo, "ro")
    report = history_kb.busfactor.report(algorithm="avelino2016")
    files = report.facts["ro"].authorship.files

    def table(path: str) -> dict[str, tuple[bool, int, int, bool]]:
        return {
            report.name(k): (a.first_authorship, a.deliveries, a.acceptances, a.author)
            for k, a in files[path].items()
        }

    assert table("b.py") == {
        "Dee": (True, 0, 4, True), "Ben": (False, 1, 3, False), "Ann": (True, 3, 1, True)
    }  # fmt: skip
    assert table("c.py") == {
        "Dee": (True, 0, 2, True), "Cid": (False, 1, 1, False), "Ben": (False, 1, 1, False)
    }  # fmt: skip
    assert report.to_json()["repos"][0]["truck_factor"] == 2  # Dee and Eli, 2 files each


def test_demo_who_knows_the_user_token_code_now(demo_kb: tuple[KB, list[object]]) -> None:
    """The seed's story: Chen wrote the token code and left; Alex knows it now."""
    app, _ = demo_kb
    by_path = app.experts.who("user-service:src/users/tokens.py")
    assert by_path.current[0].name == "Alex Morgan"
    assert "Chen Wei" in [e.name for e in by_path.departed]
    by_topic = app.experts.who("user token code")  # a topic: retrieval finds the files
    assert by_topic.kind == "topic" and by_topic.current[0].name == "Alex Morgan"
    assert any("tokens.py" in f for f in by_topic.current[0].evidence["files"])
    assert "Chen Wei" in [e.name for e in by_topic.departed]
