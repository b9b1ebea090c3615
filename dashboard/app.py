"""The avu dashboard (Streamlit): search, a video page with player, timeline and subtitles, the
corpus with its failures, and the reports of evaluations and benchmarks.

Run with `avu dashboard INDEX` (binds 127.0.0.1 by default). It reads the index only through the
`avu` API, caches the index handle and the text model, and serves only video files that the
index itself lists.
"""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import streamlit as st

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # `streamlit run` from a checkout

from dashboard import _views  # noqa: E402

def settings() -> tuple[str | None, Path]:
    p = argparse.ArgumentParser(add_help=False)
    p.add_argument("--index", default=os.environ.get("AVU_INDEX"))
    p.add_argument("--reports", default=os.environ.get("AVU_REPORTS", "runs"))
    args, _ = p.parse_known_args(sys.argv[1:])
    return args.index, Path(args.reports)


@st.cache_resource(show_spinner=False)
def get_index(uri: str):
    import avu

    return avu.open_index(uri)


def main() -> None:
    st.set_page_config(page_title="avu", layout="wide")
    uri, reports = settings()
    if not uri:
        st.error("No index given: run `avu dashboard INDEX`.")
        return
    try:
        idx = get_index(uri)
    except Exception as e:  # noqa: BLE001 - shown to the user, not a crash
        st.error(f"Cannot open the index: {e}")
        return
    pages = [st.Page(lambda: _views.search_page(idx), title="Search", url_path="search", default=True),
             st.Page(lambda: _views.video_page(idx), title="Video", url_path="video"),
             st.Page(lambda: _views.corpus_page(idx), title="Corpus", url_path="corpus"),
             st.Page(lambda: _views.reports_page(reports), title="Reports", url_path="reports")]
    st.navigation(pages).run()


main()
