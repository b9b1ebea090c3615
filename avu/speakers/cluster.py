"""Grouping voice embeddings into speakers without being told how many there are.

`cluster_windows` (rows in time order, unit voice embeddings of overlapping windows):

1. **Windows at a speaker change are set aside.** A window whose two neighbours (the windows just
   before and after it that overlap it but not each other) are less than `change_similarity` alike
   straddles a change of voice or an overlap; such mixed windows would otherwise found clusters of
   their own between two voices. They take the nearest speaker at the end.
2. **Over-clustering.** Average-linkage clustering on cosine distance (SciPy), cut at `threshold`.
   A cluster too small to be a voice (fewer than `min_windows` windows or, with `support`, covering
   under `min_seconds` of audio: a cough, a laugh) joins the nearest larger one.
3. **Merging by corrected similarity.** Two clusters i, j are compared by the mean cosine between
   their windows divided by the geometric mean of each cluster's own mean pairwise cosine:
   `C_ij = mean cos(i, j) / sqrt(W_i W_j)`, where `W` is shrunk toward `within_prior` by
   `prior_weight` pairs. How alike two groups of windows are is judged against how alike each
   group's windows are among themselves, so a short, noisy cluster of one reader's lines is not
   held to the bar of a long clean one (two short clusters of one voice can be as little alike by
   centroid as two voices). The closest pair merges while `C >= merge_similarity`. With unit rows
   every such mean comes from the clusters' embedding sums, so no n x n matrix is kept.
4. A few rounds of nearest-centroid reassignment tidy the borders a greedy merge order leaves,
   then step 3 runs again.

Every setting was tuned on the development conversations of `avu.eval.diarization` (120 of them,
seeds 1000-1119), never on the ones it reports; `DiarizeConfig` holds the chosen values.
"""
from __future__ import annotations

import numpy as np

__all__ = ["centroids", "change_windows", "cluster_windows", "covered_seconds"]

_REFINE_ROUNDS = 3


def centroids(emb: np.ndarray, labels: np.ndarray, k: int) -> np.ndarray:
    """Unit mean embedding per label 0..k-1, [k, d]."""
    c = np.stack([emb[labels == j].mean(0) for j in range(k)])
    return c / np.linalg.norm(c, axis=1, keepdims=True).clip(1e-9)


def _renumber(labels: np.ndarray) -> tuple[np.ndarray, int]:
    uniq, inv = np.unique(labels, return_inverse=True)
    return inv.astype(np.int64), len(uniq)


def covered_seconds(support: list[tuple[int, int]], labels: np.ndarray, k: int, *,
                    frame_s: float = 0.01) -> np.ndarray:
    """Seconds of audio the windows of each label 0..k-1 cover together ([a, b) frame spans)."""
    if len(support) != len(labels):
        raise ValueError(f"{len(support)} window spans for {len(labels)} labels")
    out = np.zeros(k)
    for j in range(k):
        spans = sorted(support[i] for i in np.flatnonzero(labels == j))
        end = None
        for a, b in spans:  # union length of sorted spans
            if end is None or a >= end:
                out[j] += b - a
                end = b
            elif b > end:
                out[j] += b - end
                end = b
    return out * frame_s


def change_windows(emb: np.ndarray, support: list[tuple[int, int]], similarity: float) -> np.ndarray:
    """Indices of the windows whose two neighbours (overlapping it, not each other) are less than
    `similarity` cosine-alike: windows that straddle a change of voice."""
    out = []
    for i in range(1, len(emb) - 1):
        a, b = support[i]
        left, right = support[i - 1], support[i + 1]
        if left[1] > a and right[0] < b and left[1] <= right[0] + 1 and float(emb[i - 1] @ emb[i + 1]) < similarity:
            out.append(i)
    return np.array(out, dtype=np.int64)


def _corrected(emb: np.ndarray, labels: np.ndarray, k: int, prior: float, weight: float) -> np.ndarray:
    """[k, k] corrected similarities (step 3 of the module docstring; -inf on the diagonal)."""
    sums = np.stack([emb[labels == j].sum(0) for j in range(k)])
    n = np.bincount(labels, minlength=k).astype(np.float64)
    dots = sums @ sums.T
    den = n * (n - 1) / 2 + weight  # window pairs, plus the prior's weight
    within = np.where(den > 0, ((np.diag(dots) - n) / 2 + weight * prior) / np.maximum(den, 1e-12), 1.0).clip(1e-3)
    c = dots / np.outer(n, n) / np.sqrt(np.outer(within, within))
    np.fill_diagonal(c, -np.inf)
    return c


def _merge(emb: np.ndarray, labels: np.ndarray, k: int, similarity: float, prior: float,
           weight: float) -> tuple[np.ndarray, int]:
    """Merge the most alike pair of clusters while their corrected similarity reaches `similarity`."""
    while k > 1:
        c = _corrected(emb, labels, k, prior, weight)
        i, j = np.unravel_index(int(c.argmax()), c.shape)
        if c[i, j] < similarity:
            break
        labels, k = _renumber(np.where(labels == j, i, labels))
    return labels, k


def _cluster(emb, support, *, threshold, min_windows, min_seconds, frame_s, merge, prior, weight) -> np.ndarray:
    from scipy.cluster.hierarchy import fcluster, linkage

    if len(emb) < 2:
        return np.zeros(len(emb), dtype=np.int64)
    labels, k = _renumber(fcluster(linkage(emb, method="average", metric="cosine"), t=threshold,
                                   criterion="distance"))
    sizes = np.bincount(labels, minlength=k).astype(np.float64)
    ok = sizes >= min_windows
    if support is not None and min_seconds > 0:
        sizes = covered_seconds(support, labels, k, frame_s=frame_s)
        ok &= sizes >= min_seconds
    big = np.flatnonzero(ok)
    if len(big) == 0:
        big = np.array([int(sizes.argmax())])
    if len(big) < k:  # fold small clusters into the nearest big one (by centroid)
        c = centroids(emb, labels, k)
        labels, k = _renumber(big[(c @ c[big].T).argmax(1)][labels])
    labels, k = _merge(emb, labels, k, merge, prior, weight)
    for _ in range(_REFINE_ROUNDS):
        if k == 1:
            break
        new, k2 = _renumber((emb @ centroids(emb, labels, k).T).argmax(1))
        if k2 == k and np.array_equal(new, labels):
            break
        labels, k = new, k2
    return _merge(emb, labels, k, merge, prior, weight)[0]  # refinement can make clusters close


def cluster_windows(emb: np.ndarray, *, threshold: float, min_windows: int = 1, merge_similarity: float = 0.82,
                    support: list[tuple[int, int]] | None = None, min_seconds: float = 0.0,
                    frame_s: float = 0.01, within_prior: float = 0.7, prior_weight: float = 1.0,
                    change_similarity: float = 0.0) -> np.ndarray:
    """Speaker label 0..k-1 for each embedding row (rows in time order); k is estimated.

    `threshold`: the cosine distance (average linkage) at which over-clustering stops.
    `min_windows` / `min_seconds`: smaller clusters (windows; seconds covered, needs `support`, the
    [a, b) frame span of each window) fold into their nearest larger one. `merge_similarity`:
    clusters merge while their corrected similarity is at least this (`np.inf`: never).
    `within_prior`, `prior_weight`: the shrinkage of a cluster's own similarity. `change_similarity`:
    windows whose neighbours are less alike are set aside (0: none; needs `support`).
    """
    emb = np.asarray(emb, dtype=np.float64)
    if emb.ndim != 2:
        raise ValueError(f"embeddings must be [n, d], got shape {emb.shape}")
    if support is not None and len(support) != len(emb):
        raise ValueError(f"{len(support)} window spans for {len(emb)} embeddings")
    emb = emb / np.linalg.norm(emb, axis=1, keepdims=True).clip(1e-9)
    opts = dict(threshold=threshold, min_windows=min_windows, min_seconds=min_seconds, frame_s=frame_s,
                merge=merge_similarity, prior=within_prior, weight=prior_weight)
    aside = change_windows(emb, support, change_similarity) if support is not None and change_similarity > 0 \
        else np.zeros(0, dtype=np.int64)
    keep = np.setdiff1d(np.arange(len(emb)), aside)
    if len(aside) == 0 or len(keep) < 2:
        return _cluster(emb, support, **opts)
    labels = _cluster(emb[keep], [support[i] for i in keep], **opts)
    out = (emb @ centroids(emb[keep], labels, int(labels.max()) + 1).T).argmax(1)
    out[keep] = labels
    return _renumber(out)[0]
