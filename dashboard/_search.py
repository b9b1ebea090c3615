"""The Search page: a text query (or an image or sound by example) over the index, each hit with
its key frame, time, score, the reasons it matched (`Hit.matched`) and a link to the Video page at
the hit's time. The query, the number of results, the modalities and the last results outlive a
visit to another page (session state), so coming back shows what was there."""
from __future__ import annotations

import tempfile
from pathlib import Path

import streamlit as st

from dashboard._nav import remember, restore
from dashboard._safe import UPLOAD_TYPES, link_name, upload_error
from dashboard._text import clock, plain

_RESULTS = "_search_results"  # session key: (what was asked, the hits), reused while the same is asked


def _modalities(idx) -> list[str] | None:
    """The modalities to search, chosen by the user among those the index holds (None: the index's
    default, when it holds fewer than two)."""
    available = list(idx.modalities())
    if len(available) < 2:
        return None
    restore("modalities", available)
    st.session_state["modalities"] = [m for m in st.session_state["modalities"] if m in available]
    chosen = st.multiselect("Compare text by", available, key="modalities")
    remember("modalities")
    return chosen or None


def _ask(idx, query, k: int, modalities: list[str] | None):
    """The hits for a text query, from the session when the same question was asked last."""
    asked = (query, k, tuple(modalities or ()))
    kept = st.session_state.get(_RESULTS)
    if kept and kept[0] == asked:
        return kept[1]
    hits = idx.search(query, k=k, modalities=modalities)
    st.session_state[_RESULTS] = (asked, hits)
    return hits


def _by_example(idx, upload, k: int):
    problem = upload_error(upload.name, upload.size)
    if problem:
        st.error(problem)
        return None
    with tempfile.TemporaryDirectory() as tmp:  # private, removed as soon as the query is encoded
        path = Path(tmp) / f"query{Path(upload.name).suffix.lower()}"
        path.write_bytes(upload.getvalue())
        try:
            return idx.search(str(path), k=k)
        except ValueError as e:
            st.warning(str(e).replace(str(path), upload.name))
            return None


def search_page(idx, *, video) -> None:
    """The page; `video` is the Video page (`st.Page`) that hits link to."""
    st.title("Search")
    videos = idx.videos()
    if not videos:
        st.info("The index holds no videos yet: run `avu ingest PATHS --index DIR`.")
        return
    restore("query", "")
    restore("k", 6)
    query = st.text_input("What is said, shown, heard or written on screen", key="query")
    remember("query")
    upload = st.file_uploader("...or a query by example (image or audio)", type=list(UPLOAD_TYPES))
    k = st.slider("Results", 1, 20, key="k")
    remember("k")
    modalities = _modalities(idx)
    if upload is not None:
        hits = _by_example(idx, upload, k)
    elif query.strip():
        try:
            hits = _ask(idx, query.strip(), k, modalities)
        except ValueError as e:
            st.warning(str(e))
            return
    else:
        return
    if hits is not None:
        _results(idx, videos, hits, video)


def _said(result) -> None:
    """What the search says about itself (`SearchResult`: the modalities it held and searched, those
    it could not use and why, a weak best hit), where the result carries it."""
    searched, held = getattr(result, "searched", None), getattr(result, "held", None)
    if searched is not None:
        st.caption(plain(f"Searched: {', '.join(searched) or 'nothing'}"
                         + (f" (the index holds {', '.join(held)})" if held else "")))
    missing = getattr(result, "unavailable", None) or {}
    for modality, why in (missing.items() if isinstance(missing, dict) else ((m, None) for m in missing)):
        st.caption(plain(f"Not searched: {modality}" + (f" ({why})" if why else "")))
    if getattr(result, "weak", False) and len(result):
        below = getattr(result, "weak_below", None)
        bar = f"is below {below:.2f}" if below is not None else "is low"
        st.warning(f"Weak match: the best score {result[0].score:.2f} {bar}; nothing may match this query.")


def _results(idx, videos: list[dict], hits, video_page) -> None:
    _said(hits)
    if not hits:
        why = getattr(hits, "reason", None)
        st.info(f"Nothing matches{': ' + why if why else '.'}")
        return
    for h in hits:
        with st.container(border=True):
            left, right = st.columns([1, 4])
            jpeg = idx.keyframe(h.video_id, h.start)
            if jpeg:
                left.image(jpeg, width=160)
            right.markdown(f"**{plain(Path(h.path).name)}** · {clock(h.start)}-{clock(h.end)} · score {h.score:.2f}")
            reasons = _reasons(h, said=h.subtitle)
            if reasons:
                right.text(reasons)
            scores = " · ".join(f"{m} {v:.2f}" for m, v in (h.scores_by_modality or {}).items() if v)
            if scores:
                right.caption(plain(scores))
            if h.subtitle:
                right.text(f"“{h.subtitle}”")
            right.page_link(video_page, label=f"Open at {clock(h.start)}", icon=":material/play_circle:",
                            query_params={"video": link_name(videos, h.video_id), "t": f"{h.start:g}"})


def _reasons(hit, *, said: str | None = None) -> str:
    """`Hit.matched` as one line of plain text: what was seen, heard, read or said that matched
    (leaving out the line `said`, which the hit shows on its own line)."""
    parts = []
    for modality, items in (getattr(hit, "matched", None) or {}).items():
        shown = [f"{item[0]} {float(item[1]):.2f}" if isinstance(item, (list, tuple)) and len(item) >= 2
                 else f"“{item}”" for item in items or () if item != said]
        if shown:
            parts.append(f"{modality}: " + ", ".join(shown))
    return " · ".join(parts)
