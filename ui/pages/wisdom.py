"""Danger zones & known issues: every wisdom entry, filterable, with links to its source."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from ui import state

st.title("Danger zones & known issues")

SEVERITY_ORDER = ["critical", "high", "medium", "low"]


def page() -> None:
    """The filterable table and the selected entry."""
    if not state.require_kb():
        return
    rows = state.wisdom(state.version())
    if not rows:
        state.empty(
            "No wisdom yet — run `kb ingest git PATH` (danger comments, ADRs, hotspots) or "
            '`kb remember "…" --service NAME`.'
        )
        return
    f1, f2, f3, f4, f5 = st.columns([3, 2, 2, 2, 1])
    services = f1.multiselect("Service", sorted({r["service"] or "—" for r in rows}), key="svc")
    kinds = f2.multiselect("Kind", sorted({r["kind"] for r in rows}), key="kind")
    severities = f3.multiselect(
        "Severity", [s for s in SEVERITY_ORDER if any(r["severity"] == s for r in rows)], key="sev"
    )
    origins = f4.multiselect("Origin", sorted({r["origin"] for r in rows}), key="origin")
    stale_only = f5.toggle("Stale only", key="stale")
    shown = [
        r
        for r in rows
        if (not services or (r["service"] or "—") in services)
        and (not kinds or r["kind"] in kinds)
        and (not severities or r["severity"] in severities)
        and (not origins or r["origin"] in origins)
        and (not stale_only or r["stale"])
    ]
    shown.sort(key=lambda r: (SEVERITY_ORDER.index(r["severity"]) if r["severity"] in
                              SEVERITY_ORDER else 9, r["service"] or "", r["title"]))  # fmt: skip
    st.caption(
        f"{len(shown)} of {len(rows)} entries · {sum(r['stale'] for r in rows)} stale "
        "(their files changed, or whoever told it has left)"
    )
    table = pd.DataFrame(
        [
            {
                "severity": r["severity"],
                "kind": r["kind"],
                "service": r["service"] or "",
                "title": (r["title"] or "").splitlines()[0][:140] if r["title"] else "",
                "where": ":".join(str(x) for x in (r["repo"], r["path"], r["line"]) if x),
                "origin": r["origin"],
                "said by": r["said_by"] or "",
                "stale": r["stale"],
                "source": r["url"],
            }
            for r in shown
        ],
        columns=["severity", "kind", "service", "title", "where", "origin", "said by", "stale",
                 "source"],
    )  # fmt: skip
    event = st.dataframe(
        table,
        hide_index=True,
        width="stretch",
        key="wisdom_table",
        on_select="rerun",
        selection_mode="single-row",
        column_config={
            "source": st.column_config.LinkColumn("source", display_text="open"),
            "stale": st.column_config.CheckboxColumn("stale"),
        },
    )
    picked = event.selection.rows if event is not None else []
    if not picked:
        st.caption("Select a row to read the entry.")
        return
    r = shown[picked[0]]
    st.subheader(r["title"].splitlines()[0] if r["title"] else r["id"])
    where = ":".join(str(x) for x in (r["repo"], r["path"], r["line"]) if x)
    st.markdown(
        f"**{r['kind']}**, severity **{r['severity']}**, {r['origin']}"
        + (f", said by {r['said_by']}" if r["said_by"] else "")
        + (f" · `{where}`" if where else "")
    )
    st.markdown(r["body"])
    if r["url"]:
        st.link_button("Open the source", r["url"])
    elif r["source"]:
        st.caption(f"Source: `{r['source']}` (no web link: ingest with `--web-url URL`)")
    if r["stale"]:
        st.warning("Re-verify: " + "; ".join(r["reasons"]))


with state.guarded():
    page()
