"""The Video page's timelines as data and Altair charts, kept free of Streamlit so they are tested
as plain functions.

- `lanes(...)`: one row per bar of the lane chart: what is said (cues), who speaks (turns), what
  is seen (ImageNet classes), heard (AudioSet classes), the objects on screen (COCO classes) and
  the on-screen text. Per modality only the labels that matter most over the whole video get a
  lane (`TagLanes.top`), and a label present in consecutive segments is one bar.
- `lane_chart` / `signal_chart`: both span the whole clip (`[0, duration]`), whatever the last
  segment's start, and mark the player's current time.
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Iterable, Sequence

import altair as alt
import pandas as pd

KINDS = ("said", "speaker", "seen", "heard", "objects", "read")  # lane order, top to bottom
LANE_PX, SIGNAL_PX, AXIS_PX = 26, 110, 70  # chart heights: per lane, a signal's plot, the time axis below
LABEL_PX = 220  # width of every chart's left axis, so the time axes of the charts line up
KIND_COLOURS = {"said": "#7f7f7f", "speaker": "#1f77b4", "seen": "#2ca02c", "heard": "#ff7f0e",
                "objects": "#9467bd", "read": "#8c564b"}
SPEAKER_COLOURS = ("#1f77b4", "#d62728", "#17becf", "#bcbd22", "#e377c2", "#7f7f7f")  # S1, S2, ... in turn
KIND_TITLES = {"said": "said", "speaker": "speaker", "seen": "seen", "heard": "heard", "objects": "object",
               "read": "on-screen text"}


@dataclass(frozen=True)
class TagLanes:
    """How many tag lanes the lane chart draws."""

    top: int = 4  # lanes per modality (seen, heard, objects): the labels with the highest summed score
    min_score: float = 0.05  # a label below this score in a segment draws no bar there

    def __post_init__(self):
        if self.top < 1 or not (0.0 <= self.min_score < 1.0):
            raise ValueError(f"TagLanes needs top >= 1 and 0 <= min_score < 1, got {self}")


def speaker_colours(speakers: Iterable[str | None]) -> dict[str, str]:
    """One colour per speaker id (in sorted order: S1, S2, ...), the same in the lanes and the subtitles."""
    ids = sorted({s for s in speakers if s})
    return {s: SPEAKER_COLOURS[i % len(SPEAKER_COLOURS)] for i, s in enumerate(ids)}


def _merge(bars: list[dict]) -> list[dict]:
    """Bars of one lane with touching or overlapping times joined into one (best score kept)."""
    out: list[dict] = []
    for b in sorted(bars, key=lambda b: b["start"]):
        last = out[-1] if out else None
        if last and last["lane"] == b["lane"] and last["label"] == b["label"] and b["start"] <= last["end"] + 1e-6:
            last["end"] = max(last["end"], b["end"])
            last["score"] = max(last["score"], b["score"])
        else:
            out.append(dict(b))
    return out


def _tag_bars(segments: Sequence[dict], kind: str, cfg: TagLanes) -> list[dict]:
    """Bars for one tag modality (`seen`, `heard`, `objects`) over the segments' perception."""
    totals: dict[str, float] = defaultdict(float)
    for s in segments:
        for tag in s.get(kind) or ():
            totals[str(tag[0])] += float(tag[1])
    keep = sorted(totals, key=lambda lab: (-totals[lab], lab))[: cfg.top]
    bars = []
    for s in segments:
        for tag in s.get(kind) or ():
            label, score = str(tag[0]), float(tag[1])
            if label in keep and score >= cfg.min_score:
                bars.append({"lane": f"{KIND_TITLES[kind]}: {label}", "kind": kind, "label": label,
                             "start": float(s["start"]), "end": float(s["end"]), "score": score})
    return _merge(bars)


def _read_bars(segments: Sequence[dict]) -> list[dict]:
    """One bar per run of segments showing the same on-screen text (a segment's lines joined by " · ")."""
    bars = []
    for s in segments:
        lines = [(ln[0], ln[1]) if isinstance(ln, (list, tuple)) else (ln, 1.0) for ln in s.get("read") or ()]
        if lines:
            bars.append({"lane": KIND_TITLES["read"], "kind": "read", "label": " · ".join(str(t) for t, _ in lines),
                         "start": float(s["start"]), "end": float(s["end"]),
                         "score": max(float(sc) for _, sc in lines)})
    return _merge(bars)


def read_runs(rows: pd.DataFrame) -> list[tuple[float, float, str]]:
    """(start, end, text) of each run of on-screen text in `lanes(...)` rows, in time order."""
    runs = rows[rows["kind"] == "read"].sort_values("start")
    return [(float(r.start), float(r.end), str(r.label)) for r in runs.itertuples()]


def lanes(*, said: Iterable = (), turns: Iterable = (), perception: Sequence[dict] = (),
          cfg: TagLanes = TagLanes()) -> pd.DataFrame:
    """Rows `lane, kind, label, start, end, score` for the lane chart (empty frame: nothing to draw).

    `said`: cues (`start`, `end`, `text`); `turns`: speaker turns (`speaker`, `start`, `end`,
    `confidence`); `perception`: per-segment dicts as `Index.perception` returns them."""
    rows = _merge([{"lane": "said", "kind": "said", "label": c.text, "start": float(c.start),
                    "end": float(c.end), "score": 1.0} for c in said])
    turns = list(turns)
    rows += _merge([{"lane": t.speaker, "kind": "speaker", "label": t.speaker, "start": float(t.start),
                     "end": float(t.end), "score": float(t.confidence)} for t in turns])
    for kind in ("seen", "heard", "objects"):
        rows += _tag_bars(perception, kind, cfg)
    rows += _read_bars(perception)
    frame = pd.DataFrame(rows, columns=["lane", "kind", "label", "start", "end", "score"])
    voices = speaker_colours(t.speaker for t in turns)
    frame["colour"] = [voices[r.label] if r.kind == "speaker" else KIND_COLOURS[r.kind] for r in frame.itertuples()]
    return frame


def _x(duration: float) -> alt.X:
    return alt.X("start:Q", title="time (s)", scale=alt.Scale(domain=[0.0, float(duration)], nice=False, zero=True))


def _now(t: float | None) -> list:
    if t is None:
        return []
    return [alt.Chart(pd.DataFrame({"t": [float(t)]})).mark_rule(color="#d62728", strokeDash=[4, 3])
            .encode(x="t:Q")]


def lane_chart(rows: pd.DataFrame, *, duration: float, now: float | None = None) -> alt.LayerChart:
    """Bars per lane over `[0, duration]` seconds, a dashed rule at `now` (the player's time)."""
    order = sorted(rows["lane"].unique(), key=lambda lane: (KINDS.index(_kind(rows, lane)), lane))
    bars = alt.Chart(rows).mark_bar().encode(
        x=_x(duration), x2="end:Q",
        y=alt.Y("lane:N", sort=order, title=None, axis=alt.Axis(labelLimit=LABEL_PX - 10, minExtent=LABEL_PX,
                                                                 maxExtent=LABEL_PX)),
        color=alt.Color("colour:N", scale=None, legend=None),
        opacity=alt.Opacity("score:Q", scale=alt.Scale(domain=[0, 1], range=[0.35, 1.0]), legend=None),
        tooltip=["lane", "label", alt.Tooltip("start:Q", format=".1f"), alt.Tooltip("end:Q", format=".1f"),
                 alt.Tooltip("score:Q", format=".2f")])
    return alt.layer(bars, *_now(now)).properties(height=LANE_PX * len(order) + AXIS_PX)


def _kind(rows: pd.DataFrame, lane: str) -> str:
    return rows.loc[rows["lane"] == lane, "kind"].iloc[0]


def signal_frame(segments: Sequence[dict], column: str) -> pd.DataFrame:
    """`start, value` steps of one measured signal; the last segment's end closes the last step, so
    the line reaches the end of the clip. Segments where the signal is missing are left out."""
    pts = [(float(s["start"]), float(s[column])) for s in segments if s.get(column) is not None]
    ends = [float(s["end"]) for s in segments if s.get(column) is not None]
    if pts:
        pts.append((max(ends), pts[-1][1]))
    return pd.DataFrame(pts, columns=["start", "value"])


def signal_chart(frame: pd.DataFrame, *, title: str, duration: float, now: float | None = None) -> alt.LayerChart:
    """A step line of one signal over `[0, duration]` seconds."""
    line = alt.Chart(frame).mark_line(interpolate="step-after").encode(
        x=_x(duration), y=alt.Y("value:Q", title=title, scale=alt.Scale(zero=False),
                                 axis=alt.Axis(minExtent=LABEL_PX - 30, maxExtent=LABEL_PX - 30)),
        tooltip=[alt.Tooltip("start:Q", format=".1f", title="from (s)"), alt.Tooltip("value:Q", format=".2f")])
    return alt.layer(line, *_now(now)).properties(height=SIGNAL_PX + AXIS_PX)
