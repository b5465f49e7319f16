"""Knowledge gaps: questions kb could not answer or that were voted down, by service."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from ui import state

st.title("Knowledge gaps")


def page() -> None:
    """The open questions of each service and who is best placed to answer them."""
    if not state.require_kb():
        return
    data = state.gaps(state.version())
    if not data["services"]:
        state.empty(
            "No knowledge gaps: every question so far was answered and none was voted down. "
            "Questions kb cannot answer (here, in Slack or `kb ask`) show up here."
        )
        return
    st.caption(f"{data['total']} open questions")
    for group in data["services"]:
        name = group["service"] or "(no service named)"
        with st.container(border=True):
            st.subheader(name)
            if group["ask"]:
                st.markdown("Best placed to answer: " + ", ".join(f"**{p}**" for p in group["ask"]))
            st.dataframe(
                pd.DataFrame(
                    [
                        {
                            "question": q["question"],
                            "why": "unanswered"
                            if not q["answered"]
                            else "voted down" + (f": {q['comment']}" if q["comment"] else ""),
                            "asked": q["asked_at"][:10],
                            "by": q["asker"] or "",
                            "answer id": q["id"],
                        }
                        for q in group["questions"]
                    ]
                ),
                hide_index=True,
                width="stretch",
                key=f"gaps_{name}",
            )


with state.guarded():
    page()
