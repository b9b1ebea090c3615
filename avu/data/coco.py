"""MS-COCO and Flickr30k captions, and the image-text retrieval protocol the papers report.

Two annotation formats are read, each as published:

- the official COCO captions files (`captions_val2017.json`, ...): "images" (id, file_name) and
  "annotations" (image_id, caption) -> `load_coco_captions`;
- Karpathy's split files (`dataset_coco.json`, `dataset_flickr30k.json`): one "images" entry per
  image with "filename" ("filepath" too for COCO), "split" (train / val / test / restval), "imgid"
  and "sentences" [{"raw": ...}] -> `load_karpathy`.

Loaders keep every caption. The protocol (VSE++, and the papers after it) uses exactly the first 5
captions of each image: `protocol_captions` builds that text list and says which image each text
belongs to. `evaluate_image_text` scores it: COCO 1K is the mean over five folds of 1,000
consecutive test images, COCO 5K all 5,000 at once, Flickr30k 1K its single 1,000-image test set;
"rsum" adds the six recalls. A smaller local set gets as many full folds as it has, and says so.
"""
from __future__ import annotations

import json
import os
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from avu._retrieval_metrics import RECALL_KS, _to_numpy, bidirectional_retrieval

KARPATHY_SPLITS = ("train", "val", "test", "restval")
PROTOCOLS = {"1k": 1000, "5k": 5000}
STANDARD_TEST_IMAGES = 5000  # the Karpathy COCO test split; Flickr30k's test split has 1,000
CAPTIONS_PER_IMAGE = 5
_SHOW_MISSING = 5


@dataclass(frozen=True)
class CaptionedImage:
    """One image and all of its captions, in annotation-file order."""

    image_id: int  # COCO: the image "id"; Karpathy files: "imgid" (the entry's index in the file)
    path: Path
    captions: tuple[str, ...]
    split: str  # "val2017", "train", "test", ...

    def __post_init__(self):
        if isinstance(self.image_id, bool) or not isinstance(self.image_id, (int, np.integer)):
            raise ValueError(f"image_id must be an integer, got {self.image_id!r}")
        object.__setattr__(self, "path", Path(self.path))
        if isinstance(self.captions, str):
            raise ValueError(f"image {self.image_id}: captions must be a sequence of strings, not one string")
        caps = tuple(self.captions)
        for c in caps:
            if not isinstance(c, str) or not c.strip():
                raise ValueError(f"image {self.image_id}: every caption must be a non-empty string, got {c!r}")
        object.__setattr__(self, "captions", caps)
        if not isinstance(self.split, str) or not self.split:
            raise ValueError(f"image {self.image_id}: split must be a non-empty string, got {self.split!r}")


def _read_json(path: str | os.PathLike) -> dict:
    p = Path(path)
    try:
        with open(p, encoding="utf-8") as f:
            data = json.load(f)
    except json.JSONDecodeError as e:
        raise ValueError(f"{p}: not valid JSON ({e})") from None
    if not isinstance(data, dict) or not isinstance(data.get("images"), list):
        raise ValueError(f"{p}: expected a JSON object with an 'images' list")
    return data


def _field(entry, key: str, kind, source: Path, where: str):
    if not isinstance(entry, dict) or key not in entry:
        raise ValueError(f"{source}: {where} has no '{key}'")
    v = entry[key]
    if not isinstance(v, kind) or isinstance(v, bool):
        raise ValueError(f"{source}: {where} has '{key}' = {v!r}, expected {getattr(kind, '__name__', kind)}")
    return v


def _drop_missing(images: list[CaptionedImage], missing: str, source: Path, root: Path) -> list[CaptionedImage]:
    """Images whose file exists; the others raise (missing="error") or are left out with a warning."""
    if missing not in ("error", "skip"):
        raise ValueError(f"missing must be 'error' or 'skip', got {missing!r}")
    absent = [im for im in images if not im.path.is_file()]
    if not absent:
        return images
    names = ", ".join(im.path.name for im in absent[:_SHOW_MISSING]) + (", ..." if len(absent) > _SHOW_MISSING else "")
    what = f"{source}: {len(absent)} of {len(images)} images are missing under {root} ({names})"
    if missing == "error":
        raise FileNotFoundError(f"{what}; pass missing='skip' to leave them out")
    warnings.warn(f"{what}; left out", stacklevel=3)
    gone = {id(im) for im in absent}
    return [im for im in images if id(im) not in gone]


def load_coco_captions(annotations_json: str | os.PathLike, images_dir: str | os.PathLike, *,
                       split: str | None = None, missing: str = "error") -> list[CaptionedImage]:
    """The images of an official COCO captions file (in its "images" order), each with all of its
    captions (in "annotations" order); `split` defaults to the file name less "captions_"
    ("val2017"). Images not in `images_dir`: see `missing` ("error" or "skip" with a warning)."""
    source = Path(annotations_json)
    data = _read_json(source)
    anns = data.get("annotations")
    if not isinstance(anns, list):
        raise ValueError(f"{source}: no 'annotations' list (is this a captions file?)")
    split = split or source.stem.removeprefix("captions_")
    captions: dict[int, list[str]] = {}
    for i, im in enumerate(data["images"]):
        iid = _field(im, "id", int, source, f"images[{i}]")
        if iid in captions:
            raise ValueError(f"{source}: images[{i}] repeats image id {iid}")
        _field(im, "file_name", str, source, f"images[{i}]")
        captions[iid] = []
    for i, a in enumerate(anns):
        iid = _field(a, "image_id", int, source, f"annotations[{i}]")
        text = _field(a, "caption", str, source, f"annotations[{i}]").strip()
        if iid not in captions:
            raise ValueError(f"{source}: annotations[{i}] refers to image id {iid}, which is not in 'images'")
        if not text:
            raise ValueError(f"{source}: annotations[{i}] (image {iid}) has an empty caption")
        captions[iid].append(text)
    root = Path(images_dir)
    images = [CaptionedImage(im["id"], root / im["file_name"], tuple(captions[im["id"]]), split)
              for im in data["images"]]
    return _drop_missing(images, missing, source, root)


def load_karpathy(dataset_json: str | os.PathLike, images_root: str | os.PathLike, split: str | None = None, *,
                  restval_as_train: bool = False, missing: str = "error") -> list[CaptionedImage]:
    """The images of a Karpathy split file (`dataset_coco.json`, `dataset_flickr30k.json`), in file
    order, optionally only one `split`. Paths are `images_root/filepath/filename` (COCO, e.g.
    "val2014/...") or `images_root/filename` (Flickr30k). With `restval_as_train` the "restval"
    images (COCO's extra 30k) are relabelled "train", so split="train" includes them."""
    source = Path(dataset_json)
    if split is not None and split not in KARPATHY_SPLITS:
        raise ValueError(f"split must be one of {KARPATHY_SPLITS} or None, got {split!r}")
    data = _read_json(source)
    root = Path(images_root)
    images = []
    for i, e in enumerate(data["images"]):
        where = f"images[{i}]"
        s = _field(e, "split", str, source, where)
        if s not in KARPATHY_SPLITS:
            raise ValueError(f"{source}: {where} has split {s!r}, expected one of {KARPATHY_SPLITS}")
        if restval_as_train and s == "restval":
            s = "train"
        if split is not None and s != split:
            continue
        name = _field(e, "filename", str, source, where)
        sub = _field(e, "filepath", str, source, where) if "filepath" in e else ""
        sents = _field(e, "sentences", list, source, where)
        caps = []
        for k, sent in enumerate(sents):
            text = _field(sent, "raw", str, source, f"{where}.sentences[{k}]").strip()
            if not text:
                raise ValueError(f"{source}: {where}.sentences[{k}] ({name}) has an empty caption")
            caps.append(text)
        images.append(CaptionedImage(_field(e, "imgid", int, source, where), root / sub / name, tuple(caps), s))
    return _drop_missing(images, missing, source, root)


def protocol_captions(images: Sequence[CaptionedImage], *, per_image: int = CAPTIONS_PER_IMAGE,
                      min_captions: int = CAPTIONS_PER_IMAGE) -> tuple[list[str], np.ndarray]:
    """The protocol's texts: the first `per_image` captions of each image, in image order, and the
    image index of each text. An image with fewer than `min_captions` is a ValueError naming it;
    lower `min_captions` to let such images take part with the captions they have."""
    if not 1 <= min_captions <= per_image:
        raise ValueError(f"need 1 <= min_captions <= per_image, got {min_captions} and {per_image}")
    texts, owner = [], []
    for i, im in enumerate(images):
        if len(im.captions) < min_captions:
            raise ValueError(f"image {im.image_id} ({im.path.name}) has {len(im.captions)} captions; the "
                             f"protocol needs {min_captions} (lower min_captions to accept fewer)")
        caps = im.captions[:per_image]
        texts.extend(caps)
        owner.extend([i] * len(caps))
    return texts, np.asarray(owner, dtype=np.int64)


@dataclass(frozen=True)
class ProtocolFolds:
    """How a protocol cuts a list of test images: [start, end) index ranges, one per fold."""

    protocol: str
    n_images: int
    ranges: tuple[tuple[int, int], ...]
    standard: bool  # True when the folds are exactly the protocol's (full folds covering every image)
    note: str

    def __post_init__(self):
        if self.protocol not in PROTOCOLS:
            raise ValueError(f"protocol must be one of {tuple(PROTOCOLS)}, got {self.protocol!r}")
        if not self.ranges or any(not 0 <= a < b <= self.n_images for a, b in self.ranges):
            raise ValueError(f"fold ranges {self.ranges} do not fit {self.n_images} images")


def _fold_ranges(n: int, protocol: str) -> ProtocolFolds:
    if protocol not in PROTOCOLS:
        raise ValueError(f"protocol must be one of {tuple(PROTOCOLS)}, got {protocol!r}")
    if n < 1:
        raise ValueError("no test images")
    size = PROTOCOLS[protocol]
    full = min(n // size, STANDARD_TEST_IMAGES // size)
    if full == 0:
        return ProtocolFolds(protocol, n, ((0, n),), False,
                             f"{protocol}: only {n} images, fewer than one {size}-image fold: one fold of all "
                             f"{n} (recalls are higher than on {size} images; not comparable to papers)")
    ranges = tuple((k * size, (k + 1) * size) for k in range(full))
    used = full * size
    # the papers' sets: COCO's 5,000 test images (1K: 5 folds, 5K: 1), Flickr30k's 1,000 (1K: 1 fold)
    standard = used == n and (n == STANDARD_TEST_IMAGES or (protocol == "1k" and n == size))
    note = f"{protocol}: {full} fold(s) of {size} images"
    if used < n:
        note += f"; the last {n - used} of {n} images are left out"
    if not standard:
        note += f" (the papers use {STANDARD_TEST_IMAGES} COCO or 1000 Flickr30k test images)"
    return ProtocolFolds(protocol, n, ranges, standard, note)


def coco_protocol_folds(images: Sequence, protocol: str = "1k") -> ProtocolFolds:
    """The folds of `protocol` over the test images in order: "1k" is five folds of 1,000
    consecutive images (COCO 1K; Flickr30k's 1,000-image test set is its one fold), "5k" all 5,000.
    With fewer images, "1k" keeps the full folds it can make; with none, one fold of every image.
    `standard` is True only for the papers' sets (5,000 COCO test images; 1,000 Flickr30k ones
    under "1k"), and `note` says what was done."""
    return _fold_ranges(len(images), protocol)


def evaluate_image_text(image_emb, text_emb, item_of_text, protocol: str = "1k", *,
                        normalize: bool = True, ks: Sequence[int] = RECALL_KS) -> dict:
    """Image-text retrieval under `protocol`: i2t and t2i metrics averaged over the folds, and
    "rsum" (the six recalls added up), with "folds", "standard", "note" and "per_fold".

    `image_emb` is [images, d], `text_emb` [texts, d], `item_of_text[j]` the image of text j (see
    `protocol_captions`); a fold's texts are those of its images. Scores are cosine similarities
    (`normalize=True`) or plain dot products. numpy or torch inputs.
    """
    img = _to_numpy(image_emb, "image_emb").astype(np.float32)  # as the papers (torch, fp32): 0.5 GB at 5K
    txt = _to_numpy(text_emb, "text_emb").astype(np.float32)
    it = _to_numpy(item_of_text, "item_of_text")
    if img.ndim != 2 or txt.ndim != 2 or img.shape[1] != txt.shape[1]:
        raise ValueError(f"image_emb and text_emb must be [n, d] with the same d, got {img.shape} and {txt.shape}")
    if it.ndim != 1 or it.size != txt.shape[0]:
        raise ValueError(f"item_of_text must have one entry per text ({txt.shape[0]}), got shape {it.shape}")
    if it.size and (not np.all(np.mod(it, 1) == 0) or it.min() < 0 or it.max() >= img.shape[0]):
        bad = int(np.flatnonzero((np.mod(it, 1) != 0) | (it < 0) | (it >= img.shape[0]))[0])
        raise ValueError(f"item_of_text: text {bad} points at image {it[bad].item()!r}, not an index of the "
                         f"{img.shape[0]} images")
    it = it.astype(np.int64)
    if normalize:
        img = img / np.maximum(np.linalg.norm(img, axis=1, keepdims=True), 1e-12)
        txt = txt / np.maximum(np.linalg.norm(txt, axis=1, keepdims=True), 1e-12)
    folds = _fold_ranges(img.shape[0], protocol)
    per_fold = []
    for a, b in folds.ranges:
        sel = np.flatnonzero((it >= a) & (it < b))
        m = bidirectional_retrieval(txt[sel] @ img[a:b].T, it[sel] - a, ks=ks)
        per_fold.append({"images": (a, b), "i2t": m["v2t"], "t2i": m["t2v"]})
    out = {"protocol": protocol, "folds": len(per_fold), "standard": folds.standard, "note": folds.note}
    for d in ("i2t", "t2i"):
        keys = per_fold[0][d].keys()
        out[d] = {k: (int(sum(f[d][k] for f in per_fold)) if k == "n_queries"
                      else float(np.mean([f[d][k] for f in per_fold]))) for k in keys}
    out["rsum"] = float(sum(out[d][f"R@{int(k)}"] for d in ("i2t", "t2i") for k in ks))
    out["per_fold"] = per_fold
    return out
