"""Service map: the dependency graph by edge kind, hidden couplings as dashed red edges; the
selected service's blast radius, dependencies with evidence, owners and experts, danger zones
and known issues; the map as Mermaid or DOT."""

from __future__ import annotations

from typing import Any

import pandas as pd
import streamlit as st

from ui import charts, state

st.title("Service map")


def _edges_table(edges: list[dict[str, Any]], links: dict[str, str]) -> pd.DataFrame:
    rows = []
    for e in edges:
        ev = e["evidence"][0] if e["evidence"] else None
        where = f"{ev['repo']}:{ev['path']}" if ev else ""
        if ev and ev["line"] is not None:
            where += f":{ev['line']}"
        rows.append(
            {
                "from": e["from"],
                "to": e["to"],
                "kind": e["kind"],
                "via": e["via"],
                "evidence": where + (f" (+{len(e['evidence']) - 1})" if len(e["evidence"]) > 1
                                     else ""),
                "link": links.get(where),
            }
        )  # fmt: skip
    return pd.DataFrame(rows, columns=["from", "to", "kind", "via", "evidence", "link"])


def _service(name: str, data: dict[str, Any]) -> None:
    v = state.version()
    detail = state.service_detail(v, name)
    st.header(name)
    info = next((s for s in data["map"]["services"] if s["name"] == name), None)
    if info:
        owner = f" · owner {info['owner']}" if info["owner"] else ""
        st.caption(f"{info['repo']}:{info['path'] or '.'}{owner}")
    blast = detail["blast_radius"]
    a, b = st.columns(2)
    a.metric("Fail with it", len(blast["fails"]), help="Reached through synchronous calls only.")
    b.metric("Their work queues", len(blast["queues"]), help="Reached through events or data.")
    if blast["dependents"]:
        st.dataframe(
            pd.DataFrame(
                [
                    {
                        "service": h["service"],
                        "effect": h["effect"],
                        "depth": h["depth"],
                        "path": " → ".join(h["path"]),
                        "kinds": ", ".join(h["kinds"]),
                    }
                    for h in blast["dependents"]
                ]
            ),
            hide_index=True,
            width="stretch",
        )
    else:
        st.caption("Nothing depends on it.")
    st.subheader("Dependencies, with evidence")
    edges = [e for e in data["map"]["edges"] if name in (e["from"], e["to"])]
    st.dataframe(
        _edges_table(edges, data["links"]),
        hide_index=True,
        width="stretch",
        column_config={"link": st.column_config.LinkColumn("link", display_text="open")},
    )
    st.subheader("Who knows it")
    experts = detail["experts"]
    if experts["people"]:
        st.markdown("\n".join(f"- **{p['name']}**: {p['reason']}" for p in experts["people"][:5]))
    for p in experts["departed"][:3]:
        st.markdown(f"- {p['name']} (has left): {p['reason']}")
    st.subheader("Danger zones and known issues")
    wisdom = [w for w in detail["wisdom"] if w["kind"] in ("danger_zone", "known_issue")]
    if wisdom:
        st.dataframe(
            pd.DataFrame(
                [
                    {
                        "severity": w["severity"],
                        "kind": w["kind"],
                        "title": (w["title"] or "").splitlines()[0][:140],
                        "where": ":".join(str(x) for x in (w["repo"], w["path"], w["line"]) if x),
                        "stale": w["stale"],
                        "source": w["url"],
                    }
                    for w in wisdom
                ]
            ),
            hide_index=True,
            width="stretch",
            column_config={"source": st.column_config.LinkColumn("source", display_text="open")},
        )
    else:
        st.caption("None recorded.")


def page() -> None:
    """The graph, the downloads, the selected service."""
    if not state.require_kb():
        return
    with st.spinner("Drawing the service map…"):
        data = state.service_map(state.version())
    services = [s["name"] for s in data["map"]["services"]]
    if not services:
        state.empty("No services yet — run `kb ingest git PATH` for each repository.")
        return
    st.graphviz_chart(charts.map_dot(data["dot"], data["hidden"]), width="stretch")
    st.caption(
        "Solid: synchronous calls; dashed: events; dotted: shared databases; dashed red: "
        "services that change together with no declared dependency (`kb coupling`)."
    )
    left, right, _ = st.columns([1, 1, 4])
    left.download_button("Mermaid", data["mermaid"], "service-map.mmd", "text/plain")
    right.download_button("DOT", data["dot"], "service-map.dot", "text/vnd.graphviz")
    name = st.selectbox("Service", services, key="map_service")
    _service(name, data)


with state.guarded():
    page()
