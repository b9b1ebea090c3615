"""The class names of the perception models, read from the label files beside them.

Three vocabularies: ImageNet (1001 lines, line 0 "background", then "tench, Tinca tinca": the
synonyms of a class separated by commas), AudioSet as YAMNet's `yamnet_class_map.csv` (index,
mid, display_name) and the 80 COCO classes in YOLOX's output order. `short_name` gives the
wording shown to users and embedded for search: the first synonym of an ImageNet class.
"""
from __future__ import annotations

import csv
from pathlib import Path


def _lines(path: Path, expected: int) -> list[str]:
    lines = [ln.strip() for ln in Path(path).read_text(encoding="utf-8").splitlines()]
    lines = [ln for ln in lines if ln]
    if len(lines) != expected:
        raise ValueError(f"{path}: {len(lines)} labels, expected {expected}")
    return lines


def imagenet_labels(path: Path) -> list[str]:
    """The 1001 ImageNet lines (index 0 'background'), synonyms kept ('tench, Tinca tinca')."""
    return _lines(path, 1001)


def coco_labels(path: Path) -> list[str]:
    """The 80 COCO class names in YOLOX's output order."""
    return _lines(path, 80)


def yamnet_labels(path: Path) -> list[str]:
    """The 521 AudioSet display names in YAMNet's output order."""
    with open(path, newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    if len(rows) != 521 or any(int(r["index"]) != i for i, r in enumerate(rows)):
        raise ValueError(f"{path}: expected 521 rows indexed 0..520 with columns index, mid, display_name")
    return [r["display_name"].strip() for r in rows]


def short_name(label: str) -> str:
    """The first synonym of a comma-separated label: 'great white shark, white shark' -> 'great white shark'."""
    return label.split(",")[0].strip()


__all__ = ["coco_labels", "imagenet_labels", "short_name", "yamnet_labels"]
