"""AVE (Audio-Visual Event, Tian et al. 2018) annotations and the segment-level accuracy metric.

The official `Annotations.txt` has one line per annotated video, `Category&VideoID&Quality&Start&End`
(times in whole seconds inside a 10 s video). Each video is cut into ten one-second segments; a
segment is labelled with the video's category when it lies inside [Start, End), otherwise it is
background. A few video IDs occur on more than one line (with different categories), so records
are kept in file order and addressed by position, not by ID.

Class indices follow the order in which categories first appear in the file, and background is
the last index (28 with the 28 AVE categories), a 29-way labelling. `segment_accuracy` is the
standard AVE localisation metric: the fraction of all one-second segments whose predicted label
(background included) equals the annotated one.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

BACKGROUND = "background"
N_SEGMENTS = 10  # AVE videos are 10 s, annotated per second


@dataclass(frozen=True)
class AveVideo:
    """One annotation line: the event category and its [start, end) seconds in a 10 s video."""

    category: str
    video_id: str
    quality: str
    start: int
    end: int

    def segment_labels(self) -> list[str]:
        """Ten labels, one per second: the category inside [start, end), else "background"."""
        return [self.category if self.start <= s < self.end else BACKGROUND for s in range(N_SEGMENTS)]


@dataclass(frozen=True)
class AveAnnotations:
    """All records of an `Annotations.txt`, the class list and per-segment label indices."""

    videos: list[AveVideo]
    classes: list[str]  # categories in first-appearance order, then "background"

    @property
    def categories(self) -> list[str]:
        return self.classes[:-1]

    @property
    def background_index(self) -> int:
        return len(self.classes) - 1

    def segment_targets(self) -> np.ndarray:
        """[n_videos, 10] int array of class indices (background = `background_index`)."""
        index = {c: i for i, c in enumerate(self.classes)}
        return np.array([[index[lab] for lab in v.segment_labels()] for v in self.videos], dtype=np.int64)

    def counts(self) -> dict[str, int]:
        """Videos per category."""
        out: dict[str, int] = {c: 0 for c in self.categories}
        for v in self.videos:
            out[v.category] += 1
        return out


def parse_line(line: str, lineno: int = 0) -> AveVideo:
    parts = line.rstrip("\r\n").split("&")
    if len(parts) != 5:
        raise ValueError(f"line {lineno}: expected Category&VideoID&Quality&Start&End, got {line!r}")
    cat, vid, quality, s, e = (p.strip() for p in parts)
    try:
        start, end = int(s), int(e)
    except ValueError:
        raise ValueError(f"line {lineno}: start/end must be whole seconds, got {s!r}, {e!r}") from None
    if not (0 <= start <= end <= N_SEGMENTS) or not cat or not vid:
        raise ValueError(f"line {lineno}: need a category, an ID and 0 <= start <= end <= 10, got {line!r}")
    return AveVideo(cat, vid, quality, start, end)


def load_annotations(path: str | Path) -> AveAnnotations:
    """Parse the official AVE `Annotations.txt` (a header line `Category&VideoID&...` is skipped)."""
    p = Path(path)
    if not p.is_file():
        raise RuntimeError(f"AVE annotations not found: {p}")
    videos: list[AveVideo] = []
    for i, line in enumerate(p.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip() or line.lower().startswith("category&videoid"):
            continue
        videos.append(parse_line(line, i))
    if not videos:
        raise RuntimeError(f"{p} holds no annotations")
    classes: list[str] = []
    for v in videos:
        if v.category not in classes:
            classes.append(v.category)
    return AveAnnotations(videos, classes + [BACKGROUND])


def segment_accuracy(predicted: Sequence[Sequence[int | str]] | np.ndarray,
                     target: Sequence[Sequence[int | str]] | np.ndarray) -> float:
    """Fraction of segments whose predicted label equals the target, over all videos.

    Both are [n_videos, 10] (class indices or label strings, background included).
    """
    pred, tgt = np.asarray(predicted), np.asarray(target)
    if pred.shape != tgt.shape or pred.ndim != 2:
        raise ValueError(f"predicted and target must both be [n_videos, segments], got {pred.shape} and {tgt.shape}")
    if pred.size == 0:
        raise ValueError("no segments to score")
    return float((pred == tgt).mean())


def labels_from_scores(scores: np.ndarray, *, background_index: int, threshold: float | None = None) -> np.ndarray:
    """Per-segment labels from class scores [n, 10, C]: argmax, or background when the best
    event score (background excluded) is below `threshold`."""
    s = np.asarray(scores, dtype=np.float64)
    if s.ndim != 3:
        raise ValueError(f"scores must be [n_videos, segments, classes], got {s.shape}")
    if threshold is None:
        return s.argmax(-1)
    events = np.delete(s, background_index, axis=-1)
    idx = events.argmax(-1)
    idx = idx + (idx >= background_index)  # back to indices that include background
    return np.where(events.max(-1) >= threshold, idx, background_index)


__all__ = ["AveVideo", "AveAnnotations", "BACKGROUND", "N_SEGMENTS", "parse_line", "load_annotations",
           "segment_accuracy", "labels_from_scores"]
