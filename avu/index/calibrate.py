"""Fit the search calibration (`avu/index/calibration.json`) on shared data:

    python -m avu.index.calibrate [--shared DIR] [--models DIR]      # rewrites calibration.json

Per modality, matching and non-matching (query, item) pairs are embedded exactly as search and
ingest embed them (MiniLM for queries, lines and text; `avu.perception` for what is seen and
heard), and a logistic regression `p = sigmoid(a (cos - b))` is fitted on their cosines with the
two classes weighted equally (`avu.index.fusion` explains how `p` is used):

- speech: COCO captions of the 104 training images (the first 104 by id; the last 50 are the
  COCO evaluation's test images and are not used). Query: an image's first caption; items: the
  other four captions of every image (lines said); a match is a caption of the same image.
- read: the same captions as on-screen lines (the second caption of each image); query: three
  consecutive words from the middle of a line (what a user remembers of a slide); a match is
  the line they come from.
- seen: the 104 images perceived (ImageNet tags and COCO objects -> `seen_emb`); queries: all
  five captions of every image; a match is the image described.
- heard: the 400 ESC-10 clips perceived (AudioSet tags -> `heard_emb`); queries: the ten class
  names in words ("crackling fire"); a match is a clip of that class.

The check queries of the test suite ("a rabbit in a meadow", "gunfire and explosions", text
drawn on a generated clip) and the shared videos are never used here. The weak-hit threshold is
measured separately on an index of the shared clips (`--weak-index DIR`, `weak_threshold`): the
75th percentile of the best hit's score over 50 queries about other things (COCO test captions).
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from avu._paths import shared_data

OUT = Path(__file__).resolve().parent / "calibration.json"
TRAIN_IMAGES = 104  # COCO images (by id) used; the last 50 of the 154 shared ones are left alone
WEAK_PERCENTILE = 75.0  # of unrelated queries' best scores: the weak-hit threshold
ESC10_QUERIES = {"dog": "dog", "rooster": "rooster", "rain": "rain", "sea_waves": "sea waves",
                 "crackling_fire": "crackling fire", "crying_baby": "crying baby", "sneezing": "sneezing",
                 "clock_tick": "clock tick", "helicopter": "helicopter", "chainsaw": "chainsaw"}


def _coco_train(shared: Path):
    from avu.data.coco import load_coco_captions

    pool = []
    for name in ("captions_train2017_subset.json", "captions_val2017.json"):
        pool += load_coco_captions(shared / "coco" / name, shared / "coco" / "images", missing="skip")
    pool = sorted({im.image_id: im for im in pool}.values(), key=lambda im: im.image_id)
    return pool[:TRAIN_IMAGES]


def _pairs(q: np.ndarray, items: np.ndarray, match: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Cosines of matching and non-matching pairs; `match[i, j]`: query i matches item j."""
    sims = q @ items.T
    return sims[match], sims[~match]


def speech_pairs(images, enc):
    q = enc.encode_text([im.captions[0] for im in images])
    lines = [(i, c) for i, im in enumerate(images) for c in im.captions[1:5]]
    items = enc.encode_text([c for _, c in lines])
    owner = np.array([i for i, _ in lines])
    return _pairs(q, items, np.arange(len(images))[:, None] == owner[None, :])


def read_pairs(images, enc):
    lines = [im.captions[1] for im in images]
    spans = []
    for line in lines:
        w = line.rstrip(".").split()
        mid = max(0, len(w) // 2 - 1)
        spans.append(" ".join(w[mid:mid + 3]))
    q, items = enc.encode_text(spans), enc.encode_text(lines)
    return _pairs(q, items, np.eye(len(lines), dtype=bool))


def seen_pairs(images, perceiver, enc):
    from PIL import Image

    from avu.perception import modality_embeddings

    embs, keep = [], []
    for i, im in enumerate(images):
        with Image.open(im.path) as f:
            rgb = np.asarray(f.convert("RGB"))
        e = modality_embeddings(perceiver.perceive(rgb[None], None), enc)["seen"]
        if e is not None:
            embs.append(e)
            keep.append(i)
    caps = [(j, c) for j, i in enumerate(keep) for c in images[i].captions[:5]]
    q = enc.encode_text([c for _, c in caps])
    owner = np.array([j for j, _ in caps])
    return _pairs(q, np.stack(embs), owner[:, None] == np.arange(len(keep))[None, :])


def heard_pairs(shared: Path, perceiver, enc):
    from avu.data.esc10 import read_meta
    from avu.media import read_audio
    from avu.perception import modality_embeddings

    root = shared / "esc10"
    embs, classes = [], []
    for row in read_meta(root):
        wave = read_audio(root / "audio" / Path(row.get("path") or row["filename"]).name, sr=16000).waveform.numpy()
        e = modality_embeddings(perceiver.perceive(None, wave), enc)["heard"]
        if e is not None:
            embs.append(e)
            classes.append(row["category"])
    names = list(ESC10_QUERIES)
    q = enc.encode_text([ESC10_QUERIES[n] for n in names])
    cls = np.array(classes)
    return _pairs(q, np.stack(embs), np.array(names)[:, None] == cls[None, :])


def fit(match: np.ndarray, non: np.ndarray) -> dict:
    """Logistic `sigmoid(a (cos - b))` with balanced classes, and how well the cosine separates."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score

    x = np.concatenate([match, non]).astype(np.float64)[:, None]
    y = np.concatenate([np.ones(len(match)), np.zeros(len(non))])
    lr = LogisticRegression(C=100.0, class_weight="balanced").fit(x, y)
    a = float(lr.coef_[0, 0])
    b = float(-lr.intercept_[0] / a)
    return {"a": round(a, 4), "b": round(b, 4), "auc": round(float(roc_auc_score(y, x[:, 0])), 4),
            "pairs": [int(len(match)), int(len(non))],
            "cos_match_median": round(float(np.median(match)), 4),
            "cos_nonmatch_p99": round(float(np.percentile(non, 99)), 4)}


def calibrate(shared: Path | None = None, models_dir: str | None = None) -> dict:
    """Fit every modality it can (seen and heard need the perception models) and return the table."""
    from avu.models.text import load_minilm

    shared = Path(shared) if shared else shared_data()
    enc = load_minilm()
    images = _coco_train(shared)
    out = {"speech": fit(*speech_pairs(images, enc)), "read": fit(*read_pairs(images, enc))}
    try:
        from avu.perception import Perceiver
    except ImportError as e:
        print(f"seen and heard not fitted: avu.perception unavailable ({e})")
        return out
    seen = Perceiver(models_dir=models_dir, enable=("seen", "objects"))
    out["seen"] = fit(*seen_pairs(images, seen, enc))
    heard = Perceiver(models_dir=models_dir, enable=("heard",))
    out["heard"] = fit(*heard_pairs(shared, heard, enc))
    return out


def weak_threshold(index: str, shared: Path | None = None, *, percentile: float = WEAK_PERCENTILE) -> dict:
    """The weak-hit threshold: on an index of the shared clips, the `percentile` of the best hit's
    score over queries about other things: the first caption of each of the 50 COCO test images
    (everyday scenes: kitchens, buses, giraffes...; none was used to fit the calibration)."""
    from avu.data.coco import load_coco_captions
    from avu.index import open_index

    shared = Path(shared) if shared else shared_data()
    pool = []
    for name in ("captions_train2017_subset.json", "captions_val2017.json"):
        pool += load_coco_captions(shared / "coco" / name, shared / "coco" / "images", missing="skip")
    pool = sorted({im.image_id: im for im in pool}.values(), key=lambda im: im.image_id)[TRAIN_IMAGES:]
    idx = open_index(index)
    best = np.array([idx.search(im.captions[0], k=1)[0].score for im in pool])
    return {"threshold": round(float(np.percentile(best, percentile)), 4), "percentile": percentile,
            "queries": len(best), "best_min_median_max": [round(float(x), 4) for x in
                                                          (best.min(), np.median(best), best.max())],
            "measured_on": "an index of the shared clips (default ingest, ASR off)"}


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--shared", default=None, help="shared data folder (default: ../shared/data)")
    ap.add_argument("--models", default=None, help="perception models folder")
    ap.add_argument("--weak-index", default=None, help="an index of the shared clips: measure the weak-hit "
                                                       "threshold on it (instead of fitting the calibration)")
    args = ap.parse_args(argv)
    table = json.loads(OUT.read_text()) if OUT.is_file() else {}
    if args.weak_index:
        table["weak"] = weak_threshold(args.weak_index, args.shared)
    else:
        table["modalities"] = {**table.get("modalities", {}), **calibrate(args.shared, args.models)}
    OUT.write_text(json.dumps(table, indent=1) + "\n")
    print(json.dumps(table, indent=1))


if __name__ == "__main__":
    main()
