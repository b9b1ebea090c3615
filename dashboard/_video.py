"""The Video page: the player beside the subtitles, the summary's key shots under the player, and
below them the timelines (what is said, who speaks, what is seen, heard and read; audio level and
visual change) and the sound events.

Navigation: the page's state is the video and the time (`video`, `t` in the session), and the URL
says both (`?video=NAME&t=SECONDS`, written on every run, so a copied URL opens the same moment).
A link that arrives (from a search hit, or pasted) is applied once; then choosing a video, a
subtitle or a key shot moves the state and the URL with it. The subtitles sit in a box of fixed
height next to the player and the key shots right under it, so a click never scrolls the player
out of view, however long the list.
"""
from __future__ import annotations

from pathlib import Path

import pandas as pd
import streamlit as st

from avu.summaries.summarize import BUDGET, MIN_SHOT, smallest_budget
from dashboard import _timeline
from dashboard._safe import from_query, link_name, media_path
from dashboard._text import clock, coloured, index_method, plain

SEGMENT_COLUMNS = ["start", "end", "text", "audio_db", "motion"]
READ_SHOWN = 8  # runs of on-screen text written out under the lanes (the rest: hover the lane)
PERCEIVED = ("seen", "heard", "objects", "read")  # `Index.perception` keys (None: not perceived)
_APPLIED = "_video_link"  # session key: the URL parameters last applied or written
_SEEKED = "_video_seeked"  # session key: set by a click that moved the player, cleared when drawn
_SEEKS = "_video_seeks"  # session key: clicks so far (makes each scroll script new, so it runs again)
# Brings the player into view after a click that moved it (a no-op when it is in view already, as
# beside the subtitles on a wide screen; on a narrow one the subtitles sit below it).
_SHOW_PLAYER = ("<script>/* %s */ const p = document.querySelector('.st-key-player'); if (p) {"
                " p.style.scrollMarginTop = '4rem';"  # clear of Streamlit's header bar
                " p.scrollIntoView({block: 'nearest', behavior: 'instant'}); }</script>")


def _seek(t: float) -> None:
    """Move the player to `t` (it starts at the whole second, so a line is heard from its start)."""
    st.session_state["t"] = t
    st.session_state[_SEEKED] = True
    st.session_state[_SEEKS] = st.session_state.get(_SEEKS, 0) + 1


def _pick() -> None:
    st.session_state["video"], st.session_state["t"] = st.session_state["video_pick"], 0.0


def _follow_link(idx) -> None:
    """Apply the URL's `video` and `t` once, when they differ from what the page wrote last."""
    params = (st.query_params.get("video"), st.query_params.get("t"))
    if params == st.session_state.get(_APPLIED) or params[0] is None:
        return
    link = from_query(idx, st.query_params)
    if link.problem:
        st.warning(link.problem)
    if link.video is not None:
        st.session_state["video"], st.session_state["t"] = link.video, link.t
    st.session_state[_APPLIED] = params


def _write_url(videos: list[dict], vid: str, t: float) -> None:
    params = (link_name(videos, vid), f"{round(t, 1):g}")
    if params != (st.query_params.get("video"), st.query_params.get("t")):
        st.query_params.from_dict({"video": params[0], "t": params[1]})
    st.session_state[_APPLIED] = params


def video_page(idx) -> None:
    st.title("Video")
    videos = idx.videos()
    if not videos:
        st.info("The index holds no videos yet.")
        return
    ids = [v["video_id"] for v in videos]
    names = {v["video_id"]: Path(v["path"]).name for v in videos}
    _follow_link(idx)
    if st.session_state.get("video") not in ids:
        st.session_state["video"], st.session_state["t"] = ids[0], 0.0
    vid = st.session_state["video"]
    st.session_state["video_pick"] = vid
    st.selectbox("Video", ids, key="video_pick", format_func=names.get, on_change=_pick)
    t = float(st.session_state.get("t", 0.0))
    _write_url(videos, vid, t)
    row = videos[ids.index(vid)]
    left, right = st.columns([3, 2], gap="medium")
    with left:
        path = media_path(idx, vid)
        with st.container(key="player"):
            if path is not None:
                st.video(str(path), start_time=t)
            else:
                st.warning(f"Video file not found: {plain(row.get('path') or vid)}")
            st.caption(f"at {clock(t)} of {clock(row.get('duration') or 0.0)}")
        if st.session_state.pop(_SEEKED, False):
            st.html(_SHOW_PLAYER % st.session_state[_SEEKS], unsafe_allow_javascript=True)
        _key_shots(idx, vid, float(row.get("duration") or 0.0))
    cues = idx.subtitles(vid)
    with right:
        _subtitles(cues, row)
    _timelines(idx, vid, row, t, cues)


def _key_shots(idx, vid: str, duration: float) -> None:
    """The summary's key shots as buttons that seek the player; a short video gets the smallest
    budget that holds a shot (15% of a 5 s clip is under the 1 s shortest shot) and says so."""
    budget = max(BUDGET, smallest_budget(duration)) if duration > 0 else BUDGET
    try:
        s = idx.summary(vid, budget=budget)
    except Exception as e:  # noqa: BLE001 - a summary failure must not break the page
        st.caption(f"No summary: {plain(e)}")
        return
    shots = [x for x in s.shots if x.selected]
    longer = f", {budget:.0%} of the video: {BUDGET:.0%} is under the {MIN_SHOT:g} s shortest shot" \
        if budget > BUDGET else ""
    st.markdown(f"**Key shots** ({s.budget_seconds:.1f} s summary{longer})")
    if not shots:
        st.caption("No key shots: the video is too short or too uniform to summarise.")
        return
    with st.container(horizontal=True, wrap=True, gap="small"):
        for j, x in enumerate(shots):
            st.button(f"{clock(x.start)}-{clock(x.end)}", key=f"shot{j}", icon=":material/play_arrow:",
                      on_click=_seek, args=(float(x.start),))
    if s.text:
        st.text(s.text)


def _subtitles(cues: list, row: dict) -> None:
    if not cues:
        why = ("it has no audio" if row.get("has_audio") is False else
               "no subtitle file beside it and no speech transcribed")
        st.caption(f"No subtitles: {why}.")
        return
    st.markdown(f"**Subtitles** ({len(cues)})")
    needle = st.text_input("Filter lines", key="cue_filter", label_visibility="collapsed",
                           placeholder="Filter lines").lower()
    long = float(row.get("duration") or 0.0) >= 3600
    colours = _timeline.speaker_colours(getattr(c, "speaker", None) for c in cues)
    shown = [(j, c) for j, c in enumerate(cues) if needle in c.text.lower()]
    if not shown:
        st.caption("No line contains that text.")
        return
    with st.container(height=460, key="cues"):
        for j, c in shown:
            a, b = st.columns([1, 3], vertical_alignment="center")
            a.button(clock(c.start, hours=long), key=f"cue{j}", on_click=_seek, args=(float(c.start),),
                     type="tertiary")
            who = getattr(c, "speaker", None)
            if who in colours:
                b.html(coloured(c.text, colours[who], tag=who))
            else:
                b.text(c.text)


def _timelines(idx, vid: str, row: dict, t: float, cues: list) -> None:
    st.subheader("Timeline")
    duration = float(row.get("duration") or 0.0)
    segs = idx.segments(vid, columns=SEGMENT_COLUMNS)
    missing = []
    perception = idx.perception(vid)
    if not any(p.get(m) is not None for p in perception for m in PERCEIVED):
        missing.append("what is seen, heard and read (ingest with the perception models: `avu models`)")
    speakers = index_method(idx, "speakers")
    turns = speakers(vid) if speakers else []
    if cues and speakers is None:
        missing.append("who speaks (speaker turns)")
    rows = _timeline.lanes(said=cues, turns=turns, perception=perception)
    if len(rows) and duration > 0:
        st.altair_chart(_timeline.lane_chart(rows, duration=duration, now=t), width="stretch")
        for start, end, text in _timeline.read_runs(rows)[:READ_SHOWN]:
            st.text(f"on screen {clock(start, hours=duration >= 3600)}-{clock(end, hours=duration >= 3600)}: {text}")
    else:
        st.caption("Nothing said, seen, heard or read to draw on a timeline.")
    if missing:
        st.caption("Not in this index: " + "; ".join(missing) + ".")
    for column, title in (("audio_db", "audio level (dBFS)"), ("motion", "visual change")):
        frame = _timeline.signal_frame(segs, column)
        if len(frame) and duration > 0:
            st.altair_chart(_timeline.signal_chart(frame, title=title, duration=duration, now=t), width="stretch")
        else:
            st.caption(f"No {title}: " + ("the video has no audio." if column == "audio_db" else "no frames."))
    _events(idx, vid)


def _events(idx, vid: str) -> None:
    events = idx.events(vid)
    if not events:
        st.caption(f"No sound events: nothing reached {events.threshold_text()} (`avu events --threshold` "
                   "goes lower).")
        return
    st.markdown(f"**Sound events** · at least {events.threshold_text()}")
    st.dataframe(pd.DataFrame([{"from": clock(e.start), "to": clock(e.end), "event": e.label, "kind": e.kind,
                                "confidence": round(e.confidence, 2)} for e in events]), hide_index=True)
