"""Agent context files: a service's calls, events and contracts with their evidence, the
integration rules in force quoted from their sources, danger zones, rules, owners and
experts; `kb context` and `kb onboarding` on the command line."""

from __future__ import annotations

import json
import shlex
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from facts import Facts

from kb.app import KB
from kb.cli import cli
from kb.contract.connector import SourceConfig
from kb.contract.kinds import WisdomKind, WisdomOrigin
from kb.contract.records import PersonRecord, ServiceRecord, WisdomRecord
from kb.errors import KBError
from kb.guides.agent_context import AgentContextService
from kb.guides.citations import Cite
from kb.guides.integration import RuleText, decided_part, rules, sentences, topic_of

DEPARTED = {"Ben Okafor", "Jamie Lee", "Chen Wei"}


@pytest.fixture(scope="module")
def demo(demo_kb: tuple[KB, list[Any]]) -> KB:
    return demo_kb[0]


@pytest.fixture(scope="module")
def payment(demo: KB) -> dict[str, Any]:
    return demo.agent_context.context("payment-service").to_json()


def _section(ctx: dict[str, Any], key: str) -> list[dict[str, Any]]:
    return next(s["items"] for s in ctx["sections"] if s["key"] == key)


def test_what_the_service_talks_to_with_evidence_and_contracts(payment: dict[str, Any]) -> None:
    talks = {(n["direction"], n["service"], n["via"]): n for n in payment["talks_to"]}
    consumes = talks[("in", "order-service", "order.payment_requested")]
    assert consumes["kind"] == "async_event"
    assert "payment-service:src/payment/consumer.py:20" in consumes["evidence"]
    assert consumes["contracts"]
    assert ("out", "order-service", "payment.completed") in talks
    assert ("out", "analytics-service", "payment.failed") in talks
    contracts = [i["text"] for i in _section(payment, "contracts")]
    assert any(t.endswith("`openapi.yaml`") for t in contracts)
    assert any(t.endswith("`asyncapi.yaml`") for t in contracts)


def test_integration_rules_quote_decisions_in_force_not_the_options_weighed(
    payment: dict[str, Any],
) -> None:
    idem = _section(payment, "rules:idempotency")
    chosen = next(i for i in idem if i["text"].startswith("Chosen option"))
    assert chosen["cites"][0]["kind"] == "adr"
    assert chosen["cites"][0]["where"] == (
        "payment-service:docs/decisions/0001-use-idempotency-keys.md"
    )
    texts = [i["text"] for s in payment["sections"] if s["key"].startswith("rules:")
             for i in s["items"]]  # fmt: skip
    assert not any("Disable retries everywhere" in t for t in texts)  # a rejected option
    assert not any("deciders:" in t for t in texts)  # front matter is no sentence
    # The superseded ADR-0002 (sync calls, 30 s timeout, 2 retries) is not a rule in force.
    wheres = {c["where"] for s in payment["sections"] for i in s["items"] for c in i["cites"]}
    assert "order-service:docs/adr/0002-synchronous-payment-calls.md" not in wheres


def test_danger_zones_rules_owners_and_experts(payment: dict[str, Any]) -> None:
    danger = [i["text"] for i in _section(payment, "danger")]
    assert any("payout reports are dated in the provider's timezone" in t for t in danger)
    surprises = [i["text"] for i in _section(payment, "unwritten")]
    assert any(t.startswith("HACK: Stripe reports 3-D Secure") for t in surprises)
    assert "team payments" in payment["owners"]
    assert any("CODEOWNERS" in o for o in payment["owners"])
    experts = [i["text"] for i in _section(payment, "experts")]
    assert experts and experts[0].startswith("Alex Morgan — ")
    assert not any(name in t for t in experts for name in DEPARTED)


def test_a_sync_caller_lists_its_endpoints_once(demo: KB) -> None:
    ctx = demo.agent_context.context("order-service")
    calls = [(n.other, n.via) for n in ctx.talks_to if n.outgoing and n.sync]
    assert ("inventory-service", "POST /reservations") in calls
    assert ("user-service", "GET /users/{customer_id}") in calls
    # docker-compose shows order -> inventory too, but the code says which endpoints.
    assert ("inventory-service", "") not in calls
    md = ctx.to_markdown()
    assert md.startswith("# order-service: context for coding agents\n")
    assert "- calls **inventory-service** (sync_http `POST /reservations`) [" in md
    assert "## Integration rules in force" in md and "## Sources" in md


def test_unknown_service_names_the_known_ones(demo: KB) -> None:
    with pytest.raises(KBError, match="kb knows: analytics-service"):
        demo.agent_context.context("nope")


def test_writing_into_an_ingested_repository_needs_asking(demo: KB, tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    service = AgentContextService(demo.guide_facts, demo.experts, lambda: [repo])
    with pytest.raises(KBError, match="inside the ingested repository"):
        service.write(repo / "docs" / "agents", ["payment-service"])
    assert not (repo / "docs").exists()
    done = service.write(repo / "docs" / "agents", ["payment-service"], into_repo=True)
    assert done.files == {"payment-service": (repo / "docs/agents/payment-service.md").resolve()}
    # The demo's own repositories are what KB refuses to write into.
    target = demo.settings.home.parent / "elsewhere"
    inside = Path(next(iter(demo.agent_context.repo_paths()))) / "ctx"
    with pytest.raises(KBError, match="--into-repo"):
        demo.agent_context.write(inside)
    assert not inside.exists() and not target.exists()


def test_cli_context_all_writes_one_file_per_service(demo: KB, tmp_path: Path) -> None:
    home = ["--home", str(demo.settings.home)]
    runner = CliRunner()
    res = runner.invoke(cli, [*home, "context", "--all", "--write", str(tmp_path / "ctx"),
                              "--json"])  # fmt: skip
    assert res.exit_code == 0, res.output
    written = json.loads(res.output)["files"]
    names = sorted(s.name for s in demo.services().services)
    assert [f["service"] for f in written] == names
    for f in written:
        text = Path(f["path"]).read_text(encoding="utf-8")
        assert text.startswith(f"# {f['service']}: context for coding agents\n")
    one = runner.invoke(cli, [*home, "context", "payment-service", "--json"])
    assert json.loads(one.output)["service"] == "payment-service"
    bad = runner.invoke(cli, [*home, "context"])
    assert bad.exit_code == 1 and "name one SERVICE, or pass --all" in bad.output
    bad = runner.invoke(cli, [*home, "context", "--all"])
    assert bad.exit_code == 1 and "add --write DIR" in bad.output


def test_cli_onboarding_prints_writes_and_emits_json(demo: KB, tmp_path: Path) -> None:
    home = ["--home", str(demo.settings.home)]
    runner = CliRunner()
    out = tmp_path / "guide.md"
    res = runner.invoke(cli, [*home, "onboarding", "--service", "payment-service", "-o",
                              str(out)])  # fmt: skip
    assert res.exit_code == 0, res.output
    assert out.read_text(encoding="utf-8").startswith("# Onboarding: payment-service\n")
    data = json.loads(runner.invoke(cli, [*home, "onboarding", "--json"]).output)
    assert data["service"] is None and len(data["sections"]) == 9


def test_sentences_topics_and_ranking() -> None:
    text = (
        "---\nstatus: accepted\n---\n# T\n\n- Retries use backoff.\n  Max 3.\n\n"
        "TIMEOUT_SECONDS = 1.0\n"
    )
    assert sentences(text) == ["T", "Retries use backoff.", "Max 3.", "TIMEOUT_SECONDS = 1.0"]
    assert topic_of("We publish both versions during the migration") == "schema_changes"
    assert topic_of("Calls time out after 5 s") == "timeouts"
    assert topic_of("nothing here") is None
    adr = "# X\n\n## Context\n\nRetries hurt.\n\n## Decision\n\nUse keys.\n"
    assert decided_part(adr).strip() == "Use keys."
    code = RuleText("TIMEOUT_SECONDS = 1.0\n# retries are safe: the handler is idempotent.", Cite(
        "code", "c"), 4)  # fmt: skip
    decision = RuleText("Every call times out after 2 seconds, never more.", Cite("adr", "a"), 0)
    found = rules([code, decision])
    assert [i.text for i in found["timeouts"]] == [
        "Every call times out after 2 seconds, never more.", "TIMEOUT_SECONDS = 1.0"]  # fmt: skip
    assert [i.text for i in found["idempotency"]] == [
        "retries are safe: the handler is idempotent."]  # fmt: skip


def test_make_demo_writes_the_guide_and_one_context_file_per_service(
    demo: KB, tmp_path: Path
) -> None:
    recipe = (Path(__file__).parents[1] / "Makefile").read_text(encoding="utf-8")
    steps = [
        line.strip().removeprefix("$(KB_DEMO) ")
        for line in recipe.split("\ndemo:", 1)[1].split("\n\n", 1)[0].splitlines()
        if line.strip().startswith(("$(KB_DEMO) onboarding", "$(KB_DEMO) context"))
    ]
    assert len(steps) == 2
    runner = CliRunner()
    for step in steps:
        args = shlex.split(step.replace("$(DEMO)", str(tmp_path)))
        res = runner.invoke(cli, ["--home", str(demo.settings.home), *args])
        assert res.exit_code == 0, res.output
    assert (tmp_path / "onboarding.md").read_text(encoding="utf-8").startswith("# Onboarding")
    names = sorted(s.name for s in demo.services().services)
    assert sorted(p.stem for p in (tmp_path / "context").glob("*.md")) == names


def test_a_taught_rule_on_schema_changes_is_quoted_with_its_teller(history_kb: KB) -> None:
    when = datetime(2026, 3, 2, tzinfo=UTC)
    rule = (
        "During a schema migration we dual-publish ledger.posted v1 and v2 until every "
        "consumer reads v2. Consumers must ignore fields they do not know."
    )
    facts = Facts(
        PersonRecord(name="Ana Lima", emails=("ana@x.io",), seen_at=when),
        ServiceRecord("ledger", owner_team="money", description="The ledger."),
        WisdomRecord(external_id="test:dual", kind=WisdomKind.UNWRITTEN_RULE,
                     title="Dual-publish during schema migrations", body=rule,
                     origin=WisdomOrigin.TAUGHT, service="ledger", said_by_email="ana@x.io",
                     created_at=when),
    )  # fmt: skip
    history_kb.ingestor().run(SourceConfig("slack", "facts", "local", {}), connector=facts)
    ctx = history_kb.agent_context.context("ledger").to_json()
    (quoted,) = _section(ctx, "rules:schema_changes")
    assert quoted["text"].startswith("During a schema migration we dual-publish ledger.posted")
    (cite,) = quoted["cites"]
    assert (cite["kind"], cite["said_by"], cite["date"]) == ("note", "Ana Lima", "2026-03-02")
    assert [i["id"] for i in _section(ctx, "unwritten")] == ["test:dual"]
    assert ctx["owners"] == ["team money"] and ctx["talks_to"] == []
    md = history_kb.agent_context.context("ledger").to_markdown()
    assert "### Event and schema changes (dual-publish)" in md
    assert "told by Ana Lima on 2026-03-02" in md


def test_the_mcp_server_serves_both_as_the_cli_renders_them(demo: KB) -> None:
    from kb_mcp import resources, schemas, tools

    guide = resources.read(demo, "onboarding://payment-service")
    assert guide == demo.onboarding.guide("payment-service").to_markdown()
    rendered = tools.service_context(demo, schemas.ServiceArgs(service="payment-service"))
    assert rendered.data == demo.agent_context.context("payment-service").to_json()
    assert rendered.text.startswith("# payment-service: context for coding agents")
