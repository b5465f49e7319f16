"""The Streamlit dashboard: `kb ui` runs `streamlit run` on ui/app.py.

Pages are thin over kb's public API (`from kb import KB, ...` and the results' `to_json()`):
every figure they show is computed by kb, cached here on the knowledge base's version.
"""
