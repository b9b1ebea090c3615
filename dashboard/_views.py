"""The dashboard's pages. Each takes the open `avu.Index` (or the reports folder) and draws with
Streamlit; nothing here touches LanceDB or the file system except through the index's own rows.

What reaches the file system is checked here: a video is played only by its id in the index
(`media_path`: a done video's own path, an existing regular file), deep links (`?video=ID&t=S`)
name an indexed id and a time, never a path (`from_query`), uploads are size- and type-checked
(`upload_error`) and live only in a private temporary folder while the query is encoded, and
reports are JSON files inside the reports folder (`report_files`: no symlink out of it)."""
from __future__ import annotations

import json
import math
import stat
import tempfile
from pathlib import Path

import pandas as pd
import streamlit as st

MAX_UPLOAD_MB = 20
UPLOAD_TYPES = ("jpg", "jpeg", "png", "wav", "mp3", "flac", "ogg")


def media_path(idx, video_id: str) -> Path | None:
    """The file of an indexed (done) video, by id only, if it is still a regular file; else None."""
    rows = [v for v in idx.videos() if v["video_id"] == video_id]
    if not rows:
        return None
    p = Path(rows[0]["path"])
    try:
        return p if stat.S_ISREG(p.stat().st_mode) else None
    except (OSError, ValueError):
        return None


def from_query(idx, params) -> tuple[str | None, float, str | None]:
    """(video id, start time, warning) from deep-link parameters `video` and `t`. Only the id of
    an indexed video is accepted (a path, `..` or anything else is refused), and a finite time."""
    vid, raw_t = params.get("video"), params.get("t", "0")
    if vid is None:
        return None, 0.0, None
    ids = {v["video_id"]: v for v in idx.videos()}
    if vid not in ids:
        return None, 0.0, "The link names no video of this index."
    try:
        t = float(raw_t)
    except (TypeError, ValueError):
        t = float("nan")
    if not math.isfinite(t) or t < 0:
        return vid, 0.0, "The link's time is not a number of seconds; starting at 0."
    return vid, min(t, float(ids[vid]["duration"] or 0.0)), None


def upload_error(name: str, size: int) -> str | None:
    """Why an upload is refused (too large, or not an image or audio type), or None."""
    if size > MAX_UPLOAD_MB * 2**20:
        return f"Upload too large ({size / 2**20:.1f} MB > {MAX_UPLOAD_MB} MB)"
    if Path(name).suffix.lower().lstrip(".") not in UPLOAD_TYPES:
        return f"Unsupported upload type: {Path(name).suffix or 'none'} (images and audio only)"
    return None


def report_files(folder: Path) -> list[Path]:
    """The JSON reports under `folder`, leaving out anything that resolves outside it."""
    if not folder.is_dir():
        return []
    root = folder.resolve()
    return sorted(p for p in folder.rglob("*.json") if p.resolve().is_relative_to(root) and p.resolve().is_file())


def hhmmss(t: float) -> str:
    m, s = divmod(float(t), 60)
    h, m = divmod(int(m), 60)
    return f"{h:02d}:{m:02d}:{s:04.1f}"


def _play(idx, video_id: str, start: float) -> None:
    """The player at a moment: only files the index lists are served, and only if they exist."""
    path = media_path(idx, video_id)
    if path is not None:
        st.video(str(path), start_time=int(start))
    else:
        st.warning(f"Video file not found for {video_id}")


def _keyframe(idx, hit):
    """The key frame of the segment the hit starts in (one row read, not the whole video)."""
    from avu.store.tables import _quote

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
    upload = st.file_uploader("...or a query by example (image or audio)", type=list(UPLOAD_TYPES))
    k = st.slider("Results", 1, 20, 6)
    try:
        from avu.index.by_example import av_checkpoints

        trained = sorted(av_checkpoints(idx.store))  # visual / audio / fused embeddings from a checkpoint
    except ValueError as e:
        st.warning(str(e))
        trained = []
    st.caption(f"Modalities in this index: speech (MiniLM){''.join(', ' + m for m in trained)}"
               + ("" if trained else ". Visual and audio need an index ingested with a trained checkpoint."))
    modalities = st.multiselect("Compare text by", ["speech", *trained], default=["speech"]) if trained else ["speech"]
    hits = None
    if upload is not None:
        problem = upload_error(upload.name, upload.size)
        if problem:
            st.error(problem)
            return
        with tempfile.TemporaryDirectory() as tmp:  # private, removed as soon as the query is encoded
            path = Path(tmp) / f"query{Path(upload.name).suffix.lower()}"
            path.write_bytes(upload.getvalue())
            try:
                hits = idx.search(str(path), k=k)
            except ValueError as e:
                st.warning(str(e).replace(str(path), upload.name))
                return
    elif not query:
        return
    else:
        try:
            hits = idx.search(query, k=k, modalities=modalities or ["speech"])
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
                _play(idx, h.video_id, h.start)


def video_page(idx) -> None:
    st.title("Video")
    videos = idx.videos()
    if not videos:
        st.info("The index holds no videos yet.")
        return
    ids = [v["video_id"] for v in videos]
    names = {v["video_id"]: Path(v["path"]).name for v in videos}
    linked, t_link, problem = from_query(idx, st.query_params)
    if problem:
        st.warning(problem)
    if linked is not None and st.session_state.get("linked") != (linked, t_link):
        st.session_state["linked"] = (linked, t_link)  # a deep link applies once, then the page rules
        st.session_state["video"], st.session_state["t"] = linked, t_link
    current = st.session_state.get("video")
    choice = st.selectbox("Video", ids, index=ids.index(current) if current in ids else 0,
                          format_func=lambda v: names[v])
    t = float(st.session_state.get("t", 0.0)) if current == choice else 0.0
    _play(idx, choice, t)
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
        from avu.summaries.summarize import summarize
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
    files = report_files(folder)
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
