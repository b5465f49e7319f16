"""Onboarding: the guide to the whole system or to one service, rendered and downloadable."""

from __future__ import annotations

import streamlit as st

from ui import state

st.title("Onboarding")

WHOLE = "The whole system"


def page() -> None:
    """Pick a scope, read the guide, download its markdown."""
    if not state.require_kb():
        return
    v = state.version()
    services = [s["name"] for s in state.overview(v)["services"]]
    scope = st.selectbox("Guide to", [WHOLE, *services], key="onboarding_scope")
    service = None if scope == WHOLE else scope
    with st.spinner("Writing the guide…"):
        guide = state.onboarding(v, service)
    st.download_button(
        "Download the markdown",
        guide,
        file_name=f"onboarding-{service or 'system'}.md",
        mime="text/markdown",
    )
    st.markdown(guide)


with state.guarded():
    page()
