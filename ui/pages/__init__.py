"""The dashboard pages (run by st.navigation from ui/app.py)."""
