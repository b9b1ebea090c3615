"""The Corpus page (every video of the index with its status, and the failures with their reasons)
and the Reports page (the JSON reports of evaluations and benchmarks in the reports folder)."""
from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import streamlit as st

from dashboard._safe import report_files
from dashboard._text import blank

NUMERIC = ("duration (s)", "segments", "ingest (s)")  # corpus columns shown as numbers (blank when missing)


def corpus_frame(rows: list[dict]) -> pd.DataFrame:
    """One line per video; text cells that are missing are empty strings, numbers stay numbers."""
    df = pd.DataFrame([{"video": Path(r["path"]).name if r.get("path") else "", "status": r.get("status"),
                        "duration (s)": r.get("duration"), "segments": r.get("n_segments"),
                        "speech": r.get("text_source"), "ingest (s)": r.get("seconds"),
                        "error": r.get("error")} for r in rows])
    for col in df.columns:
        df[col] = pd.to_numeric(df[col], errors="coerce") if col in NUMERIC else df[col].map(blank)
    return df


def corpus_page(idx) -> None:
    st.title("Corpus")
    rows = idx.videos(status=None)
    if not rows:
        st.info("The index holds no videos yet.")
        return
    df = corpus_frame(rows)
    done = df[df.status == "done"]
    c1, c2, c3 = st.columns(3)
    c1.metric("videos indexed", len(done))
    c2.metric("failed", int((df.status == "failed").sum()))
    c3.metric("hours of video", f"{(done['duration (s)'].sum() or 0) / 3600:.3f}")
    styled = df.style.format({"duration (s)": "{:.1f}", "segments": "{:.0f}", "ingest (s)": "{:.1f}"}, na_rep="")
    st.dataframe(styled, hide_index=True, width="stretch")
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
        st.dataframe(pd.DataFrame([flat]).T.rename(columns={0: "value"}), width="stretch")
    st.json(data, expanded=False)
