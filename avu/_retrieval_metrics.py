"""Retrieval metrics as the papers report them: Recall@K, median and mean rank, in either direction.

Kept apart from `avu.metrics` (which re-exports everything here) so that the summarization section
and this one each stay readable; import them from `avu.metrics`.

- `ranks(sim, gt)`: the 1-based rank of each query's best-ranked true item.
- `retrieval_metrics(sim, gt)`: R@1/5/10 (percent), MdR (median rank), MnR (mean rank).
- `bidirectional_retrieval(sim_text_item, item_of_text)`: text-to-item and item-to-item-text for a
  paired corpus where each caption belongs to one item and an item may have several captions
  (COCO and Flickr30k: 5 captions per image; MSR-VTT: 20 per video; LSMDC: 1 per clip).

Tie rule (pessimistic): an item scored exactly the same as a true item counts as ranked above it,
so the rank of the best true item is 1 + the number of *other* (not true) items scored at least as
high as it. Constant scores therefore give the worst rank, never a flattering one; with continuous
embedding scores ties do not happen and the rule agrees with every paper's code. MdR is the median
of the 1-based ranks (`np.median`, so an even count can give x.5), as in CLIP4Clip, Frozen in Time
and Collaborative Experts; VSE++ floors it instead.
"""
from __future__ import annotations

from typing import Iterable, Sequence

import numpy as np

RECALL_KS = (1, 5, 10)
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
