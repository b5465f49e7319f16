"""The floor under the dashboard's landing page, for bench/ui.py: the same three kinds of
Plotly chart (a heatmap, a treemap, a line chart) on a Streamlit page, with a few points each
and nothing computed. What it takes to draw is Streamlit's and Plotly's own cost."""

import plotly.graph_objects as go
import streamlit as st

st.set_page_config(page_title="floor", layout="wide")
st.title("Three charts")
st.plotly_chart(go.Figure(go.Heatmap(z=[[1, 2], [3, 4]], x=["a", "b"], y=["c", "d"])))
st.plotly_chart(go.Figure(go.Treemap(labels=["root", "a", "b"], parents=["", "root", "root"])))
st.plotly_chart(go.Figure(go.Scatter(x=[1, 2, 3], y=[3, 1, 2], mode="lines")))
