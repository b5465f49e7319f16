"""The dashboard's entry point (`kb ui` runs `streamlit run` on this file): the page router."""

from __future__ import annotations

import streamlit as st

from kb import KB

st.set_page_config(page_title="kb", page_icon=":material/hub:", layout="wide")

PAGES = [
    st.Page("pages/risk.py", title="Knowledge risk", icon=":material/warning:", default=True),
]
# Pages over services of kb that a version may not have yet join when it does.
if hasattr(KB, "servicemap"):
    PAGES.append(st.Page("pages/map.py", title="Service map", icon=":material/hub:"))
PAGES += [
    st.Page("pages/wisdom.py", title="Danger zones & known issues", icon=":material/report:"),
    st.Page("pages/incidents.py", title="Incidents", icon=":material/local_fire_department:"),
]
if hasattr(KB, "onboarding"):
    PAGES.append(st.Page("pages/onboarding.py", title="Onboarding", icon=":material/school:"))
PAGES += [
    st.Page("pages/ask.py", title="Ask", icon=":material/chat:"),
    st.Page("pages/gaps.py", title="Knowledge gaps", icon=":material/help:"),
    st.Page("pages/sources.py", title="Sources", icon=":material/database:"),
]

st.navigation(PAGES).run()
