"""Danger zones of a path, decision records by number, service pages, agent-taught notes."""

from __future__ import annotations

from typing import Any

import pytest

from kb.analysis.dangerzones import covers
from kb.app import KB
from kb.contract.kinds import WisdomKind, WisdomOrigin
from kb.errors import NotFoundError


def _app(demo_kb: tuple[KB, list[Any]]) -> KB:
    return demo_kb[0]


def test_every_planted_danger_zone_is_reported_for_its_file(
    demo_kb: tuple[KB, list[Any]], demo_org: Any
) -> None:
    app = _app(demo_kb)
    planted = demo_org.manifest["danger_zones"]
    assert len(planted) >= 5
    for dz in planted:
        zones = app.danger_zones(f"{dz['repo']}:{dz['path']}")
        assert zones.danger_zone, dz
        assert zones.repos == [dz["repo"]] and zones.path == dz["path"]
        comment = [z for z in zones.zones if z.kind == "danger_zone" and z.line == dz["line"]]
        assert comment, (dz, [z.id for z in zones.zones])
        zone = comment[0]
        assert zone.scope == "file" and zone.severity == dz["severity"]
        assert dz["comment"].split(":")[0] in zone.body
        # Its source is the code comment, at its line: the citation a person can open.
        assert zone.source is not None and zone.source.kind == "code"
        assert (zone.source.repo, zone.source.path) == (dz["repo"], dz["path"])
        # Whom to ask: people who know the file now come first.
        assert zones.ask and not zones.ask[0].departed
        text = zones.to_markdown()
        assert text.startswith(f"# Danger zone: {dz['repo']}:{dz['path']}")
        assert "**Sources**" in text and "- [1] code:" in text and "**Ask**" in text
        data = zones.to_json()
        assert data["danger_zone"] is True and data["total"] == len(zones.zones)
        assert {"scope", "source", "line", "said_by", "origin"} <= set(data["zones"][0])


def test_a_path_is_found_however_it_is_given(demo_kb: tuple[KB, list[Any]]) -> None:
    app = _app(demo_kb)
    given = (
        "src/inventory/legacy/stock_sync.py",
        "./src/inventory/legacy/stock_sync.py",
        "/home/dev/src/inventory-service/src/inventory/legacy/stock_sync.py",
        "inventory-service:src/inventory/legacy/stock_sync.py",
    )
    for query in given:
        zones = app.danger_zones(query)
        assert zones.repos == ["inventory-service"], query
        assert zones.path == "src/inventory/legacy/stock_sync.py"
        assert zones.services == ["inventory-service"]
        assert zones.danger_zone
    # A directory: the zones of the files inside it.
    legacy = app.danger_zones("inventory-service:src/inventory/legacy")
    assert legacy.danger_zone and {z.scope for z in legacy.zones if z.path} == {"inside"}
    # A file with no zone of its own still hears its service's rules, and is no danger zone.
    readme = app.danger_zones("order-service:README.md")
    assert not readme.danger_zone
    assert all(z.scope == "service" for z in readme.zones)
    assert readme.to_markdown().startswith("# No danger zone recorded: order-service:README.md")
    with pytest.raises(NotFoundError):
        app.danger_zones("  ")


def test_limit_keeps_the_most_pressing_zones_and_counts_the_rest(
    demo_kb: tuple[KB, list[Any]],
) -> None:
    app = _app(demo_kb)
    everything = app.danger_zones("inventory-service:src/inventory")
    assert len(everything.zones) >= 3
    top = app.danger_zones("inventory-service:src/inventory", limit=2)
    assert [z.id for z in top.zones] == [z.id for z in everything.zones[:2]]
    assert top.to_json()["total"] == len(everything.zones)
    assert f"… {len(everything.zones) - 2} more" in top.to_markdown()


def test_anchors_cover_files_directories_and_globs() -> None:
    assert covers("src/a.py", "src/a.py") and not covers("src/a.py", "src/a.pyc")
    assert covers("src/legacy/", "src/legacy/x.py") and covers("src/legacy", "src/legacy/x.py")
    assert not covers("src/legacy", "src/legacy_two/x.py")
    assert covers("src/*.py", "src/a.py") and covers("migrations/*", "migrations/0001.py")
    assert covers("docs/**", "docs/adr/0001.md")


def test_decision_records_by_repository_and_number(
    demo_kb: tuple[KB, list[Any]], demo_org: Any
) -> None:
    app = _app(demo_kb)
    planted = demo_org.manifest["adrs"]
    listed = app.adrs().to_json()["adrs"]
    assert {(a["repo"], a["number"]) for a in listed} >= {(a["repo"], a["number"]) for a in planted}
    for want in planted:
        adr = app.adr(want["repo"], want["number"])
        data = adr.to_json()
        assert data["repo"] == want["repo"] and data["number"] == want["number"]
        assert want["title"] in data["title"] and data["path"] == want["path"]
        assert data["status"] == want["status"]
        if want["superseded_by"]:
            assert [a["number"] for a in data["superseded_by"]] == [want["superseded_by"]]
            assert "superseded by ADR-" in adr.to_markdown()
        assert want["title"] in data["body"]
    # ADR-3, 0003 and 3 are one number; what does not exist is said with what does.
    assert app.adr("order-service", "ADR-3").to_json()["number"] == 3
    assert app.adr("order-service", "0003").row.path == app.adr("order-service", 3).row.path
    with pytest.raises(NotFoundError, match=r"order-service has no ADR 42 \(it has: 1, 2, 3\)"):
        app.adr("order-service", 42)
    with pytest.raises(NotFoundError, match="no decision records in 'nope'"):
        app.adr("nope", 1)


def test_service_page_shows_edges_decisions_incidents_and_experts(
    demo_kb: tuple[KB, list[Any]], demo_org: Any
) -> None:
    app = _app(demo_kb)
    page = app.service("payment-service")
    data = page.to_json()
    assert data["repo"] == "payment-service" and data["owner_team"] == "payments"
    assert "Stripe" in (data["description"] or "")
    assert "order.payment_requested" in data["subscribes"]
    assert {"payment.completed", "payment.failed"} <= set(data["publishes"])
    assert any(e["service"] == "order-service" for e in data["used_by"])
    assert all(e["evidence"] for e in data["depends_on"] + data["used_by"])
    planted = {a["number"] for a in demo_org.manifest["adrs"] if a["repo"] == "payment-service"}
    assert {a["number"] for a in data["adrs"]} == planted
    assert "INC-2024-03" in {i["id"] for i in data["incidents"]}
    assert data["experts"][0]["name"] == "Alex Morgan"
    assert data["wisdom"].get("danger_zone", 0) >= 1
    text = page.to_markdown()
    assert text.startswith("# payment-service") and "## Used by" in text
    assert "INC-2024-03 Checkout outage" in text
    names = [s["name"] for s in app.services().to_json()["services"]]
    assert names == sorted(demo_org.manifest["services"])
    with pytest.raises(NotFoundError, match="kb knows: analytics-service"):
        app.service("billing-service")


def test_an_agent_taught_note_is_marked_and_cited_as_the_agents(kb_app: KB) -> None:
    note = kb_app.remember(
        "The ledger export job must run after the nightly settlement import, never before, "
        "or refunds booked after midnight are missed.",
        kind=WisdomKind.UNWRITTEN_RULE,
        by="review-bot",
        origin=WisdomOrigin.AGENT_TAUGHT,
    )
    assert note.to_json() == {
        "id": note.id,
        "redacted": 0,
        "origin": "agent_taught",
        "said_by": "review-bot",
    }
    assert "(agent-taught)" in note.to_markdown()
    entry = next(e for e in kb_app.staleness.entries() if e.external_id == note.id)
    assert entry.origin == "agent_taught" and entry.said_by == "review-bot"
    answer = kb_app.ask("when must the ledger export job run?", record=False)
    cited = [c for c in answer.citations if c.kind == "note"]
    assert cited and cited[0].author == "review-bot"
    assert "As review-bot (a coding agent) noted on " in answer.answer
    # A person's note stays a person's.
    told = kb_app.remember("Settlement imports arrive by 02:00 UTC.", by="Alex Morgan")
    assert told.origin == "taught" and "(agent-taught)" not in told.to_markdown()


def test_danger_zones_from_the_cli(demo_kb: tuple[KB, list[Any]]) -> None:
    import json
    import os
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if not k.startswith("KB_")}
    home = str(_app(demo_kb).settings.home)
    res = subprocess.run(
        [sys.executable, "-m", "kb.cli", "--home", home, "danger-zones",
         "src/inventory/reservations.py", "--json", "--limit", "1"],
        capture_output=True, text=True, env=env,
    )  # fmt: skip
    assert res.returncode == 0, res.stderr
    data = json.loads(res.stdout)
    assert data["danger_zone"] is True and data["repos"] == ["inventory-service"]
    assert len(data["zones"]) == 1 and data["total"] > 1
    res = subprocess.run(
        [sys.executable, "-m", "kb.cli", "--home", home, "danger-zones", " "],
        capture_output=True, text=True, env=env,
    )  # fmt: skip
    assert res.returncode == 1 and "error: give the path" in res.stderr
    assert "Traceback" not in res.stderr
