"""The avu dashboard (Streamlit): search, a video page with player, subtitles and timelines, the
corpus with its failures, and the reports of evaluations and benchmarks.

Run with `avu dashboard INDEX` (binds 127.0.0.1 by default). It reads the index only through the
`avu.Index` API, caches the index handle, and serves only video files that the index itself lists.
The pages live in `_search.py`, `_video.py` and `_corpus.py`; `_nav.py` joins them.
"""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import streamlit as st

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # `streamlit run` from a checkout

from dashboard import _nav  # noqa: E402


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
    st.set_option("client.toolbarMode", "minimal")  # no Deploy button, also when started without the config
    uri, reports = settings()
    if not uri:
        st.error("No index given: run `avu dashboard INDEX`.")
        return
    try:
        idx = get_index(uri)
    except Exception as e:  # noqa: BLE001 - shown to the user, not a crash
        st.error(f"Cannot open the index: {e}")
        return
    st.navigation(_nav.pages(idx, reports)).run()


main()
