"""Grouping voice embeddings into speakers without being told how many there are.

`cluster_windows` runs agglomerative clustering with average linkage on cosine distance (SciPy)
and cuts the tree at a distance threshold, so the number of speakers follows from how far apart
the voices are. A cluster too small to be a voice (fewer than `min_windows` windows, or, when the
windows' `support` is given, covering less than `min_seconds` of audio: a cough, a laugh, a window
straddling two voices) joins the nearest larger cluster. Measuring in seconds rather than windows
lets a voice that says one 1.3 s sentence found its own cluster from the few short windows over it.
Clusters whose centroids are nearly alike are merged, and a few rounds of nearest-centroid
reassignment tidy the borders that a greedy merge order leaves. The threshold is tuned on the development
conversations of `avu.eval.diarization`, never on the ones it reports.
"""
from __future__ import annotations

import numpy as np

__all__ = ["centroids", "cluster_windows", "covered_seconds"]

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


def _merge_close(emb: np.ndarray, labels: np.ndarray, k: int, similarity: float) -> tuple[np.ndarray, int]:
    """Merge the closest pair of clusters while their centroids are at least `similarity` alike."""
    while k > 1 and similarity < 1.0:
        c = centroids(emb, labels, k)
        sim = c @ c.T - 2 * np.eye(k)
        i, j = np.unravel_index(int(sim.argmax()), sim.shape)
        if sim[i, j] < similarity:
            break
        labels, k = _renumber(np.where(labels == j, i, labels))
    return labels, k


def cluster_windows(emb: np.ndarray, *, threshold: float, min_windows: int = 2,
                    merge_similarity: float = 1.0, support: list[tuple[int, int]] | None = None,
                    min_seconds: float = 0.0, frame_s: float = 0.01) -> np.ndarray:
    """Speaker label 0..k-1 for each unit embedding row; k is estimated.

    `threshold`: the cosine distance (1 - cosine similarity, average linkage) at which clusters stop
    merging. `min_windows`: smaller clusters are folded into their nearest larger one.
    `merge_similarity`: clusters whose centroids are at least this cosine-similar are merged
    (centroids average the noise of single windows away; 1.0 = never).
    """
    from scipy.cluster.hierarchy import fcluster, linkage

    emb = np.asarray(emb, dtype=np.float64)
    if emb.ndim != 2:
        raise ValueError(f"embeddings must be [n, d], got shape {emb.shape}")
    n = len(emb)
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    if n == 1:
        return np.zeros(1, dtype=np.int64)
    tree = linkage(emb, method="average", metric="cosine")
    labels, k = _renumber(fcluster(tree, t=threshold, criterion="distance"))
    sizes = np.bincount(labels, minlength=k)
    ok = sizes >= min_windows
    if support is not None and min_seconds > 0:
        secs = covered_seconds(support, labels, k, frame_s=frame_s)
        ok &= secs >= min_seconds
        sizes = secs
    big = np.flatnonzero(ok)
    if len(big) == 0:
        big = np.array([int(sizes.argmax())])
    if len(big) < k:  # fold small clusters into the nearest big one (by centroid)
        c = centroids(emb, labels, k)
        nearest = big[(c @ c[big].T).argmax(1)]
        labels = nearest[labels]
        labels, k = _renumber(labels)
    labels, k = _merge_close(emb, labels, k, merge_similarity)
    for _ in range(_REFINE_ROUNDS):
        if k == 1:
            break
        new = (emb @ centroids(emb, labels, k).T).argmax(1)
        new, k2 = _renumber(new)
        if k2 == k and np.array_equal(new, labels):
            break
        labels, k = new, k2
    return _merge_close(emb, labels, k, merge_similarity)[0]  # refinement can make centroids close
