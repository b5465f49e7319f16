"""The onboarding guide: nine cited sections from the stores, stale items flagged, departed
people never offered, prose smoothed by an LLM only around items that stay as written."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from facts import Facts
from fakes.openai_api import FakeOpenAI
from gitrepo import Repo
from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage

from kb.app import KB
from kb.contract.connector import SourceConfig
from kb.contract.records import PersonRecord, WisdomRecord
from kb.errors import NotFoundError
from kb.guides.docs_text import is_first_week, list_items
from kb.guides.prose import Smoother, parse_reply
from kb.settings import Settings
from kb.store.models import WisdomKind, WisdomOrigin
from kb.store.questions import record_question

SECTIONS = [
    "overview",
    "first_week",
    "danger",
    "counterintuitive",
    "lessons",
    "rules",
    "decisions",
    "ask",
    "gaps",
]
DEPARTED = {"Ben Okafor", "Jamie Lee", "Chen Wei"}


@pytest.fixture(scope="module")
def demo(demo_kb: tuple[KB, list[Any]]) -> KB:
    return demo_kb[0]


@pytest.fixture(scope="module")
def whole(demo: KB) -> dict[str, Any]:
    return demo.onboarding.guide().to_json()


def _items(guide: dict[str, Any], key: str) -> list[dict[str, Any]]:
    return next(s["items"] for s in guide["sections"] if s["key"] == key)


def test_the_guide_has_its_sections_in_order_and_every_item_is_cited(whole: dict[str, Any]) -> None:
    assert [s["key"] for s in whole["sections"]] == SECTIONS
    items = [i for s in whole["sections"] for i in s["items"]]
    assert len(items) > 30
    assert all(i["cites"] and all(c["title"] for c in i["cites"]) for i in items)


def test_danger_zones_cite_the_code_comment_at_its_line(whole: dict[str, Any]) -> None:
    danger = _items(whole, "danger")
    lock = next(i for i in danger if "lock ordering" in i["text"])
    assert lock["severity"] == "high" and lock["service"] == "inventory-service"
    assert lock["cites"][0]["kind"] == "code"
    assert lock["cites"][0]["where"].startswith("inventory-service:src/inventory/reservations.py:")
    # Hand-written warnings come before the (capped) hotspots history computes.
    kinds = [i["id"].startswith("hotspot:") for i in danger]
    assert kinds == sorted(kinds) and 0 < sum(kinds) <= 5


def test_surprises_and_replaced_decisions_go_against_intuition(whole: dict[str, Any]) -> None:
    texts = [i["text"] for i in _items(whole, "counterintuitive")]
    assert any(t.startswith("HACK: Stripe reports 3-D Secure soft declines") for t in texts)
    replaced = next(
        i for i in _items(whole, "counterintuitive") if "ADR-0002: Synchronous" in i["text"]
    )
    assert "follow ADR-0003: Asynchronous payment via events instead" in replaced["text"]
    assert [c["kind"] for c in replaced["cites"]] == ["adr", "adr"]
    assert not any(t.startswith("HACK") for t in (i["text"] for i in _items(whole, "danger")))


def test_decisions_carry_status_successors_and_stale_authors(whole: dict[str, Any]) -> None:
    decisions = {i["text"].split(" — ")[0]: i for i in _items(whole, "decisions")}
    sync = decisions["ADR-0002: Synchronous payment calls"]
    assert "**superseded**; superseded by ADR-0003: Asynchronous payment via events" in sync["text"]
    assert sync["cites"][0]["where"] == "order-service:docs/adr/0002-synchronous-payment-calls.md"
    jwt = decisions["ADR-0001: JWT access tokens with rotating signing keys"]
    assert jwt["stale"] and "Chen Wei (author of its source) left" in jwt["stale_reasons"][0]
    assert not decisions["ADR-0003: Asynchronous payment via events"]["stale"]


def test_lessons_name_cause_fix_and_their_write_ups(whole: dict[str, Any]) -> None:
    lessons = _items(whole, "lessons")
    outage = next(i for i in lessons if i["text"].startswith("**INC-2024-03**"))
    assert "Fix: PAYMENT_TIMEOUT_SECONDS=5" in outage["detail"]
    kinds = [c["kind"] for c in outage["cites"]]
    assert kinds[0] == "postmortem" and "slack" in kinds and "commit" in kinds
    assert any(
        c["url"] and c["url"].startswith("https://shopfast.slack.com/") for c in outage["cites"]
    )
    # One item per incident: its known issue from Slack is not listed again.
    assert sum("INC-2024-03" in i["text"] for i in lessons) == 1
    assert not any(i["text"].startswith("**#incidents") for i in lessons)  # unwritten-up alerts


def test_first_week_and_rules_quote_the_onboarding_doc(whole: dict[str, Any]) -> None:
    first = [i["text"] for i in _items(whole, "first_week")]
    assert any(t.startswith("Get access: GitHub org `shopfast`") for t in first)
    assert "Read ShopFast architecture" in first
    rules = _items(whole, "rules")
    assert any("postmortems live in the service that failed" in i["text"] for i in rules)
    assert rules[0]["cites"][0]["where"] == "platform:docs/onboarding.md"


def test_who_to_ask_offers_only_people_still_here(whole: dict[str, Any]) -> None:
    ask = [i["text"] for i in _items(whole, "ask")]
    services = {t.split("**")[1] for t in ask}
    assert {"payment-service", "order-service", "inventory-service"} <= services
    assert not any(name in t for t in ask for name in DEPARTED)
    assert any(t.startswith("**inventory-service**: Alex Morgan") for t in ask)


def test_a_service_guide_keeps_to_the_service(demo: KB) -> None:
    guide = demo.onboarding.guide("payment-service")
    data = guide.to_json()
    assert data["service"] == "payment-service"
    overview = [i["text"] for i in _items(data, "overview")]
    assert (
        "payment-service consumes from **order-service** (async_event via "
        "`order.payment_requested`)" in overview
    )
    decisions = [i["text"] for i in _items(data, "decisions")]
    assert decisions and all("payment" in t.lower() or "ADR-000" in t for t in decisions)
    assert not any("Synchronous payment calls" in t for t in decisions)  # order-service's ADR
    assert {i["service"] for i in _items(data, "danger")} == {"payment-service"}
    md = guide.to_markdown()
    assert md.startswith("# Onboarding: payment-service\n")
    assert "## Sources\n" in md and "\n1. doc: payment-service, `payment-service:README.md`" in md
    with pytest.raises(NotFoundError, match="kb knows: analytics-service"):
        demo.onboarding.guide("no-such-service")


def test_the_overview_draws_the_service_map(demo: KB, whole: dict[str, Any]) -> None:
    assert whole["map"]["mermaid"].startswith("flowchart")
    guide = demo.onboarding.guide("payment-service")
    assert guide.mermaid is not None
    assert "payment-service" in guide.mermaid and "order-service" in guide.mermaid
    md = guide.to_markdown()
    overview = md.split("## System overview\n", 1)[1].split("\n## ", 1)[0]
    assert "```mermaid\nflowchart" in overview


def test_markdown_numbers_each_source_once(demo: KB) -> None:
    md = demo.onboarding.guide().to_markdown()
    sources = md.split("## Sources\n", 1)[1].strip().splitlines()
    assert len(sources) == len(set(s.split(". ", 1)[1] for s in sources))
    assert "[1]" in md.split("## Sources")[0]
    for key in ("Do NOT touch", "Things that go against intuition", "Key decisions"):
        assert f"\n## {key}\n" in md


# -- taught notes, stale anchors and tellers, web links (a crafted repository) ------------


def _note(key: str, path: str | None, when: Any, by: str) -> WisdomRecord:
    return WisdomRecord(
        external_id=f"test:{key}",
        kind=WisdomKind.UNWRITTEN_RULE,
        title=f"rule {key}",
        body=f"the rule {key}",
        origin=WisdomOrigin.TAUGHT,
        repo="r" if path else None,
        path_glob=path,
        said_by_email=by,
        created_at=when,
    )


@pytest.mark.usefixtures("isolated_git")
def test_notes_cite_teller_and_date_and_stale_ones_are_flagged(
    history_kb: KB, tmp_path: Path
) -> None:
    repo = Repo(tmp_path / "r")
    ana, bo = ("Ana Lima", "ana@x.io"), ("Bo Chen", "bo@x.io")
    repo.commit("start", {"src/a.py": "a\n", "src/b.py": "b\n"}, ana)
    told = repo.clock + timedelta(minutes=30)
    for i in range(3):
        repo.commit(f"tune a {i}", {"src/a.py": f"a{i}\n"}, bo)
    late = repo.clock + timedelta(days=1)
    options = {"history_only": True, "web_url": "https://github.com/acme/r"}
    assert history_kb.ingestor().run(SourceConfig("git", "r", str(repo.path), options)).ok
    facts = Facts(
        PersonRecord(name="Dee Park", emails=("dee@x.io",), left_at=told, seen_at=late),
        _note("a", "src/a.py", told, "ana@x.io"),
        _note("b", "src/b.py", told, "ana@x.io"),
        _note("dee", None, told, "dee@x.io"),
    )
    history_kb.ingestor().run(SourceConfig("slack", "facts", "local", {}), connector=facts)
    record_question(history_kb.store, "q1", {
        "question": "why two queues?", "answer": "I don't know", "confidence": 0.1,
        "citations": [], "answered": False, "services": [], "asker": "Ana Lima",
        "channel": "eng", "surface": "slack"})  # fmt: skip

    guide = history_kb.onboarding.guide().to_json()
    (gap,) = _items(guide, "gaps")
    assert gap["text"] == "why two queues? (unanswered)"
    assert (gap["cites"][0]["kind"], gap["cites"][0]["said_by"]) == ("question", "Ana Lima")
    rules = {i["id"]: i for i in _items(history_kb.onboarding.guide().to_json(), "rules")}
    assert set(rules) == {"test:a", "test:b", "test:dee"}
    b = rules["test:b"]
    assert not b["stale"]
    (cite,) = b["cites"]
    assert (cite["kind"], cite["said_by"], cite["date"]) == (
        "note",
        "Ana Lima",
        told.date().isoformat(),
    )
    assert cite["where"] == "r:src/b.py"
    assert cite["url"].startswith("https://github.com/acme/r/blob/") and cite["url"].endswith(
        "/src/b.py"
    )
    assert rules["test:a"]["stale"]
    assert rules["test:a"]["stale_reasons"][0].startswith("src/a.py changed in 3 commits")
    assert rules["test:dee"]["stale_reasons"] == [
        f"Dee Park (teller) left on {told.date().isoformat()}"
    ]
    md = history_kb.onboarding.guide().to_markdown()
    assert "told by Ana Lima on" in md and "⚠ **stale**: Dee Park (teller) left on" in md


# -- the optional LLM ---------------------------------------------------------------------


def test_an_llm_smooths_introductions_and_leaves_items_and_citations(demo: KB) -> None:
    plain = demo.onboarding.guide("payment-service")
    reply = (
        "1. A friendly map of where payment-service sits.\n2. [bad] http://x\n"
        "3. Please leave these alone.\n99. out of range"
    )
    model = GenericFakeChatModel(messages=iter([AIMessage(content=reply)]))
    smoothed = demo.onboarding.guide("payment-service")
    name = Smoother(model, "fake:model").smooth(smoothed.sections)
    assert name == "fake:model"
    before, after = plain.to_json()["sections"], smoothed.to_json()["sections"]
    assert [s["items"] for s in before] == [s["items"] for s in after]
    assert after[0]["intro"] == "A friendly map of where payment-service sits."
    assert after[1]["intro"] == before[1]["intro"]  # a reply with a link or brackets is refused
    assert after[2]["intro"] == "Please leave these alone."


def test_a_failing_llm_leaves_the_guide_as_written(demo: KB) -> None:
    class Broken(GenericFakeChatModel):
        def _generate(self, *args: Any, **kwargs: Any) -> Any:
            raise TimeoutError("no answer in time")

    guide = demo.onboarding.guide("payment-service")
    before = guide.to_json()
    assert Smoother(Broken(messages=iter([])), "x").smooth(guide.sections) is None
    assert guide.to_json() == before


def test_kb_builds_the_smoother_only_when_an_llm_is_configured(tmp_path: Path) -> None:
    plain = KB(Settings(home=tmp_path / "a"))
    assert plain.onboarding.smoother is None
    llm = KB(
        Settings(
            home=tmp_path / "b",
            llm_provider="openai",
            llm_model="m",
            llm_base_url="http://127.0.0.1:9/v1",
        )
    )
    assert llm.onboarding.smoother is not None and llm.onboarding.smoother.name == "openai:m"


def test_parse_reply_keeps_valid_lines_only() -> None:
    assert parse_reply("1. fine\n2) also fine\n3. see [1]\nno number\n4. " + "x" * 500, 4) == {
        1: "fine",
        2: "also fine",
    }


def test_list_items_under_their_headings() -> None:
    md = (
        "# Onboarding\n\n## Week one\n\n1. Get access: [GitHub](https://x) and\n   Grafana.\n"
        "2. Run it.\n   - a sub item\n\n```\n- not an item\n```\n## Things to know\n\n"
        "- Ask in #eng.\n\nA paragraph.\n"
    )
    items = list_items(md)
    assert [(i.heading, i.text) for i in items] == [
        ("Week one", "Get access: GitHub and Grafana."),
        ("Week one", "Run it. - a sub item"),
        ("Things to know", "Ask in #eng."),
    ]
    assert [is_first_week(i) for i in items] == [True, True, False]


def test_a_configured_openai_compatible_llm_smooths_the_guide_over_http(demo: KB) -> None:
    plain = demo.onboarding.guide("payment-service").to_json()
    with FakeOpenAI() as server:
        server.reply("1. Where payment-service sits, and who it talks to.")
        settings = Settings(home=demo.settings.home, llm_provider="openai", llm_model="test",
                            llm_base_url=server.url + "/v1", llm_timeout_s=5.0)  # fmt: skip
        app = KB(settings)
        try:
            smoothed = app.onboarding.guide("payment-service").to_json()
        finally:
            app.close()
        [call] = server.chat_calls()
    assert smoothed["smoothed_by"] == "openai:test"
    assert smoothed["sections"][0]["intro"] == "Where payment-service sits, and who it talks to."
    assert [s["items"] for s in smoothed["sections"]] == [s["items"] for s in plain["sections"]]
    sent = call.messages_text()
    assert "Items:" in sent and "shopfast.slack.com" not in sent  # citations are never sent
