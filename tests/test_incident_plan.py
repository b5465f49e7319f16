"""Incident trace plans (`kb incident`, `kb trace`) on the demo organisation, and their parts."""

from __future__ import annotations

import json
import shlex
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from click.testing import CliRunner

from kb.app import KB
from kb.cli import cli
from kb.guides.correlation import ChangeEvidence, correlate, path_kinds
from kb.guides.deploys import is_deploy_channel, parse_deploys, split_patterns
from kb.guides.incident_plan import Link
from kb.guides.incidents import check_order, direction
from kb.guides.similarity import classes, likeness

START = datetime(2025, 7, 22, 12, 7, tzinfo=UTC)


def _app(demo_kb: tuple[KB, list[Any]]) -> KB:
    return demo_kb[0]


def _logs(demo_org: Any) -> list[Path]:
    return [demo_org.root / f["path"] for f in demo_org.manifest["logs"]["files"].values()]


# -- on the demo ------------------------------------------------------------------------------


def test_payment_timeout_plan_has_directions_past_outage_and_pages(
    demo_kb: tuple[KB, list[Any]],
) -> None:
    plan = _app(demo_kb).incidents.plan("payment-service", symptom="timeouts on POST /payments")
    data = plan.to_json()
    assert list(data)[:9] == [
        "situation", "blast_radius", "check_first", "similar_incidents", "known_issues",
        "recent_changes", "danger_zones", "page", "checklist",
    ]  # fmt: skip
    assert data["situation"]["symptom_kinds"] == ["latency"]
    # payment-service consumes order.payment_requested from order-service (it depends on it)
    # and order-service consumes payment.completed (it queues when payment-service stops).
    check = {(c["service"], c["via"]) for c in data["check_first"]}
    assert ("order-service", "order.payment_requested") in check
    queued = {c["service"]: c for c in data["blast_radius"]["async"]}
    assert queued["order-service"]["via"] in ("payment.completed", "payment.failed")
    assert "payment-service" not in queued and not data["blast_radius"]["sync"]
    top = data["similar_incidents"][0]
    assert top["id"] == "INC-2024-03"
    assert "ORDER_PAYMENT_RETRIES=0" in top["resolution"]
    assert any(c["kind"] == "postmortem" for c in top["citations"])
    payment = data["page"][0]
    assert payment["service"] == "payment-service"
    assert payment["experts"][0]["name"] == "Alex Morgan"
    assert "Chen Wei" in {d["name"] for d in payment["departed"]}
    assert "Chen Wei" not in {e["name"] for e in payment["experts"]}
    md = plan.to_markdown()
    heads = [line for line in md.splitlines() if line.startswith("## ")]
    assert [h.split(". ", 1)[1] for h in heads] == [
        "Situation", "Blast radius", "Check first", "Similar past incidents", "Recent changes",
        "Danger zones", "Who to page", "Checklist",
    ]  # fmt: skip
    assert "not Chen Wei: has left" in md


def test_as_of_the_deadlock_the_lock_order_change_ranks_first(
    demo_kb: tuple[KB, list[Any]],
) -> None:
    plan = _app(demo_kb).incidents.plan(
        "inventory-service", symptom="reservation deadlocks", at=START, exclude="INC-2025-07"
    )
    first = plan.changes[0]
    assert "INV-471" in first.subject
    assert any(r.startswith("deployed ") for r in first.reasons)
    assert any("danger zone" in r or "hotspot" in r for r in first.reasons)
    assert all((c.authored_at or START) <= START for c in plan.changes)  # later ones hidden
    assert all(p.id != "INC-2025-07" and (p.started_at or START) < START for p in plan.similar)


def test_deploy_announcements_count_as_changes(demo_kb: tuple[KB, list[Any]]) -> None:
    app = _app(demo_kb)
    at = datetime(2025, 2, 11, 9, 24, tzinfo=UTC)
    deploys = app.incidents.changes.deploys(["notification-service"], at - timedelta(days=1), at)
    assert [d.at.strftime("%H:%M") for d in deploys] == ["09:05"]
    assert deploys[0].sha is not None
    plan = app.incidents.plan("notification-service", symptom="duplicate emails", at=at)
    top = plan.changes[0]
    assert "NOTIF-205" in top.subject
    assert top.deployed_at == deploys[0].at
    assert top.reasons[0] == "deployed 19 min before the start"


def test_logs_fold_into_the_plan_with_the_first_error(
    demo_kb: tuple[KB, list[Any]], demo_org: Any
) -> None:
    truth = demo_org.manifest["logs"]
    files = demo_org.manifest["logs"]["files"]
    tz = {
        Path(f["path"]).name: f["timezone"]
        for f in files.values()
        if not f.get("offset_in_file", True)
    }
    plan = _app(demo_kb).incidents.plan(
        "order-service", symptom="5xx on POST /orders", logs=_logs(demo_org), tz_by_file=tz,
        at=datetime(2024, 3, 14, 14, 2, tzinfo=UTC),
    )  # fmt: skip
    assert plan.trace is not None
    assert plan.trace["first_error"]["service"] == truth["first_error"]["service"]
    assert plan.situation.direction == "from_dependencies"
    assert "payment-service" in plan.situation.reason
    # Checkout stopped calling payment-service over HTTP in 2024: today's map lacks the edge.
    assert any("order-service → payment-service" in n for n in plan.notes)
    assert "## Stitched logs" in plan.to_markdown()


def test_codeowners_who_left_are_named_apart(demo_kb: tuple[KB, list[Any]], demo_org: Any) -> None:
    from kb.guides.paging import handle_person
    from kb.store import history as sh

    app = _app(demo_kb)
    people = sh.people(app.reader)
    name = {pid: p.name for pid, p in people.items()}
    stale = {s["names"] for s in demo_org.manifest["stale_codeowners"]}
    assert stale == {"@bokafor", "@chenwei-dev"}
    assert name[handle_person("@bokafor", people) or 0] == "Ben Okafor"
    assert name[handle_person("@chenwei-dev", people) or 0] == "Chen Wei"
    assert handle_person("@shopfast/data", people) is None
    plan = app.incidents.plan("analytics-service", symptom="consumer lag")
    page = plan.page[0]
    assert page.service == "analytics-service"
    assert "@bokafor" not in {o["owner"] for o in page.code_owners}
    ben = next(d for d in page.departed if d["name"] == "Ben Okafor")
    assert "still on CODEOWNERS as @bokafor" in ben["why"]


def test_cli_incident_json_and_trace(
    demo_kb: tuple[KB, list[Any]], demo_org: Any, tmp_path: Path
) -> None:
    home = str(_app(demo_kb).settings.home)
    runner = CliRunner()
    result = runner.invoke(
        cli, ["--home", home, "incident", "payment-service", "--symptom", "timeout", "--json"]
    )
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["situation"]["service"] == "payment-service"
    # `make demo` writes the plan into its output folder with this very command.
    recipe = (Path(__file__).parents[1] / "Makefile").read_text(encoding="utf-8")
    line = next(x for x in recipe.splitlines() if "$(KB_DEMO) incident " in x)
    args = shlex.split(line.split("$(KB_DEMO) ", 1)[1].replace("$(DEMO)", str(tmp_path)))
    result = runner.invoke(cli, ["--home", home, *args])
    assert result.exit_code == 0, result.output
    written = tmp_path / "incident-plan.md"
    assert written.read_text().startswith("# Incident plan: payment-service")
    result = runner.invoke(cli, ["--home", home, "incident", "nope-service"])
    assert result.exit_code == 1 and "kb knows" in result.output
    result = runner.invoke(
        cli, ["--home", home, "trace", *map(str, _logs(demo_org)), "--tz",
              "user-service.log=Europe/Berlin", "--json"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["first_error"]["service"] == demo_org.manifest["logs"]["first_error"]["service"]
    assert any(h["in_service_map"] is False for h in data["hops"])


# -- the parts ---------------------------------------------------------------------------------


def test_deploy_messages_parse_service_sha_version_and_time() -> None:
    body = (
        "deploybot (2025-02-11 09:05 UTC): *notification-service* deployed to *production* by "
        "priya: 914a272 (https://github.com/x/notification-service/commit/914a2723527e) [N-205]\n"
        "alex (2025-02-11 09:10 UTC): nice\n"
        "ci (2025-02-11 10:00 UTC): payment-service v2.4.1 released\n"
        "ci (2025-02-11 11:00 UTC): payment-service-worker deployed abcdef1\n"
        "ci (2025-02-11 12:00 UTC): payment-service deployed, no id\n"
    )
    names = ["notification-service", "payment-service", "payment-service-worker"]
    got = parse_deploys(body, names, r"\b(deployed|released)\b")
    assert [(d.service, d.sha, d.version, d.at.hour) for d in got] == [
        ("notification-service", "914a272", None, 9),
        ("payment-service", None, "2.4.1", 10),
        ("payment-service-worker", "abcdef1", None, 11),
    ]
    patterns = split_patterns("deploys, #releases,*-deploys")
    assert is_deploy_channel("deploys", patterns) and is_deploy_channel("web-deploys", patterns)
    assert not is_deploy_channel("general", patterns)


def test_correlation_weighs_time_distance_and_what_was_touched() -> None:
    start = datetime(2024, 3, 14, 14, 0, tzinfo=UTC)
    config = ChangeEvidence(start - timedelta(minutes=40), 1, {"configuration": ["config.py"]})
    docs = ChangeEvidence(start - timedelta(minutes=40), 1, {}, docs_only=True)
    old = ChangeEvidence(start - timedelta(hours=60), 1, {"configuration": ["config.py"]})
    far = ChangeEvidence(start - timedelta(minutes=40), 2, {"configuration": ["config.py"]})
    c = correlate(config, start, "payment-service")
    assert c.reasons[:3] == [
        "committed 40 min before the start",
        "a direct dependency of payment-service",
        "touched configuration: config.py",
    ]
    assert c.score > correlate(far, start, "payment-service").score
    assert c.score > correlate(old, start, "payment-service").score
    assert correlate(docs, start, "payment-service").score < 0.1
    assert path_kinds("src/orders/config.py") == {"configuration"}
    assert path_kinds("migrations/0004_add.sql") == {"migration"}
    assert path_kinds("openapi.yaml") == {"contract"}
    assert path_kinds("docs/runbook.md") == {"docs"}


def test_check_order_and_direction_follow_the_symptom() -> None:
    deps = [
        Link("kafka-producer", "async_event", "orders", False, ["a", "b"]),
        Link("stripe-proxy", "sync_http", "POST /x", True, ["a"]),
    ]
    assert [d.service for d in check_order(deps, ["latency"])] == ["stripe-proxy", "kafka-producer"]
    assert [d.service for d in check_order(deps, ["backlog"])] == ["kafka-producer", "stripe-proxy"]
    assert direction("svc", ["latency"], deps, None)[0] == "from_dependencies"
    assert direction("svc", ["backlog"], deps, None)[0] == "from_producers"
    assert direction("svc", ["latency"], [], None)[0] == "from_service"


def test_likeness_prefers_the_same_trouble_in_the_same_service() -> None:
    now = datetime(2026, 1, 1, tzinfo=UTC)
    same = likeness("timeouts", "pay", ["order"], "workers blocked on slow Stripe", ["pay"],
                    now - timedelta(days=400), now)  # fmt: skip
    other = likeness("timeouts", "pay", ["order"], "duplicate emails", ["mail"],
                     now - timedelta(days=10), now)  # fmt: skip
    assert same.score > other.score
    assert classes("p99 latency and 504s") == {"latency"}


def test_change_read_model_runs_on_a_schema_built_from_the_models(db_url: str) -> None:
    # Hand-written SQL, like kb.store.history: every query must name only real tables and
    # columns, on both backends.
    from sqlalchemy import create_engine

    from kb.store import changes
    from kb.store.models import Base
    from kb.store.reader import Reader

    engine = create_engine(db_url.replace("postgresql://", "postgresql+psycopg://", 1))
    Base.metadata.create_all(engine)
    engine.dispose()
    reader = Reader(db_url)
    try:
        t0, t1 = datetime(2024, 1, 1, tzinfo=UTC), datetime(2024, 2, 1, tzinfo=UTC)
        assert changes.changes_between(reader, ["svc"], t0, t1) == []
        assert changes.changes_by_sha(reader, ["abcdef1"]) == []
        assert changes.code_owners(reader, ["svc"]) == []
        assert changes.chat_documents(reader, ["#deploys"], t0, t1) == []
    finally:
        reader.close()


# -- the demo's incidents, replayed ------------------------------------------------------------


def test_the_open_page_plan_ranks_its_cause_first(
    demo_kb: tuple[KB, list[Any]], demo_org: Any
) -> None:
    page = demo_org.manifest["open_page"]
    plan = _app(demo_kb).incidents.plan(page["service"], symptom="timeout")
    assert plan.changes[0].sha == page["causal_commit"]["sha"]
    assert any(r.startswith("deployed ") for r in plan.changes[0].reasons)
    assert "touched configuration: src/payment/config.py" in plan.changes[0].reasons
    assert plan.similar[0].id == "INC-2024-03"


def test_backtest_meets_its_targets_and_reads_the_truth_from_the_write_ups(
    demo_kb: tuple[KB, list[Any]], demo_org: Any
) -> None:
    result = _app(demo_kb).incidents.backtest()
    cases = {c.id: c for c in result.cases}
    for truth in demo_org.manifest["incidents"]:
        case = cases[truth["id"]]
        sha = truth["causal_commit"]["sha"][:8]
        assert any(f"@{sha}" in c for c in case.causes), (truth["id"], case.causes)
        if truth["same_root_cause_as"]:
            assert case.same_cause == [truth["same_root_cause_as"]]
    assert result.causal_top3 is not None and result.causal_top3 >= 0.8
    assert result.similar_top3 is not None and result.similar_top3 >= 0.8
    assert result.to_json()["causal_cases"] == len(demo_org.manifest["incidents"])
    assert "| INC-2025-07 |" in result.to_markdown()


def test_postmortem_draft_cites_channel_changes_and_offers_remember(
    demo_kb: tuple[KB, list[Any]], demo_org: Any, tmp_path: Path
) -> None:
    home = str(_app(demo_kb).settings.home)
    out = tmp_path / "pm.md"
    result = CliRunner().invoke(cli, ["--home", home, "postmortem", "INC-2025-07", "-o", str(out)])
    assert result.exit_code == 0, result.output
    md = out.read_text()
    heads = [line[3:] for line in md.splitlines() if line.startswith("## ")]
    assert heads == [
        "Summary", "Impact", "Timeline (UTC)", "Root cause", "What went well",
        "What went badly", "Action items", "Lessons that should become wisdom",
    ]  # fmt: skip
    assert "https://" in md.split("## Timeline")[1]  # channel messages link to Slack
    assert "INV-471" in md.split("## Root cause")[1].split("## What went well")[0]
    assert "kb remember " in md.split("## Lessons")[1]
    data = _app(demo_kb).incidents.postmortem("inc-2025-07").to_json()
    assert data["incident"]["id"] == "INC-2025-07"
    assert any("deployed" in t["text"] and "INV-471" in t["text"] for t in data["timeline"])
    result = CliRunner().invoke(cli, ["--home", home, "postmortem", "INC-1999-01"])
    assert result.exit_code == 1 and "kb knows" in result.output


def test_blast_links_keep_sync_and_async_apart_with_paths() -> None:
    from kb.guides.backtest import symptom_of
    from kb.guides.mapview import blast_links

    radius = {"dependents": [
        {"service": "web", "effect": "fails", "depth": 1, "path": ["api", "web"],
         "kinds": ["sync_http"], "via": ["GET /x"],
         "evidence": [{"repo": "web", "path": "src/c.py", "line": 3}]},
        {"service": "mail", "effect": "queues", "depth": 2, "path": ["api", "web", "mail"],
         "kinds": ["sync_http", "async_event"], "via": ["GET /x", "sent"], "evidence": [None]},
    ]}  # fmt: skip
    fails, queues = blast_links(radius)
    assert [(x.service, x.kind, x.via, x.evidence) for x in fails] == [
        ("web", "sync_http", "GET /x", ["web:src/c.py:3"])
    ]
    assert [(x.service, x.depth, x.why) for x in queues] == [
        ("mail", 2, "queues: api → web → mail")
    ]
    assert symptom_of("INC-2025-07 Inventory deadlocks (SEV2)", "INC-2025-07") == (
        "Inventory deadlocks"
    )
    assert symptom_of("Postmortem: Checkout outage (INC-2024-03)", "INC-2024-03") == (
        "Checkout outage"
    )


def test_trace_needs_no_knowledge_base(tmp_path: Path) -> None:
    log = tmp_path / "checkout.log"
    log.write_text(
        '{"ts": "2024-03-14T14:02:03Z", "level": "error", "msg": "boom", "trace_id": "'
        + "4bf92f3577b34da6a3ce929d0e0e4736"
        + '", "service": "checkout"}\n'
        "not json at all\n",
        encoding="utf-8",
    )
    home = tmp_path / "kb"
    result = CliRunner().invoke(cli, ["--home", str(home), "trace", str(log), "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["first_error"]["service"] == "checkout"
    assert data["files"][0]["malformed_lines"][0]["line"] == 2
    assert not (home / "kb.sqlite3").exists()  # reading logs creates no knowledge base
    result = CliRunner().invoke(cli, ["--home", str(home), "trace", str(log), "--window", "x"])
    assert result.exit_code == 1 and "--window 'x'" in result.output
