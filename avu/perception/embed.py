"""Perception in the text encoder's space, so one MiniLM query vector reaches every modality.

ConSE (Norouzi et al. 2014, "Zero-shot learning by convex combination of semantic embeddings"):
a segment's `seen` vector is the weighted mean of the MiniLM embeddings of its labels, the
weights being the labels' probabilities, L2-normalised; `heard` the same over AudioSet tags;
`read` is the MiniLM embedding of its on-screen text. Labels are embedded once per encoder and
cached. `modality_texts` gives the (label, weight) lists behind each vector (shown as a hit's
reasons).

The knobs below (label wording, how much the YOLOX objects weigh next to the ImageNet classes,
and the Perceiver's label count) were chosen on the 104 COCO train images only
(`avu.eval.coco_zero_shot.select`: 96 settings, best rsum 409.2 on train with 20 ImageNet labels,
no probability floor, the bare label as its wording, COCO objects at weight 1.0 from detection
score 0.25; "a photo of a {}" and object weights 0, 0.5 and 2 were not better), then fixed.
"""
from __future__ import annotations

import weakref

import numpy as np

from avu.perception.result import SegmentPerception

SEEN_TEMPLATE = "{}"  # wording of an ImageNet / COCO label before embedding
HEARD_TEMPLATE = "{}"  # wording of an AudioSet label (not tuned: no caption set for sounds here)
OBJECT_WEIGHT = 1.0  # a COCO object's weight = OBJECT_WEIGHT x its detection score (ImageNet: probability)
READ_MAX_LINES = 8  # on-screen lines joined (in order) into the `read` text

_CACHE: "weakref.WeakKeyDictionary[object, dict[str, np.ndarray]]" = weakref.WeakKeyDictionary()


def embed_labels(encoder, texts: list[str]) -> np.ndarray:
    """[len(texts), d] unit MiniLM vectors, each distinct text encoded once per encoder."""
    cache = _CACHE.setdefault(encoder, {})
    new = sorted({t for t in texts if t not in cache})
    if new:
        for t, v in zip(new, encoder.encode_text(new, normalize=True)):
            cache[t] = np.asarray(v, dtype=np.float32)
    if not texts:
        return np.zeros((0, getattr(encoder, "dim", 384)), dtype=np.float32)
    return np.stack([cache[t] for t in texts])


def modality_texts(p: SegmentPerception, *, object_weight: float = OBJECT_WEIGHT) -> dict[str, list[tuple[str, float]]]:
    """{"seen": [(label, weight)...], "heard": [...], "read": [(line, weight)...]}, best first;
    `seen` merges ImageNet tags and COCO objects (a label in both keeps the larger weight)."""
    seen: dict[str, float] = {}
    for t in p.seen:
        seen[t.label] = max(seen.get(t.label, 0.0), float(t.score))
    for o in p.objects:
        seen[o.label] = max(seen.get(o.label, 0.0), object_weight * float(o.score))
    return {"seen": sorted(seen.items(), key=lambda kv: -kv[1]),
            "heard": [(t.label, float(t.score)) for t in p.heard],
            "read": [(t.text, float(t.score)) for t in p.text]}


def weighted_label_vector(encoder, pairs: list[tuple[str, float]], template: str) -> np.ndarray | None:
    """The unit weighted mean of the templated labels' embeddings (None without positive weight)."""
    pairs = [(lab, w) for lab, w in pairs if w > 0]
    if not pairs:
        return None
    emb = embed_labels(encoder, [template.format(lab) for lab, _ in pairs])
    v = (np.asarray([w for _, w in pairs], dtype=np.float32)[:, None] * emb).sum(0)
    n = float(np.linalg.norm(v))
    return (v / n).astype(np.float32) if n > 0 else None


def read_text(p: SegmentPerception) -> str:
    """The on-screen lines joined in reading order (at most READ_MAX_LINES)."""
    return ". ".join(t.text for t in p.text[:READ_MAX_LINES])


def modality_embeddings(p: SegmentPerception, encoder, *, seen_template: str = SEEN_TEMPLATE,
                        heard_template: str = HEARD_TEMPLATE,
                        object_weight: float = OBJECT_WEIGHT) -> dict[str, np.ndarray | None]:
    """{"seen", "heard", "read"} -> 384-d unit float32 vectors (None when the modality has nothing)."""
    texts = modality_texts(p, object_weight=object_weight)
    read = None
    if p.text:
        read = encoder.encode_text([read_text(p)], normalize=True)[0].astype(np.float32)
    return {"seen": weighted_label_vector(encoder, texts["seen"], seen_template),
            "heard": weighted_label_vector(encoder, texts["heard"], heard_template),
            "read": read}


__all__ = ["HEARD_TEMPLATE", "OBJECT_WEIGHT", "SEEN_TEMPLATE", "embed_labels", "modality_embeddings",
           "modality_texts", "read_text", "weighted_label_vector"]
