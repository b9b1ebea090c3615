"""What perception says about one segment: tags heard and seen, objects, boxes, on-screen text,
and the model features kept for the model core. Small frozen dataclasses that check themselves;
`SegmentPerception.to_dict()` is the JSON stored per segment (without the feature arrays).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


def _check_score(kind: str, label: str, score: float) -> None:
    if not isinstance(label, str) or not label:
        raise ValueError(f"{kind}: label must be a non-empty string, got {label!r}")
    if not 0.0 <= float(score) <= 1.0:
        raise ValueError(f"{kind} {label!r}: score {score} outside [0, 1]")


@dataclass(frozen=True)
class Tag:
    """A class label and its score in [0, 1]."""

    label: str
    score: float

    def __post_init__(self):
        _check_score("Tag", self.label, self.score)


@dataclass(frozen=True)
class ObjectTag:
    """A COCO class seen in the segment: max score over frames, max count in one frame."""

    label: str
    score: float
    count: int

    def __post_init__(self):
        _check_score("ObjectTag", self.label, self.score)
        if int(self.count) < 1:
            raise ValueError(f"ObjectTag {self.label!r}: count must be >= 1, got {self.count}")


@dataclass(frozen=True)
class Box:
    """A detection on the key frame: box (x0, y0, x1, y1) in [0, 1] image coordinates."""

    label: str
    score: float
    box: tuple[float, float, float, float]

    def __post_init__(self):
        _check_score("Box", self.label, self.score)
        x0, y0, x1, y1 = self.box
        if not (0.0 <= x0 <= x1 <= 1.0 and 0.0 <= y0 <= y1 <= 1.0):
            raise ValueError(f"Box {self.label!r}: {self.box} is not x0 <= x1, y0 <= y1 inside [0, 1]")


@dataclass(frozen=True)
class TextLine:
    """On-screen text, de-duplicated across the segment's frames, with its OCR confidence."""

    text: str
    score: float

    def __post_init__(self):
        _check_score("TextLine", self.text, self.score)


@dataclass
class SegmentPerception:
    """Everything perceived in one segment; an empty list means the modality ran and found nothing
    (a modality that could not run is named in `Perceiver.missing`, and its list is empty too)."""

    heard: list[Tag] = field(default_factory=list)  # AudioSet classes, top-k by mean score over patches
    seen: list[Tag] = field(default_factory=list)  # ImageNet classes, probabilities averaged over frames
    objects: list[ObjectTag] = field(default_factory=list)  # COCO classes above the threshold
    boxes: list[Box] = field(default_factory=list)  # detections on the key frame (middle frame)
    text: list[TextLine] = field(default_factory=list)  # OCR lines, spaces restored
    audio_features: np.ndarray | None = None  # YAMNet embedding per patch [P, 1024]
    image_features: np.ndarray | None = None  # MobileNetV2 pooled features per frame [T, 1280]

    def to_dict(self) -> dict:
        """JSON-able, without the feature arrays."""
        return {
            "heard": [{"label": t.label, "score": round(float(t.score), 4)} for t in self.heard],
            "seen": [{"label": t.label, "score": round(float(t.score), 4)} for t in self.seen],
            "objects": [{"label": o.label, "score": round(float(o.score), 4), "count": int(o.count)}
                        for o in self.objects],
            "boxes": [{"label": b.label, "score": round(float(b.score), 4), "box": [float(v) for v in b.box]}
                      for b in self.boxes],
            "text": [{"text": t.text, "score": round(float(t.score), 4)} for t in self.text],
        }

    @classmethod
    def from_dict(cls, d: dict) -> "SegmentPerception":
        """The inverse of `to_dict` (feature arrays are None)."""
        return cls(heard=[Tag(t["label"], t["score"]) for t in d.get("heard", [])],
                   seen=[Tag(t["label"], t["score"]) for t in d.get("seen", [])],
                   objects=[ObjectTag(o["label"], o["score"], o["count"]) for o in d.get("objects", [])],
                   boxes=[Box(b["label"], b["score"], tuple(b["box"])) for b in d.get("boxes", [])],
                   text=[TextLine(t["text"], t["score"]) for t in d.get("text", [])])


__all__ = ["Box", "ObjectTag", "SegmentPerception", "Tag", "TextLine"]
