"""MS-COCO and Flickr30k captions, and the image-text retrieval protocol the papers report.

Two annotation formats are read, each as published:

- the official COCO captions files (`captions_val2017.json`, ...): "images" (id, file_name) and
  "annotations" (image_id, caption) -> `load_coco_captions`;
- Karpathy's split files (`dataset_coco.json`, `dataset_flickr30k.json`): one "images" entry per
  image with "filename" ("filepath" too for COCO), "split" (train / val / test / restval), "imgid"
  and "sentences" [{"raw": ...}] -> `load_karpathy`.

Loaders keep every caption. The protocol (VSE++, and the papers after it) uses exactly the first 5
captions of each image: `protocol_captions` builds that text list and says which image each text
belongs to. `avu.metrics.evaluate_image_text` scores it (COCO 1K folds, 5K, Flickr30k 1K).
"""
from __future__ import annotations

import json
import os
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

# The protocol's scoring is a metric (training tasks use it too); it lives in avu.metrics and is
# re-exported here for the callers that still import it from the data module.
from avu.metrics import (  # noqa: F401
    PROTOCOLS,
    STANDARD_TEST_IMAGES,
    ProtocolFolds,
    coco_protocol_folds,
    evaluate_image_text,
)

KARPATHY_SPLITS = ("train", "val", "test", "restval")
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
