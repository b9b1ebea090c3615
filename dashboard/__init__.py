"""The Streamlit dashboard: `app.py` is the entry point, `_views.py` the pages."""
