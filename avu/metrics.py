"""Evaluation metrics, one section per task.

Summarization follows the TVSum / SumMe protocol (Zhang et al. 2016; Otani et al. 2019):

- `knapsack_select`: the exact 0/1 knapsack that turns shot scores into a summary under a length
  budget (dynamic programming over integer weights: frames, or 0.1 s units).
- `summary_from_scores`: frame scores + shot boundaries -> a 0/1 frame summary (each shot's value
  is its mean score, its weight its length; 15% of the frames by default), as the protocol does.
- `overlap_f_score` / `summary_f_score`: precision, recall and F-score over the frames (or
  segments) shared by a machine summary and user summaries; TVSum averages over users, SumMe
  takes the best user.
- `kendall_tau` / `spearman_rho` / `rank_correlation`: rank correlation between predicted importance
  and each annotator's scores, averaged over annotators (Otani et al.'s measure).
- `load_tvsum` / `tvsum_human_leave_one_out`: the official `ydata-tvsum50.mat` (MATLAB v7.3, HDF5)
  and the human baseline of Otani et al. 2019: every annotator against every other annotator.

Retrieval (text-to-video, video-to-text, image-text) lives in `avu._retrieval_metrics` and is
re-exported here: `ranks`, `retrieval_metrics` (R@1/5/10, MdR, MnR), `metrics_from_ranks`,
`bidirectional_retrieval` (both directions of a captioned corpus) and `evaluate_image_text` (the
COCO 1K / 5K and Flickr30k 1K protocol, folds from `coco_protocol_folds`). Ties are pessimistic: an
item scored the same as a true item counts as ranked above it.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Sequence

import numpy as np
from scipy import stats

from avu import _retrieval_metrics as _retrieval

# ==== Summarization ================================================================================

# Otani et al., "Rethinking the Evaluation of Video Summaries", CVPR 2019, Table 2 (TVSum, human).
OTANI2019_TVSUM_HUMAN = {"kendall_tau": 0.177, "spearman_rho": 0.204}
_TABLE_MAX_LEVELS = 256  # Kendall's tau through a contingency table when both inputs have fewer levels


def knapsack_select(values: Sequence[float], weights: Sequence[int], capacity: int) -> list[int]:
    """Indices (ascending) of the items maximising the total value with total weight <= capacity.

    Exact dynamic programming over integer weights: O(items x capacity) time, and one bit per
    (item, capacity) cell to recover the choice. Items with a value <= 0 are never taken; ties
    keep the lighter choice.
    """
    v = np.asarray(values, dtype=np.float64).ravel()
    w = np.asarray(weights).ravel()
    if v.shape != w.shape:
        raise ValueError(f"values and weights differ in length: {v.size} vs {w.size}")
    if w.size and (np.any(w < 0) or not np.all(np.equal(np.mod(w, 1), 0))):
        raise ValueError("weights must be non-negative integers")
    if not np.all(np.isfinite(v)):
        raise ValueError("values must be finite")
    cap = int(capacity)
    if cap < 0:
        raise ValueError(f"capacity must be >= 0, got {capacity}")
    w = w.astype(np.int64)
    best = np.zeros(cap + 1)  # best[c]: the best value with total weight <= c
    take = np.zeros((v.size, cap + 1), dtype=bool)
    for i in range(v.size):
        wi, vi = int(w[i]), float(v[i])
        if vi <= 0 or wi > cap:
            continue
        cand = best[: cap + 1 - wi] + vi
        better = cand > best[wi:]
        take[i, wi:] = better
        best[wi:] = np.where(better, cand, best[wi:])
    chosen, c = [], cap
    for i in range(v.size - 1, -1, -1):
        if take[i, c]:
            chosen.append(i)
            c -= int(w[i])
    return sorted(chosen)


def summary_from_scores(scores: Sequence[float], boundaries: Sequence[int], *,
                        budget: float = 0.15) -> np.ndarray:
    """A 0/1 frame summary: shots (split at `boundaries`, frame indices where a shot starts) valued
    by their mean frame score, weighted by their frame count, chosen by the exact knapsack under
    `budget` x the number of frames (the TVSum/SumMe protocol)."""
    s = np.asarray(scores, dtype=np.float64).ravel()
    cuts = sorted({int(b) for b in boundaries if 0 < int(b) < s.size})
    edges = [0, *cuts, s.size]
    spans = [(a, b) for a, b in zip(edges[:-1], edges[1:]) if b > a]
    chosen = knapsack_select([s[a:b].mean() for a, b in spans], [b - a for a, b in spans],
                             int(np.floor(budget * s.size)))
    out = np.zeros(s.size, dtype=np.int8)
    for i in chosen:
        out[spans[i][0]:spans[i][1]] = 1
    return out


def overlap_f_score(machine: Sequence[int], reference: Sequence[int]) -> tuple[float, float, float]:
    """(precision, recall, F) of a 0/1 machine summary against one 0/1 reference, frame by frame
    (or segment by segment); all 0 when either summary is empty or they share nothing."""
    m = np.asarray(machine).ravel() > 0
    r = np.asarray(reference).ravel() > 0
    if m.shape != r.shape:
        raise ValueError(f"summaries differ in length: {m.size} vs {r.size}")
    overlap = float(np.sum(m & r))
    if overlap == 0:
        return 0.0, 0.0, 0.0
    p, rec = overlap / float(m.sum()), overlap / float(r.sum())
    return p, rec, 2 * p * rec / (p + rec)


def summary_f_score(machine: Sequence[int], user_summaries: Sequence[Sequence[int]], *,
                    aggregate: str = "avg") -> float:
    """F-score of a machine summary against user summaries [U, N]: the mean over users ("avg",
    TVSum) or the best user ("max", SumMe)."""
    users = np.atleast_2d(np.asarray(user_summaries))
    if users.shape[0] == 0:
        raise ValueError("no user summaries")
    f = [overlap_f_score(machine, u)[2] for u in users]
    if aggregate == "avg":
        return float(np.mean(f))
    if aggregate == "max":
        return float(np.max(f))
    raise ValueError(f"aggregate must be 'avg' (TVSum) or 'max' (SumMe), got {aggregate!r}")


def _levels(x: np.ndarray) -> tuple[np.ndarray, int]:
    uniq, inv = np.unique(x, return_inverse=True)
    return inv.ravel(), uniq.size


def _tau_b_table(xi: np.ndarray, nx: int, yi: np.ndarray, ny: int) -> float:
    """Kendall's tau-b from the contingency table of two discrete rankings (exact, O(n + levels^2))."""
    t = np.bincount(xi * ny + yi, minlength=nx * ny).reshape(nx, ny).astype(np.float64)
    # at_least[i, j] = pairs' partners with x-level >= i and y-level >= j; then shift by one level
    at_least = t[::-1, ::-1].cumsum(0).cumsum(1)[::-1, ::-1]
    above = np.zeros_like(t)
    above[:-1, :-1] = at_least[1:, 1:]  # strictly greater in both: concordant
    # strictly greater in x and strictly smaller in y: discordant
    x_gt = t[::-1].cumsum(0)[::-1]  # rows >= i
    below = np.zeros_like(t)
    below[:-1, 1:] = x_gt[1:].cumsum(1)[:, :-1]
    conc, disc = float((t * above).sum()), float((t * below).sum())
    n = float(t.sum())
    n0 = n * (n - 1) / 2
    rx, ry = t.sum(1), t.sum(0)
    n1, n2 = float((rx * (rx - 1) / 2).sum()), float((ry * (ry - 1) / 2).sum())
    denom = np.sqrt((n0 - n1) * (n0 - n2))
    return float("nan") if denom == 0 else (conc - disc) / float(denom)


def kendall_tau(x: Sequence[float], y: Sequence[float]) -> float:
    """Kendall's tau-b (as `scipy.stats.kendalltau`); exact and much faster through a contingency
    table when both inputs take few distinct values (annotator scores 1-5, knapsack labels)."""
    a, b = np.asarray(x, dtype=np.float64).ravel(), np.asarray(y, dtype=np.float64).ravel()
    if a.shape != b.shape:
        raise ValueError(f"inputs differ in length: {a.size} vs {b.size}")
    (ai, na), (bi, nb) = _levels(a), _levels(b)
    if na <= _TABLE_MAX_LEVELS and nb <= _TABLE_MAX_LEVELS:
        return _tau_b_table(ai, na, bi, nb)
    return float(stats.kendalltau(a, b).statistic)


def spearman_rho(x: Sequence[float], y: Sequence[float]) -> float:
    """Spearman's rank correlation (ties get their mean rank)."""
    a, b = np.asarray(x, dtype=np.float64).ravel(), np.asarray(y, dtype=np.float64).ravel()
    if a.shape != b.shape:
        raise ValueError(f"inputs differ in length: {a.size} vs {b.size}")
    return float(stats.spearmanr(a, b).statistic)


def to_frames(values: Sequence[float], n_frames: int) -> np.ndarray:
    """Spread per-segment values over `n_frames` frames (piecewise constant, equal-length segments)."""
    v = np.asarray(values, dtype=np.float64).ravel()
    if v.size == 0 or n_frames <= 0:
        raise ValueError("need at least one value and one frame")
    return v[np.minimum((np.arange(n_frames) * v.size) // n_frames, v.size - 1)]


def rank_correlation(predicted: Sequence[float], user_scores: Sequence[Sequence[float]]) -> dict:
    """Kendall tau and Spearman rho of `predicted` importance against each annotator's scores
    [U, N] (same length: see `to_frames`), averaged over annotators."""
    users = np.atleast_2d(np.asarray(user_scores, dtype=np.float64))
    pred = np.asarray(predicted, dtype=np.float64).ravel()
    if users.shape[1] != pred.size:
        raise ValueError(f"predicted has {pred.size} values but the annotations have {users.shape[1]}")
    return {"kendall_tau": float(np.mean([kendall_tau(pred, u) for u in users])),
            "spearman_rho": float(np.mean([spearman_rho(pred, u) for u in users]))}


@dataclass(frozen=True)
class TVSumVideo:
    """One video of the official TVSum annotations."""

    video: str  # YouTube id, e.g. "AwmHb44_ouw"
    category: str  # two-letter category code, e.g. "VT"
    title: str
    length: float  # seconds
    nframes: int
    user_anno: np.ndarray  # [20, nframes] importance 1-5 per annotator (per 2 s, repeated per frame)
    gt_score: np.ndarray  # [nframes] mean of the annotators' scores


def load_tvsum(mat_path: str | os.PathLike) -> list[TVSumVideo]:
    """Read `ydata-tvsum50.mat` (MATLAB v7.3 = HDF5): group `tvsum50`, each field a [50, 1] array
    of object references to the per-video values (strings stored as uint16 code points)."""
    import h5py

    def text(ref) -> str:
        return "".join(chr(int(c)) for c in np.asarray(f[ref]).ravel())

    def number(ref) -> float:
        return float(np.asarray(f[ref]).ravel()[0])

    out = []
    with h5py.File(mat_path, "r") as f:
        if "tvsum50" not in f:
            raise ValueError(f"{mat_path}: not the TVSum annotation file (no 'tvsum50' group)")
        g = f["tvsum50"]
        for i in range(g["video"].shape[0]):
            anno = np.asarray(f[g["user_anno"][i, 0]], dtype=np.float64)
            n = int(number(g["nframes"][i, 0]))
            if anno.shape[1] != n:  # MATLAB stores [nframes, users]; h5py reads it transposed
                anno = anno.T
            out.append(TVSumVideo(video=text(g["video"][i, 0]), category=text(g["category"][i, 0]),
                                  title=text(g["title"][i, 0]), length=number(g["length"][i, 0]),
                                  nframes=n, user_anno=anno,
                                  gt_score=np.asarray(f[g["gt_score"][i, 0]], dtype=np.float64).ravel()))
    return out


def tvsum_human_leave_one_out(mat_path: str | os.PathLike) -> dict:
    """Otani et al. 2019's human baseline on TVSum: each annotator's frame scores are the
    "prediction", correlated with each of the other annotators (Kendall's tau-b and Spearman's rho
    over all frames); the mean over those pairs is the video's figure and the mean over the 50
    videos is reported. This is the procedure of the authors' notebook (rethinking-evs, "rank
    order statistics"), which prints .177 and .204.
    """
    videos = load_tvsum(mat_path)
    per_video = []
    for v in videos:
        u = v.user_anno
        k = u.shape[0]
        levels = [_levels(row) for row in u]
        tau = np.eye(k)
        for i in range(k):
            for j in range(i + 1, k):
                tau[i, j] = tau[j, i] = _tau_b_table(*levels[i], *levels[j])
        ranks = stats.rankdata(u, axis=1)  # Spearman's rho = Pearson's r of the (mean) ranks
        ranks -= ranks.mean(axis=1, keepdims=True)
        norm = np.linalg.norm(ranks, axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            # einsum, not BLAS: on the shared 2-core machine OpenBLAS took 0.3-0.5 s for this 20 x 10k
            # product (thread contention), einsum 1 ms
            rho = np.einsum("ik,jk->ij", ranks, ranks) / np.outer(norm, norm)
        off = ~np.eye(k, dtype=bool)
        per_video.append({"video": v.video, "category": v.category, "annotators": k,
                          "kendall_tau": float(tau[off].mean()), "spearman_rho": float(rho[off].mean())})
    return {
        "kendall_tau": float(np.mean([p["kendall_tau"] for p in per_video])),
        "spearman_rho": float(np.mean([p["spearman_rho"] for p in per_video])),
        "paper": dict(OTANI2019_TVSUM_HUMAN),
        "videos": len(per_video),
        "annotators": int(np.median([p["annotators"] for p in per_video])) if per_video else 0,
        "procedure": "each annotator vs each other annotator, frame level, mean over pairs, then over videos",
        "per_video": per_video,
    }


# ==== Retrieval (defined in avu._retrieval_metrics, re-exported here) ==============================

RECALL_KS = _retrieval.RECALL_KS
ranks = _retrieval.ranks
retrieval_metrics = _retrieval.retrieval_metrics
metrics_from_ranks = _retrieval.metrics_from_ranks
bidirectional_retrieval = _retrieval.bidirectional_retrieval
PROTOCOLS = _retrieval.PROTOCOLS
STANDARD_TEST_IMAGES = _retrieval.STANDARD_TEST_IMAGES
ProtocolFolds = _retrieval.ProtocolFolds
coco_protocol_folds = _retrieval.coco_protocol_folds
evaluate_image_text = _retrieval.evaluate_image_text
