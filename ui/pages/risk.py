"""Knowledge risk, the landing page: truck factors, the services × people heatmap, the
knowledge treemap, the leaver simulator and the risk month by month."""

from __future__ import annotations

from typing import Any

import pandas as pd
import streamlit as st

from ui import charts, state

st.title("Knowledge risk")


def _pct(x: float) -> str:
    return f"{x:.0%}"


def _chart_points(key: str) -> list[dict[str, Any]]:
    """The points selected on a chart (by click, box or lasso) as Streamlit returns them."""
    event = st.session_state.get(key)
    if not event:
        return []
    selection = event.get("selection") or {}
    return list(selection.get("points") or [])


def _take_heatmap_pick(people: list[str]) -> None:
    """People clicked on the heatmap join the leavers (once per new click)."""
    picked = set()
    for point in _chart_points("heatmap"):
        name = str(point.get("x") or "").removesuffix(charts.LEFT)
        if name in people:
            picked.add(name)
    seen = set(st.session_state.get("_heatmap_seen", ()))
    new = [n for n in sorted(picked - seen) if n not in st.session_state.leavers]
    st.session_state["_heatmap_seen"] = sorted(picked)
    if new:
        st.session_state.leavers = [*st.session_state.leavers, *new]


def _add_leavers(names: list[str]) -> None:
    st.session_state.leavers = list(dict.fromkeys([*st.session_state.leavers, *names]))


def _kpis(ov: dict[str, Any], report: dict[str, Any]) -> None:
    single = [s for s in ov["services"] if s["truck_factor"] <= 1]
    a, b, c, d = st.columns(4)
    a.metric(
        "Truck factor of the system",
        ov["truck_factor"],
        help="How many people would have to leave before more than half of all files have "
        "no author left. Now: " + (", ".join(ov["truck_factor_authors"]) or "already orphaned"),
    )
    b.metric(
        "Files orphaned by people who left",
        _pct(ov["orphaned_share"]),
        f"{ov['orphaned_files']} of {ov['files']}",
        delta_color="off",
        delta_arrow="off",
        help="Left: " + (", ".join(ov["departed"]) or "no one"),
    )
    label = "services" if ov["services"] else "repositories"
    scopes = ov["services"] or report["repos"]
    c.metric(
        f"{label.capitalize()} with truck factor ≤ 1",
        f"{len(single) if ov['services'] else sum(r['truck_factor'] <= 1 for r in scopes)}"
        f" of {len(scopes)}",
    )
    d.metric(
        "People who alone hold knowledge",
        len(ov["sole_holders"]),
        help="People still here who are the only author of some files.",
    )
    left, right = st.columns([3, 2])
    with left:
        st.caption("Truck factor per service")
        st.table(
            pd.DataFrame(
                [
                    {
                        "service": s["name"],
                        "truck factor": s["truck_factor"],
                        "who": ", ".join(s["truck_factor_authors"]) or "no one (orphaned)",
                        "files": s["files_analyzed"],
                        "orphaned": s["orphaned_files"],
                    }
                    for s in scopes
                ]
            ).set_index("service"),
        )
    with right:
        st.caption("Who alone holds knowledge")
        st.table(
            pd.DataFrame(
                [
                    {
                        "person": p["name"],
                        "files only they know": p["sole_author_files"],
                        "single point of failure of": ", ".join(p["critical_to"]) or "—",
                    }
                    for p in ov["sole_holders"]
                ],
                columns=["person", "files only they know", "single point of failure of"],
            ).set_index("person"),
        )


def _simulation(sim: dict[str, Any]) -> None:
    a, b, c = st.columns(3)
    a.metric(
        "Files no one left would know",
        f"{sim['files_lost']} ({_pct(sim['share_files_lost'])})",
        help=f"of the {sim['files_known_now']} files someone here knows now",
    )
    b.metric(
        "Services that become unknowable",
        f"{len(sim['services_unknowable'])} of {sim['services_known_now']}"
        f" ({_pct(sim['share_services_unknowable'])})",
        help="More than half of the service's files would have no author left.",
    )
    c.metric(
        "Directories that become unknowable",
        f"{len(sim['directories_unknowable'])} of {sim['directories_known_now']}",
    )
    if sim["services_unknowable"]:
        st.warning("Unknowable: " + ", ".join(sim["services_unknowable"]))


def _lost_table(sim: dict[str, Any]) -> None:
    st.subheader("What is lost, hotspots first")
    if not sim["lost"]:
        st.caption("Nothing: someone else knows every file they know.")
        return
    st.dataframe(
        pd.DataFrame(
            [
                {
                    "file": f"{f['repo']}:{f['path']}",
                    "service": f["service"] or "",
                    "hotspot score": f["hotspot_score"],
                    "severity": f["severity"] or "",
                    "changes": f["changes"],
                    "fixes": f["fixes"],
                    "incidents": ", ".join(f["incidents"]),
                    "known only by": ", ".join(f["holders"]),
                }
                for f in sim["lost"]
            ]
        ),
        hide_index=True,
        width="stretch",
        height=360,
        key="lost_table",
    )


def _treemap(tree: dict[str, Any], leavers: list[str]) -> None:
    st.subheader("Knowledge map: repositories → directories → files")
    options = ["truck factor", "share held by the selected leavers"]
    colour = st.radio(
        "Colour by",
        options,
        index=1 if leavers else 0,
        horizontal=True,
        key=f"treemap_colour_{bool(leavers)}",
    )
    fig = charts.treemap_figure(tree, "loss" if colour == options[1] else "truck_factor")
    st.plotly_chart(
        fig, key="treemap", on_select="rerun", selection_mode="points", config=charts.NO_TOOLBAR
    )
    st.caption(
        "Sized by bytes on disk"
        + ("" if tree["files_shown"] else "; directories are the leaves (too many files)")
        + ". Click a rectangle to zoom in and select it."
    )
    by_id = {n["id"]: n for n in tree["nodes"]}
    for point in _chart_points("treemap"):
        node = by_id.get(str(point.get("id") or point.get("label") or ""))
        if node is None and isinstance(point.get("point_index"), int):
            index = point["point_index"]
            node = tree["nodes"][index] if 0 <= index < len(tree["nodes"]) else None
        if node is None:
            continue
        st.markdown(
            f"**{node['id']}** ({node['kind']}): truck factor {node['truck_factor']}, "
            f"{node['files']} files, {node['files'] - node['known']} orphaned; known by "
            f"{', '.join(node['authors']) or 'no one still here'}."
        )
        if node["authors"]:
            st.button(
                f"Simulate {', '.join(node['authors'][:3])} leaving",
                key=f"leave_{node['id']}",
                on_click=_add_leavers,
                args=(node["authors"],),
            )


def page() -> None:
    """The landing page."""
    if not state.require_kb():
        return
    v = state.version()
    with st.spinner("Computing knowledge risk…"):
        ov = state.overview(v)
        report = state.busfactor(v)
    if not ov["files"]:
        state.empty("No repositories yet — run `kb ingest git PATH` (`--history-only` is enough).")
        return
    if ov["as_of"]:
        st.caption(f"From stored history as of {ov['as_of'][:10]}.")
    _kpis(ov, report)

    people = [p["name"] for p in ov["people"] if not p["departed"]]
    if "leavers" not in st.session_state:
        st.session_state.leavers = []
    st.session_state.leavers = [n for n in st.session_state.leavers if n in people]
    _take_heatmap_pick(people)

    st.header("Leaver simulator")
    leavers = st.multiselect(
        "If these people left…",
        people,
        key="leavers",
        placeholder="Pick people, or click a column of the heatmap",
    )
    sim = state.departure(v, tuple(leavers)) if leavers else None
    if sim is not None:
        _simulation(sim)
    else:
        st.caption("Pick one or more people to see what would become unknowable.")

    st.subheader("Who knows which service")
    heat = report["heatmap"]
    if heat["columns"]:
        st.plotly_chart(
            charts.heatmap_figure(heat, leavers),
            key="heatmap",
            config=charts.NO_TOOLBAR,
            on_select="rerun",
            selection_mode="points",
        )
        st.caption("Share of each service's files a person authors. Click a person to add them.")
    with st.spinner("Drawing the knowledge map…"):
        tree = state.treemap(v, tuple(leavers))
    _treemap(tree, leavers)
    if sim is not None:
        _lost_table(sim)

    st.header("Knowledge over time")
    with st.spinner("Replaying history month by month…"):
        hist = state.risk_history(v)
    if hist["points"]:
        st.plotly_chart(
            charts.history_figure(hist["points"]), key="history", config=charts.NO_TOOLBAR
        )
        first, last = hist["points"][0], hist["points"][-1]
        step = "" if hist["step_months"] == 1 else f" (every {hist['step_months']} months)"
        st.caption(
            f"Computed from history as of each month{step}: from {first['month']} to "
            f"{last['month']} the truck factor went {first['truck_factor']} → "
            f"{last['truck_factor']}, orphaned files {_pct(first['orphaned_share'])} → "
            f"{_pct(last['orphaned_share'])}."
        )


with state.guarded():
    page()
