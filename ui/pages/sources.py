"""Sources: what is ingested, the counts, each source's last sync and what it could not read."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from ui import state

st.title("Sources")

HEADLINE = ("repos", "commits", "people", "services", "documents", "vectors", "wisdom_entries",
            "incidents")  # fmt: skip


def page() -> None:
    """Counts, sources and the failures of their last runs."""
    if not state.require_kb():
        return
    data = state.sources(state.version())
    counts = data["counts"]
    cols = st.columns(len(HEADLINE))
    for col, name in zip(cols, HEADLINE, strict=True):
        col.metric(name.replace("_", " "), f"{counts.get(name, 0):,}")
    if not data["sources"]:
        state.empty(
            "Nothing ingested yet — run `kb ingest git PATH` for each repository, "
            "`kb ingest slack-export EXPORT.zip` for Slack."
        )
        return
    rows = []
    for s in data["sources"]:
        run = s["last_run"] or {}
        summary = run.get("summary") or {}
        when = run.get("finished_at") or s["last_synced_at"]
        rows.append(
            {
                "kind": s["kind"],
                "name": s["name"],
                "location": s["location"],
                "last sync": when[:16].replace("T", " ") if when else "",
                "runs": s["runs"],
                "last run": "" if not run else "ok" if run["ok"] else "with failures",
                "commits": summary.get("commits_written"),
                "documents": summary.get("documents_written"),
                "texts embedded": summary.get("texts_embedded"),
                "skipped": sum((summary.get("skipped") or {}).values()),
                "failures": summary.get("failures_total", len(summary.get("failures", []))),
                "error": summary.get("error", ""),
            }
        )
    st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch", key="sources_table")
    failures = [
        {"source": f"{s['kind']}:{s['name']}", "where": f["where"], "message": f["message"]}
        for s in data["sources"]
        for f in ((s["last_run"] or {}).get("summary") or {}).get("failures", [])
    ]
    st.subheader("What the last runs could not read")
    if failures:
        st.dataframe(pd.DataFrame(failures), hide_index=True, width="stretch", key="failures")
    else:
        st.caption("Nothing: every item of the last runs was read.")
    with st.expander("Rows per table"):
        st.dataframe(
            pd.DataFrame(sorted(counts.items()), columns=["table", "rows"]),
            hide_index=True,
            key="counts_table",
        )


with state.guarded():
    page()
