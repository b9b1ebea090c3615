"""The Streamlit dashboard: `app.py` is the entry point, `_nav.py` joins the pages (`_search.py`,
`_video.py`, `_corpus.py`), `_timeline.py` draws the charts, `_safe.py` checks what reaches files
and URLs, `_text.py` writes text as text."""
