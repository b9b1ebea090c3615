"""Visual and audio-visual events from what ingest already stores per segment.

Ingest keeps, for every segment, `motion` (the mean absolute difference between consecutive
sampled frames, 0-255, on 224 px frames 0.5 s apart at the default 2 fps) and a 160 px key-frame
JPEG of its middle frame. Nothing is decoded again; videos without audio work the same.

- "high motion": the segment's motion score `min(1, motion / MOTION_SCALE)` is at least
  `HIGH_MOTION` (motion >= 20), smoothed, thresholded and merged like sound events.
- "scene change": the key frames of two consecutive segments differ a lot: the total-variation
  distance between their 8x8x8-bin RGB colour histograms (0 = same colours, 1 = disjoint) is at
  least `SCENE_CHANGE`. The cut lies somewhere between the two key frames, so the event spans
  them (middle of one segment to middle of the next); its confidence is the distance.
- audio-visual, labelled "<sound> + motion": a sound that happens while something moves on
  screen. Per segment, fused score = sound score x `min(1, motion / ACTIVE_MOTION)`: the sound's
  probability, faded out when the picture is still. It goes through the sound threshold.

Measured on the shared clips (2 s segments, default ingest): the still title card of
manifesto.mp4 has motion 0.0-0.1 and key-frame distances <= 0.01; the slow camera of flower.webm
motion 6.6-7.2, distances 0.10-0.11; Big Buck Bunny (30 s) motion 5.4-37.6 (median 10.4, 2 of 15
segments >= 20), distances 0.02-1.00 (4 of 14 >= 0.5, the first is the fade-in from black); the
Tears of Steel battle (fast action, many cuts) motion 8.4-74.5 (median 35.5, 33 of 36 >= 20),
distances 0.10-0.73 (12 of 35 >= 0.5). The constants are heuristics on those numbers, not learned.
"""
from __future__ import annotations

import io
from typing import Mapping, Sequence

import numpy as np

from avu.events.detect import Event, detect_events

MOTION_SCALE = 40.0  # motion (0-255) that counts as fully "high"
HIGH_MOTION = 0.5  # motion score threshold of a "high motion" event (motion >= 20)
ACTIVE_MOTION = 5.0  # motion at which the picture counts as moving (audio-visual fusion)
SCENE_CHANGE = 0.5  # colour-histogram distance of consecutive key frames that counts as a cut
HIST_BINS = 8  # per RGB channel


def motion_score(motion: float | None) -> float | None:
    return None if motion is None else min(1.0, max(0.0, float(motion)) / MOTION_SCALE)


def colour_histogram(jpeg: bytes, bins: int = HIST_BINS) -> np.ndarray:
    """Normalised RGB histogram [bins**3] of a JPEG image."""
    from PIL import Image

    try:
        rgb = np.asarray(Image.open(io.BytesIO(jpeg)).convert("RGB"), dtype=np.int64)
    except Exception as e:  # noqa: BLE001 - PIL raises several types for a bad image
        raise ValueError(f"unreadable key frame ({len(jpeg)} bytes): {e}") from None
    q = rgb * bins // 256
    idx = (q[..., 0] * bins + q[..., 1]) * bins + q[..., 2]
    h = np.bincount(idx.ravel(), minlength=bins ** 3).astype(np.float64)
    return h / max(h.sum(), 1.0)


def histogram_distance(a: np.ndarray, b: np.ndarray) -> float:
    """Total-variation distance between two normalised histograms, in [0, 1]."""
    return float(0.5 * np.abs(a - b).sum())


def _sorted(segments: Sequence[Mapping]) -> list[Mapping]:
    return sorted(segments, key=lambda r: (float(r["start"]), float(r["end"])))


def motion_events(segments: Sequence[Mapping], *, threshold: float = HIGH_MOTION, smoothing: int = 1,
                  min_duration: float = 0.0) -> list[Event]:
    """"high motion" spans from the segments' stored `motion` (segments without frames are skipped)."""
    rows = [(r["start"], r["end"], {"high motion": motion_score(r["motion"])})
            for r in _sorted(segments) if r.get("motion") is not None]
    return detect_events(rows, threshold=threshold, smoothing=smoothing, min_duration=min_duration,
                         kind="visual")


def scene_changes(segments: Sequence[Mapping], *, threshold: float = SCENE_CHANGE) -> list[Event]:
    """"scene change" events between consecutive segments whose key frames differ by >= threshold."""
    if not 0.0 <= threshold <= 1.0:
        raise ValueError(f"scene-change threshold must be in [0, 1], got {threshold}")
    framed = [r for r in _sorted(segments) if r.get("keyframe_jpeg")]
    out: list[Event] = []
    prev, prev_h = None, None
    for r in framed:
        h = colour_histogram(r["keyframe_jpeg"])
        if prev is not None and float(r["start"]) <= float(prev["end"]) + 1e-6:  # neighbours, no gap
            d = histogram_distance(prev_h, h)
            if d >= threshold:
                mid_a = (float(prev["start"]) + float(prev["end"])) / 2
                mid_b = (float(r["start"]) + float(r["end"])) / 2
                out.append(Event("scene change", mid_a, mid_b, round(d, 4), "visual"))
        prev, prev_h = r, h
    return out


def audio_visual_events(sound_rows: Sequence[tuple[float, float, Mapping[str, float]]],
                        segments: Sequence[Mapping], *, threshold: float, smoothing: int = 1,
                        min_duration: float = 0.0) -> list[Event]:
    """"<sound> + motion" events: per-segment sound scores faded by how much the picture moves.

    `sound_rows` are `(start, end, {label: score})` (ESC-10 classes or prompts) for the same
    segments; a segment without frames or without sound scores is left out.
    """
    moving = {(round(float(r["start"]), 3), round(float(r["end"]), 3)): min(1.0, float(r["motion"]) / ACTIVE_MOTION)
              for r in segments if r.get("motion") is not None}
    rows = []
    for s, e, scores in sound_rows:
        a = moving.get((round(float(s), 3), round(float(e), 3)))
        if a is not None:
            rows.append((s, e, {f"{lab} + motion": float(p) * a for lab, p in scores.items()}))
    return detect_events(rows, threshold=threshold, smoothing=smoothing, min_duration=min_duration,
                         kind="audio-visual")


def visual_events(segments: Sequence[Mapping], *, smoothing: int = 1, min_duration: float = 0.0,
                  motion_threshold: float = HIGH_MOTION, scene_threshold: float = SCENE_CHANGE) -> list[Event]:
    """"high motion" spans and "scene change" events of one video's segments, sorted by start.

    `min_duration` applies to motion spans only (a scene change is an instant, shown as the span
    between the two key frames it was seen between).
    """
    ev = motion_events(segments, threshold=motion_threshold, smoothing=smoothing, min_duration=min_duration)
    ev += scene_changes(segments, threshold=scene_threshold)
    return sorted(ev, key=lambda e: (e.start, e.end, e.label))


__all__ = ["ACTIVE_MOTION", "HIGH_MOTION", "MOTION_SCALE", "SCENE_CHANGE", "audio_visual_events",
           "colour_histogram", "histogram_distance", "motion_events", "motion_score", "scene_changes",
           "visual_events"]
