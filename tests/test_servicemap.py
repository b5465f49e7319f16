"""The service map's commands on the demo organisation: the declared dependencies are the
manifest's, the planted undeclared dependency and contract violation are found, and blast
radius, impact and assessment follow the graph, each with evidence that exists."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from maptools import graphviz_dot

from kb.app import KB
from kb.cli import cli


def _cli(app: KB, *args: str) -> Any:
    result = CliRunner().invoke(cli, [*args, "--json"], obj={"kb": app}, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


@pytest.fixture(scope="module")
def demo(demo_kb: tuple[KB, list[Any]]) -> KB:
    return demo_kb[0]


def test_map_json_has_exactly_the_documented_shape(demo: KB) -> None:
    data = _cli(demo, "map")
    assert set(data) == {"services", "edges", "infrastructure"}
    assert {s["name"] for s in data["services"]} == {
        "analytics-service", "inventory-service", "notification-service", "order-service",
        "payment-service", "user-service",
    }  # fmt: skip
    for s in data["services"]:
        assert set(s) == {"name", "repo", "path", "owner", "aliases"}
    for e in data["edges"]:
        assert set(e) == {"from", "to", "kind", "via", "evidence"}
        assert e["evidence"], e
        for ev in e["evidence"]:
            assert set(ev) == {"repo", "path", "line"}
    assert data == demo.servicemap.map().to_json()


def test_declared_dependencies_are_exactly_the_manifests(demo: KB, demo_org: Any) -> None:
    edges = demo.servicemap.map().to_json()["edges"]
    # The manifest writes an event dependency consumer -> producer; the map draws the event's
    # flow, producer -> consumer.
    found_sync = {(e["from"], e["to"], e["kind"]) for e in edges if e["kind"] == "sync_http"}
    found_async = {
        (e["to"], e["from"], e["kind"], e["via"]) for e in edges if e["kind"] == "async_event"
    }
    declared = demo_org.manifest["declared_dependencies"]
    assert found_sync == {(d["from"], d["to"], d["kind"]) for d in declared
                          if d["kind"] == "sync_http"}  # fmt: skip
    assert found_async == {(d["from"], d["to"], d["kind"], d["via"]) for d in declared
                           if d["kind"] == "async_event"}  # fmt: skip
    assert {e["kind"] for e in edges} == {"sync_http", "async_event"}


def test_every_evidence_location_exists_at_the_ingested_commit(demo: KB, demo_org: Any) -> None:
    for e in demo.servicemap.map().to_json()["edges"]:
        for ev in e["evidence"]:
            path = demo_org.root / "repos" / ev["repo"] / ev["path"]
            lines = path.read_text(encoding="utf-8").splitlines()
            assert 1 <= ev["line"] <= len(lines), (e, ev)


def test_coupling_flags_the_planted_undeclared_dependency(demo: KB, demo_org: Any) -> None:
    data = _cli(demo, "coupling")
    flagged = [p for p in data["pairs"] if p["undeclared"]]
    planted = demo_org.manifest["undeclared_dependency"]
    assert [sorted(p["services"]) for p in flagged] == [sorted(planted["services"])]
    pair = flagged[0]
    assert pair["declared"] is False and pair["support"] >= 10 and pair["tickets"] >= 10
    shown = {c["sha"] for cs in pair["evidence"] for c in cs["commits"]}
    planted_shas = {c[k] for c in planted["co_changes"] for k in
                    ("inventory_commit", "analytics_commit")}  # fmt: skip
    assert shown and shown <= planted_shas
    assert all(cs["why"].startswith("ticket DATA-") for cs in pair["evidence"])
    # Declared pairs are reported, not flagged.
    declared = [p for p in data["pairs"] if p["declared"]]
    assert declared and not any(p["undeclared"] for p in declared)
    # The markdown leads with the undeclared dependency.
    text = demo.servicemap.coupling().to_markdown()
    assert text.index("Undeclared dependencies") < text.index("analytics-service ↔")


def test_contracts_finds_the_planted_violation(demo: KB, demo_org: Any) -> None:
    planted = demo_org.manifest["contract_violation"]
    data = _cli(demo, "contracts", "--service", planted["consumer"])
    calls = [f for f in data["findings"] if f["kind"] == "undocumented_call"]
    assert [(f["service"], f["provider"], f["subject"]) for f in calls] == [
        (planted["consumer"], planted["provider"], planted["call"])
    ]
    loc = calls[0]["location"]
    assert (loc["repo"], loc["path"]) == (planted["evidence"]["repo"], planted["evidence"]["path"])
    text = (demo_org.root / "repos" / loc["repo"] / loc["path"]).read_text(encoding="utf-8")
    assert "/preferences" in text.splitlines()[loc["line"] - 1]
    assert calls[0]["spec"] == {**planted["spec"], "line": None}
    # Every call of the whole organisation but that one is in its provider's spec.
    everything = demo.servicemap.contracts().to_json()
    assert [f for f in everything["findings"] if f["kind"] == "undocumented_call"] == calls
    # GET /users/{id} documents a 404 that both callers only meet through raise_for_status().
    unhandled = {(f["service"], f["subject"]) for f in everything["findings"]
                 if f["kind"] == "unhandled_error"}  # fmt: skip
    assert ("order-service", "404 on GET /users/{user_id}") in unhandled
    # order-service handles inventory's documented 409 (out of stock).
    assert not any("POST /reservations" in s for _, s in unhandled)
    uncalled = {f["subject"] for f in everything["findings"] if f["kind"] == "uncalled_endpoint"}
    assert "POST /auth/refresh" in uncalled and "POST /reservations" not in uncalled
    assert not everything["unreadable"]


def test_blast_radius_user_service_fails_its_callers_and_queues_their_consumers(
    demo: KB,
) -> None:
    data = _cli(demo, "blast-radius", "user-service")
    assert data["fails"] == ["notification-service", "order-service"]
    assert set(data["queues"]) == {"payment-service", "analytics-service"}
    hops = {h["service"]: h for h in data["dependents"]}
    assert hops["order-service"]["path"] == ["user-service", "order-service"]
    assert hops["order-service"]["kinds"] == ["sync_http"]
    assert hops["payment-service"]["effect"] == "queues"
    assert hops["payment-service"]["kinds"] == ["sync_http", "async_event"]
    assert hops["payment-service"]["depth"] == 2
    # The evidence of the last step is in the dependent's own code.
    assert hops["order-service"]["evidence"][-1]["path"] == "src/orders/user_client.py"
    # A name the map normalises (no -service suffix) means the same service.
    assert demo.servicemap.blast_radius("user").to_json() == data


def test_blast_radius_of_an_event_producer_only_queues(demo: KB) -> None:
    radius = demo.servicemap.blast_radius("payment-service")
    assert radius.fails == []
    assert set(radius.queues) == {"order-service", "notification-service", "analytics-service"}
    assert "queues" in radius.to_markdown()


def test_impact_of_a_topic_names_consumers_cochanges_and_people(demo: KB) -> None:
    data = _cli(demo, "impact", "payment.completed")
    assert data["kind"] == "topic" and data["providers"] == ["payment-service"]
    consumers = {c["service"]: c for c in data["consumers"]}
    assert set(consumers) == {"order-service", "analytics-service"}
    assert any(ev["path"] == "src/orders/payment_events.py"
               for ev in consumers["order-service"]["evidence"])  # fmt: skip
    audience = {a["service"]: a for a in data["audience"]}
    assert audience["order-service"]["owner"] == "orders"
    assert audience["order-service"]["experts"]  # people who know order-service now
    assert data["cochanges"]


def test_impact_of_an_endpoint_and_of_a_contract_file(demo: KB) -> None:
    ep = demo.servicemap.impact("GET /users/{id}")
    assert ep.kind == "endpoint" and ep.providers == ["user-service"]
    assert {c.service for c in ep.consumers} == {"order-service", "notification-service"}
    spec = demo.servicemap.impact("user-service:openapi.yaml")
    assert spec.kind == "path" and spec.providers == ["user-service"]
    assert {c.service for c in spec.consumers} == {"order-service", "notification-service"}


def test_map_around_one_service(demo: KB) -> None:
    smap = demo.servicemap.map("user-service", depth=1).to_json()
    assert {s["name"] for s in smap["services"]} == {
        "user-service", "order-service", "notification-service",
    }  # fmt: skip
    assert all("user-service" in (e["from"], e["to"]) or {e["from"], e["to"]} <= {
        "order-service", "notification-service"} for e in smap["edges"])  # fmt: skip


def test_dot_renders_with_graphviz(demo: KB, tmp_path: Path) -> None:
    dot = graphviz_dot()
    result = CliRunner().invoke(cli, ["map", "--format", "dot"], obj={"kb": demo})
    assert result.exit_code == 0
    svg = subprocess.run([dot, "-Tsvg"], input=result.output, capture_output=True, text=True,
                         check=True).stdout  # fmt: skip
    smap = demo.servicemap.map().to_json()
    assert svg.count('class="edge"') == len(smap["edges"])
    # Sync calls are solid, events dashed (Graphviz writes a dash array for those).
    async_edges = sum(1 for e in smap["edges"] if e["kind"] == "async_event")
    assert svg.count("stroke-dasharray") == async_edges


def test_assess_suggests_merging_only_the_planted_pair_and_flags_conway(
    demo: KB, demo_org: Any
) -> None:
    data = _cli(demo, "assess")
    verdicts = {s["service"]: s["verdict"] for s in data["services"]}
    a, b = demo_org.manifest["undeclared_dependency"]["services"]
    assert verdicts.pop(a) == f"consider merging with {b}"
    assert verdicts.pop(b) == f"consider merging with {a}"
    assert set(verdicts.values()) == {"keep separate"}
    inventory = next(s for s in data["services"] if s["service"] == "inventory-service")
    signals = {r["signal"] for r in inventory["reasons"] if r["toward"] == "analytics-service"}
    assert "cochange" in signals
    # The DATA- tickets changed code of the orders team (inventory) and the data team.
    assert inventory["conway"] and "data" in inventory["conway"]["text"]
    assert "orders" in inventory["conway"]["text"]
    assert inventory["active_people"] and inventory["changes_per_week"] > 0
