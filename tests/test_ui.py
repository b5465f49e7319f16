"""The dashboard, page by page, through Streamlit's AppTest: what each page shows on the demo
organisation, what the leaver simulator says after a pick, empty states and errors.

The app runs in this process against a KB the test hands to `ui.state.open_kb`; Streamlit's
caches are cleared around every test.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

import ui.state
from kb.app import KB
from kb.errors import KBError
from kb.settings import Settings

APP = Path(__file__).resolve().parent.parent / "ui" / "app.py"


@pytest.fixture(autouse=True)
def _fresh_caches() -> Iterator[None]:
    st.cache_data.clear()
    st.cache_resource.clear()
    yield
    st.cache_data.clear()
    st.cache_resource.clear()
    ui.state.open_kb = ui.state._open_kb


@pytest.fixture
def serve(monkeypatch: pytest.MonkeyPatch) -> Callable[[KB], AppTest]:
    """An AppTest of the dashboard over `app`, after its first run (the landing page)."""

    def start(app: KB) -> AppTest:
        monkeypatch.setattr(ui.state, "open_kb", lambda: app)
        at = AppTest.from_file(str(APP), default_timeout=120)
        return at.run()

    return start


@pytest.fixture
def demo(demo_kb: tuple[KB, list[Any]]) -> KB:
    return demo_kb[0]


def _no_failure(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]


def _metrics(at: AppTest) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def _figure(at: AppTest, key: str) -> dict[str, Any]:
    """The Plotly figure of the chart with `key`, from its element's proto spec."""
    for chart in at.get("plotly_chart"):
        if chart.key == key:
            return dict(json.loads(chart.proto.spec))
    raise AssertionError(f"no chart {key!r} in {[c.key for c in at.get('plotly_chart')]}")


def _table(at: AppTest, column: str) -> Any:
    """The first table (a pandas DataFrame) that has `column`."""
    for frame in [*at.dataframe, *at.table]:
        value = frame.value.reset_index() if frame.type == "table" else frame.value
        if column in value.columns:
            return value
    raise AssertionError(f"no table with a {column!r} column")


def _texts(at: AppTest) -> str:
    return "\n".join(m.value for m in at.markdown) + "\n".join(c.value for c in at.caption)


# -- the landing page -----------------------------------------------------------------------


def test_knowledge_risk_kpis_heatmap_treemap_and_history(
    demo: KB, serve: Callable[[KB], AppTest]
) -> None:
    at = serve(demo)
    _no_failure(at)
    assert at.title[0].value == "Knowledge risk"
    ov = demo.risk.overview()
    metrics = _metrics(at)
    assert metrics["Truck factor of the system"] == str(ov.truck_factor) == "1"
    assert metrics["Files orphaned by people who left"] == f"{ov.orphaned_share:.0%}"
    assert metrics["Services with truck factor ≤ 1"] == "6 of 6"
    assert metrics["People who alone hold knowledge"] == str(len(ov.sole_holders))
    services = _table(at, "truck factor")
    assert list(services["service"]) == [s["name"] for s in ov.services]
    assert services.set_index("service").loc["payment-service", "who"] == "Alex Morgan"
    holders = _table(at, "files only they know")
    assert holders.iloc[0]["person"] == "Alex Morgan"

    # The heatmap: services down, people across, departed people marked; values = kb's.
    heat = demo.busfactor.report().to_json()["heatmap"]
    fig = _figure(at, "heatmap")
    trace = fig["data"][0]
    assert trace["type"] == "heatmap"
    assert trace["y"] == heat["rows"] and len(trace["y"]) == 6
    expected = [
        n + (" (left)" if gone else "")
        for n, gone in zip(heat["columns"], heat["departed"], strict=True)
    ]
    assert trace["x"] == expected
    assert "Ben Okafor (left)" in trace["x"] and "Alex Morgan" in trace["x"]
    assert trace["z"] == heat["values"]
    alex = trace["x"].index("Alex Morgan")
    assert trace["z"][trace["y"].index("payment-service")][alex] >= 0.85

    # The treemap: every node of kb's treemap, sized by bytes, coloured by truck factor.
    tree = demo.risk.treemap().to_json()
    tmap = _figure(at, "treemap")["data"][0]
    assert tmap["type"] == "treemap" and tmap["branchvalues"] == "total"
    assert tmap["ids"] == [n["id"] for n in tree["nodes"]]
    assert tmap["values"] == [n["size"] for n in tree["nodes"]]
    assert "payment-service/src/payment" in tmap["ids"]

    # Knowledge over time: one point per month of the demo's history.
    hist = demo.risk.history().to_json()["points"]
    lines = _figure(at, "history")["data"]
    assert lines[0]["x"] == [p["month"] for p in hist] and len(hist) >= 30
    assert lines[1]["y"] == [p["orphaned_share"] for p in hist]
    assert lines[1]["y"][0] == 0 and lines[1]["y"][-1] == ov.orphaned_share


def test_leaver_simulator_after_picking_people(demo: KB, serve: Callable[[KB], AppTest]) -> None:
    at = serve(demo)
    assert "Files no one left would know" not in _metrics(at)
    at.multiselect(key="leavers").set_value(["Alex Morgan"]).run()
    _no_failure(at)
    metrics = _metrics(at)
    # The demo's senior: most of the files and 4 of 6 services (README, bus-factor report).
    alex = demo.risk.simulate_departure(["Alex Morgan"])
    assert alex.share_files_lost > 0.5
    assert metrics["Files no one left would know"] == (
        f"{alex.files_lost} ({alex.share_files_lost:.0%})"
    )
    assert metrics["Services that become unknowable"] == "4 of 6 (67%)"
    assert metrics["Directories that become unknowable"].endswith("of 38")
    warning = at.warning[0].value
    for service in ("inventory-service", "order-service", "payment-service", "user-service"):
        assert service in warning
    lost = _table(at, "known only by")
    assert len(lost) == alex.files_lost
    assert lost.iloc[0]["file"] == "inventory-service:src/inventory/reservations.py"
    assert list(lost["hotspot score"]) == sorted(lost["hotspot score"], reverse=True)
    # The treemap is now coloured by the share the leavers hold; the heatmap outlines Alex.
    tmap = _figure(at, "treemap")["data"][0]
    tree = {n["id"]: n for n in demo.risk.treemap(["Alex Morgan"]).to_json()["nodes"]}
    assert tmap["marker"]["colors"] == [tree[i]["share_lost"] for i in tmap["ids"]]
    assert tree["payment-service/src/payment"]["share_lost"] > 0.7
    shapes = _figure(at, "heatmap")["layout"]["shapes"]
    assert any(s["line"]["color"] == "#b2182b" for s in shapes)

    at.multiselect(key="leavers").set_value(["Alex Morgan", "Maria Garcia"]).run()
    metrics = _metrics(at)
    sim = demo.risk.simulate_departure(["Alex Morgan", "Maria Garcia"])
    assert sim.files_lost > alex.files_lost
    assert metrics["Files no one left would know"] == (
        f"{sim.files_lost} ({sim.share_files_lost:.0%})"
    )
    assert metrics["Services that become unknowable"].startswith("6 of 6")


# -- the other pages -------------------------------------------------------------------------


def test_danger_zones_table_filters_and_entry(demo: KB, serve: Callable[[KB], AppTest]) -> None:
    at = serve(demo).switch_page("pages/wisdom.py").run()
    _no_failure(at)
    rows = demo.staleness.table().rows()
    table = at.dataframe(key="wisdom_table").value
    assert len(table) == len(rows) and len(rows) > 20
    assert table["severity"].iloc[0] == "critical"
    at.multiselect(key="kind").set_value(["known_issue"]).run()
    table = at.dataframe(key="wisdom_table").value
    assert set(table["kind"]) == {"known_issue"}
    assert len(table) == sum(r["kind"] == "known_issue" for r in rows)
    at.multiselect(key="kind").set_value([]).run()
    at.toggle(key="stale").set_value(True).run()
    table = at.dataframe(key="wisdom_table").value
    assert len(table) == sum(r["stale"] for r in rows) > 0 and table["stale"].all()
    at.session_state["wisdom_table"] = {"selection": {"rows": [0], "columns": []}}
    at.run()
    _no_failure(at)
    assert at.warning and at.warning[0].value.startswith("Re-verify:")
    first = table.iloc[0]["title"]
    assert at.subheader[0].value == first


def test_incidents_timeline_and_detail(demo: KB, serve: Callable[[KB], AppTest]) -> None:
    at = serve(demo).switch_page("pages/incidents.py").run()
    _no_failure(at)
    log = demo.incident_log().to_json()["incidents"]
    traces = _figure(at, "timeline")["data"]
    shown = {point[0] for trace in traces for point in trace["customdata"]}
    assert shown == {i["external_id"] for i in log}
    assert {"incident:INC-2025-07", "incident:INC-2024-03"} <= shown
    assert {"critical", "high", "medium"} <= {t["name"] for t in traces}
    # The newest is selected first; pick the deadlock of July 2025.
    assert at.selectbox(key="incident").value == log[0]["external_id"]
    at.selectbox(key="incident").set_value("incident:INC-2025-07").run()
    _no_failure(at)
    assert at.subheader[0].value.startswith("INC-2025-07: ")
    changes = _table(at, "why")
    assert "names INC-2025-07" in set(changes["why"])
    assert "changed in the 72 h before" in set(changes["why"])
    assert "inverted the lock order" in _texts(at)
    at.selectbox(key="incident").set_value("incident:INC-2024-03").run()
    _no_failure(at)
    assert at.subheader[0].value.startswith("INC-2024-03: ")
    assert "payment-service" in _texts(at)


@pytest.mark.skipif(
    not hasattr(KB, "servicemap"), reason="this kb has no service map (KB.servicemap) yet"
)
def test_service_map_graph_hidden_coupling_and_blast_radius(
    demo: KB, serve: Callable[[KB], AppTest]
) -> None:
    at = serve(demo).switch_page("pages/map.py").run()
    _no_failure(at)
    dot = at.get("graphviz_chart")[0].proto.spec
    smap = demo.servicemap.map().to_json()
    for e in smap["edges"]:
        assert f'"{e["from"]}" -> "{e["to"]}"' in dot
    # The planted undeclared dependency: a dashed red edge between the two services.
    hidden = [line for line in dot.splitlines() if 'color="#b2182b"' in line]
    assert any("inventory-service" in h and "analytics-service" in h for h in hidden)
    assert {b.label for b in at.get("download_button")} == {"Mermaid", "DOT"}
    at.selectbox(key="map_service").set_value("user-service").run()
    _no_failure(at)
    assert at.header[0].value == "user-service"
    assert _metrics(at)["Fail with it"] == "2"  # order-service, notification-service
    assert set(_table(at, "effect")["service"]) >= {"order-service", "notification-service"}


def test_map_evidence_opens_on_the_forge_at_the_commit_ingested(
    demo_writable: KB, demo_org: Any, serve: Callable[[KB], AppTest]
) -> None:
    from kb.contract.connector import SourceConfig

    for repo in ("notification-service", "order-service"):  # given web URLs; the rest not
        options = {"web_url": f"https://git.example.com/shopfast/{repo}", "forge": "gitlab"}
        path = str(demo_org.repo_path(repo))
        assert demo_writable.ingestor().run(SourceConfig("git", repo, path, options)).ok
    heads = dict(demo_writable.reader.rows("SELECT name, head_commit FROM repos"))
    at = serve(demo_writable).switch_page("pages/map.py").run()
    at.selectbox(key="map_service").set_value("user-service").run()
    _no_failure(at)
    linked = 0
    for _, row in _table(at, "evidence").iterrows():
        repo, path, *line = row["evidence"].split(" (+")[0].split(":")
        if repo not in ("notification-service", "order-service"):
            assert not isinstance(row["link"], str), row  # no web URL: nothing to open
            continue
        at_head = f"https://git.example.com/shopfast/{repo}/-/blob/{heads[repo]}/{path}"
        assert row["link"] == at_head + (f"#L{line[0]}" if line else ""), row
        linked += 1
    assert linked >= 2  # user-service is called from both


@pytest.mark.skipif(
    not hasattr(KB, "incidents"), reason="this kb makes no incident plans (KB.incidents) yet"
)
def test_incident_trace_form_makes_the_plan_kb_incident_makes(
    demo: KB, serve: Callable[[KB], AppTest]
) -> None:
    at = serve(demo).switch_page("pages/incidents.py").run()
    _no_failure(at)
    at.selectbox(key="trace_service").set_value("payment-service")
    at.text_input(key="trace_symptom").set_value("timeouts")
    next(b for b in at.button if b.label == "Make the plan").click().run()
    _no_failure(at)
    plan = demo.incidents.plan("payment-service", symptom="timeouts").to_markdown()
    assert plan.splitlines()[0] in _texts(at)
    assert any(b.label == "Download the plan" for b in at.get("download_button"))


@pytest.mark.skipif(
    not hasattr(KB, "onboarding"), reason="this kb has no onboarding guides (KB.onboarding) yet"
)
def test_onboarding_guide_rendered_and_downloadable(
    demo: KB, serve: Callable[[KB], AppTest]
) -> None:
    at = serve(demo).switch_page("pages/onboarding.py").run()
    _no_failure(at)
    whole = demo.onboarding.guide().to_markdown()
    assert whole.strip() in [m.value.strip() for m in at.markdown]
    at.selectbox(key="onboarding_scope").set_value("payment-service").run()
    _no_failure(at)
    guide = demo.onboarding.guide("payment-service").to_markdown()
    assert guide.strip() in [m.value.strip() for m in at.markdown]
    assert [b.label for b in at.get("download_button")] == ["Download the markdown"]


def test_sources_page_lists_every_source_and_the_counts(
    demo: KB, serve: Callable[[KB], AppTest]
) -> None:
    at = serve(demo).switch_page("pages/sources.py").run()
    _no_failure(at)
    table = _table(at, "last run")
    demo_sources = {
        "analytics-service", "inventory-service", "notification-service", "order-service",
        "payment-service", "platform", "user-service", "shopfast",
    }  # fmt: skip
    assert demo_sources <= set(table["name"])  # (other tests may have taught notes too)
    assert set(table["last run"]) == {"ok"}
    assert (table["runs"] >= 1).all() and table["last sync"].str.match(r"\d{4}-\d\d-\d\d").all()
    by_name = table.set_index("name")
    assert by_name.loc["shopfast", "kind"] == "slack-export"
    assert by_name.loc["payment-service", "location"].endswith("payment-service")
    counts = demo.store.counts()
    assert _metrics(at)["commits"] == f"{counts['commits']:,}"
    assert "every item of the last runs was read" in _texts(at)


def test_ask_votes_teaches_and_gaps(demo_writable: KB, serve: Callable[[KB], AppTest]) -> None:
    at = serve(demo_writable).switch_page("pages/ask.py").run()
    _no_failure(at)
    at.chat_input[0].set_value("why is payment to order async?").run()
    _no_failure(at)
    (user, assistant) = at.chat_message
    assert user.markdown[0].value == "why is payment to order async?"
    said = "\n".join(m.value for m in assistant.markdown)
    assert "**Sources**" in said and "[1] " in said
    assert "adr" in said.lower()
    answer_id = at.session_state["chat"][0]["id"]
    # 👎 records the vote on the answer.
    at.get("feedback")[0].set_value(0).run()
    _no_failure(at)
    with demo_writable.store.transaction() as s:
        from kb.store.models import Question

        assert s.get(Question, answer_id).feedback == "down"
    # "Remember this" stores the correction as a taught note.
    at.text_area(key=f"note_{answer_id}").set_value("Payment to order is async since ADR-0003.")
    at.text_input(key=f"note_by_{answer_id}").set_value("Alex Morgan")
    at.button[0].click().run()
    _no_failure(at)
    assert at.success and at.success[0].value.startswith("Remembered as `taught:")
    # The down-voted answer is now a knowledge gap, with who could answer it.
    at.switch_page("pages/gaps.py").run()
    _no_failure(at)
    texts = _texts(at)
    assert "Best placed to answer" in texts
    tables = [d.value for d in at.dataframe]
    assert any("why is payment to order async?" in set(t["question"]) for t in tables)


# -- empty states and errors -----------------------------------------------------------------

PAGES = [
    "pages/risk.py",
    *(["pages/map.py"] if hasattr(KB, "servicemap") else []),
    "pages/wisdom.py",
    "pages/incidents.py",
    *(["pages/onboarding.py"] if hasattr(KB, "onboarding") else []),
    "pages/ask.py",
    "pages/gaps.py",
    "pages/sources.py",
]


def test_no_knowledge_base_says_how_to_make_one(
    tmp_path: Path, serve: Callable[[KB], AppTest]
) -> None:
    app = KB(Settings(home=tmp_path / "none"))
    at = serve(app)
    for page in PAGES:
        at.switch_page(page).run()
        _no_failure(at)
        assert "run `kb init`" in at.info[0].value, page


def test_empty_knowledge_base_says_what_to_ingest(
    tmp_path: Path, serve: Callable[[KB], AppTest]
) -> None:
    app = KB(Settings(home=tmp_path / "kb"))
    app.store.migrate()
    at = serve(app)
    expected = {
        "pages/risk.py": "no repositories yet — run `kb ingest git PATH`",
        "pages/wisdom.py": "run `kb ingest git PATH`",
        "pages/incidents.py": "No incidents yet",
        "pages/gaps.py": "No knowledge gaps",
        "pages/sources.py": "Nothing ingested yet — run `kb ingest git PATH`",
    }
    for page, text in expected.items():
        at.switch_page(page).run()
        _no_failure(at)
        assert text.lower() in at.info[0].value.lower(), page


def test_errors_show_their_message_never_a_traceback(
    demo: KB, serve: Callable[[KB], AppTest], monkeypatch: pytest.MonkeyPatch
) -> None:
    def boom(*_: object, **__: object) -> None:
        raise KBError("the database is unreachable: check KB_DATABASE_URL")

    monkeypatch.setattr(demo.risk, "overview", boom)
    monkeypatch.setattr(demo, "incident_log", boom)
    at = serve(demo)
    assert not at.exception
    assert at.error[0].value == "the database is unreachable: check KB_DATABASE_URL"
    at.switch_page("pages/incidents.py").run()
    assert not at.exception
    assert "unreachable" in at.error[0].value


# -- kb ui ----------------------------------------------------------------------------------


def test_kb_ui_serves_the_dashboard_without_phoning_home(tmp_path: Path) -> None:
    import os
    import signal
    import subprocess
    import sys
    import time
    import urllib.request

    from uibrowser import free_port

    from ui.cli import STREAMLIT_FLAGS

    assert "--browser.gatherUsageStats=false" in STREAMLIT_FLAGS
    assert "--server.headless=true" in STREAMLIT_FLAGS
    assert "--client.showErrorDetails=none" in STREAMLIT_FLAGS
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("KB_")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "kb.cli", "--home", str(tmp_path / "kb"), "ui", "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        cwd=tmp_path,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health") as res:
                    assert res.read() == b"ok"
                    break
            except OSError:
                assert proc.poll() is None and time.monotonic() < deadline
                time.sleep(0.3)
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/") as res:
            assert b"<title>" in res.read()
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        out = proc.communicate(timeout=30)[0].decode()
    assert f"kb dashboard on http://127.0.0.1:{port}" in out
