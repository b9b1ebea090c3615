"""Retrieval metrics as the papers report them: Recall@K, median and mean rank, in either direction.

Kept apart from `avu.metrics` (which re-exports everything here) so that the summarization section
and this one each stay readable; import them from `avu.metrics`.

- `ranks(sim, gt)`: the 1-based rank of each query's best-ranked true item.
- `retrieval_metrics(sim, gt)`: R@1/5/10 (percent), MdR (median rank), MnR (mean rank).
- `bidirectional_retrieval(sim_text_item, item_of_text)`: text-to-item and item-to-item-text for a
  paired corpus where each caption belongs to one item and an item may have several captions
  (COCO and Flickr30k: 5 captions per image; MSR-VTT: 20 per video; LSMDC: 1 per clip).
- `evaluate_image_text(image_emb, text_emb, item_of_text, protocol)`: the image-text protocol the
  papers report (VSE++ and after): COCO 1K is the mean over five folds of 1,000 consecutive test
  images, COCO 5K all 5,000 at once, Flickr30k 1K its single 1,000-image test set; "rsum" adds the
  six recalls. A smaller local set gets as many full folds as it has, and says so
  (`coco_protocol_folds`). The captions come from `avu.data.coco.protocol_captions`.

Tie rule (pessimistic): an item scored exactly the same as a true item counts as ranked above it,
so the rank of the best true item is 1 + the number of *other* (not true) items scored at least as
high as it. Constant scores therefore give the worst rank, never a flattering one; with continuous
embedding scores ties do not happen and the rule agrees with every paper's code. MdR is the median
of the 1-based ranks (`np.median`, so an even count can give x.5), as in CLIP4Clip, Frozen in Time
and Collaborative Experts; VSE++ floors it instead.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Sequence

import numpy as np

RECALL_KS = (1, 5, 10)
PROTOCOLS = {"1k": 1000, "5k": 5000}  # images per fold of the COCO / Flickr30k retrieval protocols
STANDARD_TEST_IMAGES = 5000  # the Karpathy COCO test split; Flickr30k's test split has 1,000
_CHUNK_ELEMS = 1 << 23  # rows per block so a block's temporaries stay near 8M elements


def _to_numpy(x, name: str) -> np.ndarray:
    """A numpy array from numpy, nested lists or a torch tensor (duck-typed, so no torch import)."""
    if hasattr(x, "detach") and hasattr(x, "cpu"):
        x = x.detach().cpu()
        if hasattr(x, "is_floating_point") and x.is_floating_point():
            x = x.float()  # bfloat16/half have no numpy dtype or lose precision in comparisons
        x = x.numpy()
    a = np.asarray(x)
    if a.dtype == object or not (np.issubdtype(a.dtype, np.number) or a.dtype == bool):
        raise ValueError(f"{name} must be numeric, got dtype {a.dtype}")
    return a


def _score_matrix(sim) -> np.ndarray:
    s = _to_numpy(sim, "sim")
    if s.ndim != 2:
        raise ValueError(f"sim must be a 2-D queries x items matrix, got shape {s.shape}")
    if s.shape[0] == 0 or s.shape[1] == 0:
        raise ValueError(f"sim must have at least one query and one item, got shape {s.shape}")
    if s.dtype == bool:
        s = s.astype(np.float64)
    if np.issubdtype(s.dtype, np.floating):
        bad = np.isnan(s).any(axis=1)
        if bad.any():
            raise ValueError(f"sim has NaN scores for query {int(np.argmax(bad))} "
                             f"({int(bad.sum())} queries in all)")
    return s


def _index(v, query: int, n_items: int) -> int:
    if isinstance(v, (bool, np.bool_)) or not isinstance(v, (int, np.integer)):
        raise ValueError(f"gt for query {query}: item indices must be integers, got {v!r}")
    if not 0 <= int(v) < n_items:
        raise ValueError(f"gt for query {query}: item index {int(v)} is out of range for {n_items} items")
    return int(v)


def _positives(gt, n_queries: int, n_items: int) -> list[np.ndarray]:
    """Each query's true item indices as a sorted, duplicate-free int array (validated)."""
    if hasattr(gt, "detach"):
        gt = _to_numpy(gt, "gt")
    if isinstance(gt, np.ndarray):
        if gt.ndim != 1:
            raise ValueError(f"gt as an array must be 1-D (one true item per query), got shape {gt.shape}")
        gt = gt.tolist()
    try:
        n = len(gt)
    except TypeError:
        raise ValueError(f"gt must be a sequence with one entry per query, got {type(gt).__name__}") from None
    if n != n_queries:
        raise ValueError(f"gt has {n} entries but sim has {n_queries} queries (rows)")
    out = []
    for q, g in enumerate(gt):
        if isinstance(g, (str, bytes)) or not isinstance(g, (Iterable, int, np.integer)):
            raise ValueError(f"gt for query {q} must be an item index or a set of them, got {g!r}")
        items = {_index(g, q, n_items)} if not isinstance(g, Iterable) else {_index(v, q, n_items) for v in g}
        if not items:
            raise ValueError(f"gt for query {q} is empty: every query needs at least one true item")
        out.append(np.fromiter(sorted(items), dtype=np.int64, count=len(items)))
    return out


def ranks(sim, gt) -> np.ndarray:
    """The 1-based rank of each query's best-ranked true item, as an int64 array [queries].

    `sim` is queries x items (numpy, nested lists or torch; higher = better); `gt[i]` is query i's
    true item index or an iterable of them. Ties are pessimistic (see the module docstring): the
    rank is 1 + the number of non-true items scored >= the query's best true score, so it lies in
    [1, items - true items + 1].
    """
    s = _score_matrix(sim)
    n_q, n_items = s.shape
    pos = _positives(gt, n_q, n_items)
    single = all(p.size == 1 for p in pos)
    out = np.empty(n_q, dtype=np.int64)
    block = max(1, _CHUNK_ELEMS // n_items)
    for a in range(0, n_q, block):
        b = min(n_q, a + block)
        rows = s[a:b]
        if single:  # the common case, without a mask: one true item per query
            cols = np.array([p[0] for p in pos[a:b]])
            best = rows[np.arange(b - a), cols]
            out[a:b] = (rows >= best[:, None]).sum(axis=1)  # counts the true item itself: rank >= 1
            continue
        mask = np.zeros(rows.shape, dtype=bool)
        for r, p in enumerate(pos[a:b]):
            mask[r, p] = True
        # non-true cells set to the row minimum: the row maximum is then the best true score
        best = np.where(mask, rows, rows.min(axis=1, keepdims=True)).max(axis=1)
        out[a:b] = 1 + ((rows >= best[:, None]) & ~mask).sum(axis=1)
    return out


def metrics_from_ranks(r: Sequence[int], ks: Sequence[int] = RECALL_KS) -> dict:
    """{"R@K" for K in ks (percent), "MdR", "MnR", "n_queries"} from 1-based ranks."""
    r = np.asarray(r, dtype=np.float64).ravel()
    if r.size == 0:
        raise ValueError("no ranks: need at least one query")
    if np.any(r < 1) or not np.all(np.isfinite(r)):
        raise ValueError("ranks must be finite and 1-based (>= 1)")
    out = {}
    for k in ks:
        if int(k) < 1:
            raise ValueError(f"recall cut-offs must be >= 1, got {k}")
        out[f"R@{int(k)}"] = float(100.0 * np.mean(r <= int(k)))
    out.update(MdR=float(np.median(r)), MnR=float(np.mean(r)), n_queries=int(r.size))
    return out


def retrieval_metrics(sim, gt, *, ks: Sequence[int] = RECALL_KS) -> dict:
    """Recall@K (percent, float), median rank "MdR", mean rank "MnR" and "n_queries" of a queries x
    items score matrix against each query's true item(s); see `ranks` for the tie rule."""
    return metrics_from_ranks(ranks(sim, gt), ks)


def _item_of_text(item_of_text, n_texts: int, n_items: int) -> np.ndarray:
    it = _to_numpy(item_of_text, "item_of_text")
    if it.ndim != 1 or it.size != n_texts:
        raise ValueError(f"item_of_text must give one item per text: {n_texts} texts (rows of "
                         f"sim_text_item), got shape {it.shape}")
    if not (np.issubdtype(it.dtype, np.integer) or (it.size and np.all(np.mod(it, 1) == 0))):
        raise ValueError("item_of_text must hold integer item indices")
    it = it.astype(np.int64)
    bad = np.flatnonzero((it < 0) | (it >= n_items))
    if bad.size:
        raise ValueError(f"item_of_text: text {int(bad[0])} points at item {int(it[bad[0]])}, out of range "
                         f"for {n_items} items (columns of sim_text_item)")
    return it


def bidirectional_retrieval(sim_text_item, item_of_text, *, ks: Sequence[int] = RECALL_KS) -> dict:
    """Both directions of a paired corpus: {"t2v": metrics, "v2t": metrics}.

    `sim_text_item` is texts x items; `item_of_text[j]` is the item that caption j describes.
    Text-to-item ("t2v") runs every caption as a query with its one item as the positive;
    item-to-text ("v2t") runs every item as a query over all captions, ranked by the best-ranked of
    its own captions (the COCO/Flickr30k protocol, 5 captions per image). Every item needs at least
    one caption.
    """
    s = _score_matrix(sim_text_item)
    n_texts, n_items = s.shape
    it = _item_of_text(item_of_text, n_texts, n_items)
    counts = np.bincount(it, minlength=n_items)
    if np.any(counts == 0):
        lonely = np.flatnonzero(counts == 0)
        raise ValueError(f"item {int(lonely[0])} has no caption in item_of_text ({lonely.size} items "
                         "without one): item-to-text retrieval needs at least one per item")
    order = np.argsort(it, kind="stable")
    captions_of = np.split(order, np.cumsum(counts)[:-1])
    return {"t2v": retrieval_metrics(s, it, ks=ks),
            "v2t": retrieval_metrics(s.T, captions_of, ks=ks)}


# ==== The image-text protocol (COCO 1K / 5K, Flickr30k 1K) =====================================

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
