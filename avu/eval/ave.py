"""AVE segment-level accuracy of the ESC-10 event model, for a user who has the AVE videos.

AVE (Tian et al. 2018) labels every 10 s video per second: its category inside [Start, End),
background elsewhere; the standard metric is the fraction of one-second segments labelled right.
Our model knows only the ten ESC-10 sounds, so only the AVE categories that are one of them can
be evaluated (`AVE_TO_ESC10`, checked against the official `Annotations.txt`; AVE has no rooster,
rain, sea-wave, fire or sneeze category, and "Fixed-wing aircraft, airplane" is not a helicopter):

    Bark -> dog, Baby cry, infant cry -> crying_baby, Chainsaw -> chainsaw,
    Clock -> clock_tick, Helicopter -> helicopter

Every other video is skipped, and the report counts why (category not mapped, file not found,
no audio, unreadable). For each evaluated video, each one-second segment is scored with half
a second of context on either side (`timeline.segment_scores`) and predicted as the video's
category when the mapped class's probability is at least `threshold`, else background; the
accuracy is over all evaluated segments, background included. This knows the video's category
(it only localises), so the report also gives `accuracy_argmax` (the segment must also be the
model's top class, which a wrong category fails) and the all-background baseline on the same
videos, to read the number against.
"""
from __future__ import annotations

import time
from collections import Counter
from pathlib import Path
from typing import Iterable

import numpy as np

from avu.events.ave import BACKGROUND, N_SEGMENTS, AveVideo, load_annotations, parse_line, segment_accuracy
from avu.events.detect import DEFAULT_WEIGHTS, EventModel
from avu.events.timeline import segment_scores

AVE_TO_ESC10: dict[str, str] = {
    "Bark": "dog",
    "Baby cry, infant cry": "crying_baby",
    "Chainsaw": "chainsaw",
    "Clock": "clock_tick",
    "Helicopter": "helicopter",
}
THRESHOLD = 0.5  # the mapped class's probability that marks a segment as the event
CONTEXT = 0.5  # seconds of audio on either side of each one-second segment (2 s windows, as ingest)
MEDIA_SUFFIXES = {".mp4", ".mkv", ".webm", ".avi", ".mov", ".m4v", ".flv", ".wav", ".mp3", ".m4a", ".ogg", ".flac"}


def read_split(path: str | Path) -> set[tuple[str, str]] | set[str]:
    """A split file: lines in the annotation format (-> {(category, id)}), or one video ID a line."""
    p = Path(path)
    if not p.is_file():
        raise RuntimeError(f"AVE split file not found: {p}")
    lines = [ln for ln in p.read_text(encoding="utf-8").splitlines()
             if ln.strip() and not ln.lower().startswith("category&videoid")]
    if not lines:
        raise RuntimeError(f"{p} lists no videos")
    if all("&" in ln for ln in lines):
        try:
            return {(v.category, v.video_id) for v in (parse_line(ln, i) for i, ln in enumerate(lines, 1))}
        except ValueError as e:
            raise RuntimeError(f"{p}: {e}") from None
    return {ln.strip() for ln in lines}


def find_videos(folder: str | Path) -> dict[str, Path]:
    """Media files under `folder` (recursively) by file stem, which is the YouTube ID in AVE."""
    root = Path(folder)
    if not root.is_dir():
        raise RuntimeError(f"AVE video folder not found: {root}")
    return {p.stem: p for p in sorted(root.rglob("*")) if p.suffix.lower() in MEDIA_SUFFIXES and p.is_file()}


def predict_segments(probs: Iterable[dict[str, float] | None], category: str, *, threshold: float = THRESHOLD,
                     argmax: bool = False) -> list[str]:
    """Ten labels: `category` where its mapped class passes `threshold` (and, with `argmax`, is
    the top class), else background. Unscored segments (past the audio's end) are background."""
    cls = AVE_TO_ESC10[category]
    out = []
    for p in probs:
        hit = p is not None and p[cls] >= threshold and (not argmax or max(p, key=p.get) == cls)
        out.append(category if hit else BACKGROUND)
    return out


def default_annotations() -> Path:
    """AVE's `Annotations.txt` in the shared data (`annotations/ave/`)."""
    from avu.events.prompts import ontology_path

    return ontology_path().parents[1] / "ave" / "Annotations.txt"


def run(videos_dir: str | Path, annotations: str | Path | None = None, *, split: str | Path | None = None,
        model: str | Path | None = None, threshold: float = THRESHOLD, context: float = CONTEXT,
        log=None) -> dict:
    """Segment-level accuracy over the annotated videos found in `videos_dir` whose category maps.

    `annotations` defaults to the shared `Annotations.txt`; `model` is the event model's weights
    (default: the shipped ESC-10 model); the result names the weights used.
    """
    from avu.media._errors import MediaError, NoAudioStream
    from avu.media.audio import read_audio

    t0 = time.time()
    weights = Path(model) if model is not None else DEFAULT_WEIGHTS
    event_model = EventModel.load(weights)
    annotations = annotations or default_annotations()
    ann = load_annotations(annotations)
    records: list[AveVideo] = ann.videos
    if split is not None:
        wanted = read_split(split)
        records = [v for v in records if (v.category, v.video_id) in wanted or v.video_id in wanted]
        if not records:
            raise RuntimeError(f"no video of {split} is in {annotations}")
    files = find_videos(videos_dir)
    skipped: Counter = Counter()
    unmapped: Counter = Counter()
    pred, pred_argmax, truth, per_cat = [], [], [], {}
    for v in records:
        if v.category not in AVE_TO_ESC10:
            skipped["category not mapped to ESC-10"] += 1
            unmapped[v.category] += 1
            continue
        path = files.get(v.video_id)
        if path is None:
            skipped["video file not found"] += 1
            continue
        try:
            audio = read_audio(path, sr=event_model.sr, end=float(N_SEGMENTS))
        except NoAudioStream:
            skipped["no audio stream"] += 1
            continue
        except MediaError as e:
            skipped["unreadable"] += 1
            if log:
                log(f"skipped {path}: {e.reason}")
            continue
        rows = segment_scores(event_model, audio.waveform, segment=1.0, context=context, n_segments=N_SEGMENTS)
        probs = [r[2] for r in rows]
        pred.append(predict_segments(probs, v.category, threshold=threshold))
        pred_argmax.append(predict_segments(probs, v.category, threshold=threshold, argmax=True))
        truth.append(v.segment_labels())
        c = per_cat.setdefault(v.category, {"videos": 0, "correct": 0})
        c["videos"] += 1
        c["correct"] += int(sum(a == b for a, b in zip(pred[-1], truth[-1])))
    result = {"model": str(weights), "evaluated": len(truth), "skipped": sum(skipped.values()),
              "skipped_by_reason": dict(skipped),
              "unmapped_categories": dict(sorted(unmapped.items())), "mapping": AVE_TO_ESC10,
              "threshold": threshold, "context_s": context, "segments": len(truth) * N_SEGMENTS}
    if not truth:
        result.update(accuracy=None, accuracy_argmax=None, all_background_accuracy=None, per_category={})
    else:
        t = np.array(truth)
        result.update(
            accuracy=round(segment_accuracy(np.array(pred), t), 4),
            accuracy_argmax=round(segment_accuracy(np.array(pred_argmax), t), 4),
            all_background_accuracy=round(segment_accuracy(np.full(t.shape, BACKGROUND), t), 4),
            per_category={c: {"videos": d["videos"], "accuracy": round(d["correct"] / (d["videos"] * N_SEGMENTS), 4)}
                          for c, d in sorted(per_cat.items())})
    result["seconds"] = round(time.time() - t0, 1)
    return result


__all__ = ["AVE_TO_ESC10", "CONTEXT", "THRESHOLD", "default_annotations", "find_videos", "predict_segments",
           "read_split", "run"]
