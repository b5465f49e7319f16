"""Incidents: a timeline by service and severity; the selected incident's write-up, related
known issues and the changes correlated with it."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import pandas as pd
import streamlit as st

from kb import KB
from ui import charts, state

st.title("Incidents")


def _picked_from_timeline(ids: list[str]) -> str | None:
    event = st.session_state.get("timeline")
    points = ((event or {}).get("selection") or {}).get("points") or []
    for point in points:
        data = point.get("customdata")
        if isinstance(data, list) and data and data[0] in ids:
            return str(data[0])
    return None


def _detail(inc: dict[str, Any]) -> None:
    st.subheader(f"{inc['id']}: {inc['title']}")
    when = inc["started_at"][:16].replace("T", " ") if inc["started_at"] else "date unknown"
    bits = [f"{when} UTC", f"severity **{inc['severity'] or 'unknown'}**"]
    if inc["minutes"] is not None:
        bits.append(f"{inc['minutes']} min")
    if inc["services"]:
        bits.append("services: " + ", ".join(inc["services"]))
    st.markdown(" · ".join(bits))
    left, right = st.columns(2)
    with left:
        st.markdown("**Root cause**")
        st.markdown(inc["root_cause"] or "_not recorded_")
    with right:
        st.markdown("**Resolution**")
        st.markdown(inc["resolution"] or "_not recorded_")
    pm = inc["postmortem"]
    if pm:
        where = f"{pm['repo'] or ''}:{pm['path'] or ''}"
        if pm["url"]:
            st.markdown(f"**Postmortem:** [{pm['title']}]({pm['url']}) (`{where}`)")
        else:
            st.markdown(f"**Postmortem:** {pm['title']} (`{where}`)")
    for thread in inc["threads"]:
        label = thread["title"] or "thread"
        st.markdown(f"**Discussion:** [{label}]({thread['url']})" if thread["url"] else label)
    st.markdown("**Related known issues**")
    if inc["known_issues"]:
        for k in inc["known_issues"]:
            link = f"[{k['title']}]({k['url']})" if k["url"] else k["title"]
            st.markdown(f"- {link} ({k['service'] or '—'}, {k['severity']})")
    else:
        st.caption("None recorded.")
    st.markdown("**Changes correlated with it**")
    if inc["changes"]:
        st.dataframe(
            pd.DataFrame(
                [
                    {
                        "date": c["date"],
                        "repo": c["repo"],
                        "commit": c["sha"][:10],
                        "subject": c["subject"],
                        "author": c["author"],
                        "why": c["why"],
                        "link": c["url"],
                    }
                    for c in inc["changes"]
                ]
            ),
            hide_index=True,
            width="stretch",
            key="changes_table",
            column_config={"link": st.column_config.LinkColumn("link", display_text="open")},
        )
    else:
        st.caption("No commit names it or changed its services just before.")


def _trace_form(services: list[str]) -> None:
    """The plan `kb incident` makes, for a service and a symptom, with logs to stitch."""
    st.header("Incident trace")
    with st.form("trace"):
        service = st.selectbox("Service", services, key="trace_service")
        symptom = st.text_input(
            "Symptom", placeholder="e.g. timeouts on checkout", key="trace_symptom"
        )
        logs = st.file_uploader(
            "Logs to stitch (optional)", accept_multiple_files=True, key="trace_logs"
        )
        go = st.form_submit_button("Make the plan")
    if not go:
        return
    with st.spinner("Tracing…"), tempfile.TemporaryDirectory() as tmp:
        paths = []
        for upload in logs or []:
            path = Path(tmp) / Path(upload.name).name
            path.write_bytes(upload.getvalue())
            paths.append(path)
        plan = state.get_kb().incidents.plan(service, symptom=symptom or None, logs=paths)
        text = plan.to_markdown()
    st.download_button("Download the plan", text, "incident-plan.md", "text/markdown")
    st.markdown(text)


def page() -> None:
    """Timeline, selection, detail; the trace form when kb can make incident plans."""
    if not state.require_kb():
        return
    data = state.incidents(state.version())["incidents"]
    if not data:
        state.empty(
            "No incidents yet — ingest repositories with postmortems (`kb ingest git PATH`) "
            "or incident channels (`kb ingest slack-export EXPORT.zip`)."
        )
        return
    st.plotly_chart(
        charts.timeline_figure(data), key="timeline", on_select="rerun", selection_mode="points"
    )
    ids = [i["external_id"] for i in data]
    clicked = _picked_from_timeline(ids)
    if clicked is not None and clicked != st.session_state.get("_timeline_seen"):
        st.session_state["_timeline_seen"] = clicked
        st.session_state.incident = clicked
    labels = {i["external_id"]: f"{i['id']} — {i['title']}" for i in data}
    chosen = st.selectbox("Incident", ids, format_func=labels.__getitem__, key="incident")
    _detail(next(i for i in data if i["external_id"] == chosen))
    if hasattr(KB, "incidents"):  # incident plans (`kb incident`), where this kb has them
        services = [s["name"] for s in state.overview(state.version())["services"]]
        _trace_form(services)


with state.guarded():
    page()
