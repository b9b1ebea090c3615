"""The dashboard's pages. Each takes the open `avu.Index` (or the reports folder) and draws with
Streamlit; nothing here touches LanceDB or the file system except through the index's own rows."""
from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import streamlit as st

MAX_UPLOAD_MB = 20


def hhmmss(t: float) -> str:
    m, s = divmod(float(t), 60)
    h, m = divmod(int(m), 60)
    return f"{h:02d}:{m:02d}:{s:04.1f}"


def _play(path: str, start: float) -> None:
    """The player at a moment: only files the index lists are served, and only if they exist."""
    if Path(path).is_file():
        st.video(path, start_time=int(start))
    else:
        st.warning(f"Video file not found: {path}")


def _keyframe(idx, hit):
    """The key frame of the segment the hit starts in (one row read, not the whole video)."""
    from avu.index.store import _quote

    rows = (idx.store.segments.search()
            .where(f"video_id = {_quote(hit.video_id)} AND start <= {hit.start} AND {hit.start} < `end`")
            .select(["keyframe_jpeg"]).limit(1).to_list())
    return rows[0]["keyframe_jpeg"] if rows else None


def search_page(idx) -> None:
    st.title("Search")
    videos = idx.videos()
    if not videos:
        st.info("The index holds no videos yet: run `avu ingest PATHS --index DIR`.")
        return
    query = st.text_input("What is said (or shown, or heard)", key="query")
    upload = st.file_uploader("...or a query by example (image or audio)", type=["jpg", "jpeg", "png", "wav",
                                                                                 "mp3", "flac", "ogg"])
    k = st.slider("Results", 1, 20, 6)
    st.caption("Modalities in this index: speech (MiniLM). Visual and audio need trained encoders.")
    if upload is not None:
        if upload.size > MAX_UPLOAD_MB * 2**20:
            st.error(f"Upload too large ({upload.size / 2**20:.1f} MB > {MAX_UPLOAD_MB} MB)")
        else:
            st.warning("Queries by example need a trained visual or audio encoder; this index has none.")
    if not query:
        return
    try:
        hits = idx.search(query, k=k)
    except ValueError as e:
        st.warning(str(e))
        return
    if not hits:
        st.info("Nothing matches.")
        return
    for i, h in enumerate(hits):
        with st.container(border=True):
            left, right = st.columns([1, 3])
            jpeg = _keyframe(idx, h)
            if jpeg:
                left.image(jpeg, width=160)
            right.markdown(f"**{Path(h.path).name}** · {hhmmss(h.start)}-{hhmmss(h.end)} · score {h.score:.3f}")
            right.caption(" · ".join(f"{m} {v:.2f}" for m, v in h.scores_by_modality.items() if v))
            if h.subtitle:
                right.write(f"“{h.subtitle}”")
            if right.button("Play from here", key=f"play{i}"):
                st.session_state["video"], st.session_state["t"] = h.video_id, h.start  # the Video page too
                _play(h.path, h.start)


def video_page(idx) -> None:
    st.title("Video")
    videos = idx.videos()
    if not videos:
        st.info("The index holds no videos yet.")
        return
    ids = [v["video_id"] for v in videos]
    names = {v["video_id"]: Path(v["path"]).name for v in videos}
    current = st.session_state.get("video")
    choice = st.selectbox("Video", ids, index=ids.index(current) if current in ids else 0,
                          format_func=lambda v: names[v])
    v = next(x for x in videos if x["video_id"] == choice)
    t = float(st.session_state.get("t", 0.0)) if current == choice else 0.0
    _play(v["path"], t)
    segs = idx.segments(choice)
    if segs:
        df = pd.DataFrame({"time (s)": [s["start"] for s in segs],
                           "audio level (dBFS)": [s["audio_db"] for s in segs],
                           "visual change": [s["motion"] for s in segs],
                           "speech": [1.0 if s["text"] else 0.0 for s in segs]}).set_index("time (s)")
        st.subheader("Timeline")
        for col, draw, h in (("audio level (dBFS)", st.line_chart, 140), ("visual change", st.line_chart, 140),
                             ("speech", st.area_chart, 90)):
            st.caption(f"{col} per segment, by time (s)")
            draw(df[[col]], height=h)
        events = idx.events(choice)
        st.caption("sound events (ESC-10 classes, probability >= 0.8 for >= 2 s)")
        if events:
            st.dataframe(pd.DataFrame([{"from": hhmmss(e.start), "to": hhmmss(e.end), "sound": e.label,
                                        "confidence": round(e.confidence, 2)} for e in events]), hide_index=True)
        else:
            st.caption("none")
    _summary(idx, choice)
    cues = idx.subtitles(choice)
    st.subheader(f"Subtitles ({len(cues)})")
    needle = st.text_input("Filter lines", key="cue_filter").lower()
    for j, c in enumerate(c for c in cues if needle in c.text.lower()):
        a, b = st.columns([1, 6])
        if a.button(hhmmss(c.start), key=f"cue{j}"):
            st.session_state["video"], st.session_state["t"] = choice, c.start
            st.rerun()
        b.write(c.text)


def _summary(idx, video_id: str) -> None:
    try:
        from avu.tasks.summarize import summarize
    except ImportError:
        return
    try:
        s = summarize(idx.store, video_id)
    except Exception as e:  # noqa: BLE001 - a summary failure must not break the page
        st.caption(f"No summary: {e}")
        return
    st.subheader(f"Summary ({s.budget_seconds:.0f} s budget)")
    st.write(" · ".join(f"{hhmmss(x.start)}-{hhmmss(x.end)}" for x in s.shots if x.selected))
    if s.text:
        st.write(s.text)


def corpus_page(idx) -> None:
    st.title("Corpus")
    rows = idx.videos(status=None)
    if not rows:
        st.info("The index holds no videos yet.")
        return
    df = pd.DataFrame([{"video": Path(r["path"]).name, "status": r["status"], "duration (s)": r["duration"],
                        "segments": r["n_segments"], "speech": r["text_source"], "ingest (s)": r["seconds"],
                        "error": r["error"]} for r in rows])
    done = df[df.status == "done"]
    c1, c2, c3 = st.columns(3)
    c1.metric("videos indexed", len(done))
    c2.metric("failed", int((df.status == "failed").sum()))
    c3.metric("hours of video", f"{(done['duration (s)'].sum() or 0) / 3600:.3f}")
    st.dataframe(df, hide_index=True, use_container_width=True)
    failed = df[df.status == "failed"]
    if len(failed):
        st.subheader("Failures")
        for _, r in failed.iterrows():
            st.error(f"{r['video']}: {r['error']}")


def reports_page(folder: Path) -> None:
    st.title("Reports")
    files = sorted(folder.rglob("*.json")) if folder.is_dir() else []
    if not files:
        st.info(f"No JSON reports under {folder} (benchmarks: `avu bench ... --json > runs/x.json`).")
        return
    name = st.selectbox("Report", files, format_func=lambda p: str(p.relative_to(folder)))
    try:
        data = json.loads(Path(name).read_text())
    except (OSError, ValueError) as e:
        st.error(f"{name}: unreadable ({e})")
        return
    flat = {k: v for k, v in data.items() if isinstance(v, (int, float, str, bool))} if isinstance(data, dict) else {}
    if flat:
        st.dataframe(pd.DataFrame([flat]).T.rename(columns={0: "value"}), use_container_width=True)
    st.json(data, expanded=False)
