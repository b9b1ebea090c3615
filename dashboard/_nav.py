"""The dashboard's pages and how they link to each other.

`pages(idx, reports)` builds the four `st.Page`s once per run; the Search page receives the Video
page so that each hit links to it at the hit's time (`st.page_link` with `?video=NAME&t=SECONDS`:
navigation inside the running session, so the Search page keeps its query and results).
`remember` / `restore` keep a widget's value across pages: Streamlit forgets the state of a
widget on a page that is not shown, so each page copies its widgets' values to keys of its own.
"""
from __future__ import annotations

from pathlib import Path

import streamlit as st

_KEPT = "_kept_"  # prefix of the session keys that outlive a page's widgets


def restore(key: str, default) -> None:
    """Give widget `key` the value it had when its page was last shown (call before the widget)."""
    if key not in st.session_state:
        st.session_state[key] = st.session_state.get(_KEPT + key, default)


def remember(key: str) -> None:
    """Keep widget `key`'s current value for the next visit of its page (call after the widget)."""
    if key in st.session_state:
        st.session_state[_KEPT + key] = st.session_state[key]


def pages(idx, reports: Path, *, default: str = "search") -> list:
    """The Search, Video, Corpus and Reports pages over the open index `idx`."""
    from dashboard import _corpus, _search, _video

    video = st.Page(lambda: _video.video_page(idx), title="Video", url_path="video", icon=":material/movie:",
                    default=default == "video")
    return [st.Page(lambda: _search.search_page(idx, video=video), title="Search", url_path="search",
                    icon=":material/search:", default=default == "search"),
            video,
            st.Page(lambda: _corpus.corpus_page(idx), title="Corpus", url_path="corpus", icon=":material/list:",
                    default=default == "corpus"),
            st.Page(lambda: _corpus.reports_page(reports), title="Reports", url_path="reports",
                    icon=":material/monitoring:", default=default == "reports")]
