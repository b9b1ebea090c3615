"""`avu eval esc10 --model yamnet`: ESC-10's official 5 folds with pretrained YAMNet features and a
small head trained per fold.

Features: YAMNet's 1024-d embedding of every 0.975 s patch of a 5 s clip (hop 0.48 s: 10
patches, the last zero-padded), pooled over the clip. Head: a logistic regression (scikit-learn,
lbfgs, features standardised on the training folds). Every choice is made by validation inside
the four training folds (nested): for each candidate pooling (mean; mean and max concatenated)
and inverse regularisation C (0.1, 1), the accuracy on a held-out training fold (the one after the
test fold; `inner_folds=4` holds out each in turn, a leave-one-fold-out at 4x the fits, which did
not finish in time on the shared machine these figures were measured on); the best (first in grid
order on a tie: simpler pooling, smaller C) is refit on all four training folds and scored once
on the test fold, which never takes part in a choice.
Deterministic: lbfgs has no randomness and the grid order is fixed; `seed` is recorded and passed
to scikit-learn.
"""
from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Sequence

import numpy as np

POOLINGS = ("mean", "mean+max")  # candidate poolings over a clip's patches
CS = (0.1, 1.0)  # candidate inverse regularisation strengths (a small grid: each fit costs seconds of CPU)


def pool(patch_emb: np.ndarray, how: str) -> np.ndarray:
    """One clip vector from its patch embeddings [P, 1024]."""
    if how == "mean":
        return patch_emb.mean(0)
    if how == "max":
        return patch_emb.max(0)
    if how == "mean+max":
        return np.concatenate([patch_emb.mean(0), patch_emb.max(0)])
    raise ValueError(f"pooling must be one of {POOLINGS}, got {how!r}")


def load_patch_embeddings(root: Path, *, models_dir=None, threads: int = 1) -> tuple[list[np.ndarray], np.ndarray,
                                                                                      np.ndarray, list[str]]:
    """(per-clip patch embeddings [10, 1024], targets, folds, labels) for every ESC-10 clip."""
    from avu.data.esc10 import clip_waves
    from avu.perception.files import find_model
    from avu.perception.yamnet import YAMNet

    model = YAMNet(find_model("yamnet.tflite", models_dir), find_model("yamnet_class_map.csv", models_dir),
                   threads=threads)
    labels, waves = clip_waves(root)
    embs, targets, folds = [], [], []
    for w, target, fold in waves:
        _, emb = model.run_wave(w)
        embs.append(emb)
        targets.append(target)
        folds.append(fold)
    return embs, np.array(targets), np.array(folds), labels


def _fit_score(x_tr, y_tr, x_te, y_te, c: float, seed: int) -> float:
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    clf = make_pipeline(StandardScaler(), LogisticRegression(C=c, max_iter=3000, random_state=seed))
    clf.fit(x_tr, y_tr)
    return float((clf.predict(x_te) == y_te).mean())


def choose(feats: dict[str, np.ndarray], y: np.ndarray, folds: np.ndarray, train_folds: Sequence[int],
           seed: int, inner_folds: int = 4) -> tuple[str, float, float]:
    """(pooling, C, inner accuracy) chosen by validation on `train_folds` only: each of the first
    `inner_folds` of them held out in turn (4: leave-one-fold-out), trained on the others."""
    if not 1 <= inner_folds <= len(train_folds):
        raise ValueError(f"inner_folds must be in 1..{len(train_folds)}, got {inner_folds}")
    best = ("", 0.0, -1.0)
    for how in POOLINGS:
        x = feats[how]
        for c in CS:
            accs = []
            for v in list(train_folds)[:inner_folds]:
                tr = np.isin(folds, [f for f in train_folds if f != v])
                va = folds == v
                accs.append(_fit_score(x[tr], y[tr], x[va], y[va], c, seed))
            if np.mean(accs) > best[2]:
                best = (how, c, float(np.mean(accs)))
    return best


def cached_patch_embeddings(root: Path, cache: Path | None, **kwargs):
    """`load_patch_embeddings`, read from / written to `cache` (.npz) when given."""
    if cache is not None and Path(cache).is_file():
        z = np.load(cache, allow_pickle=False)
        return list(z["emb"]), z["y"], z["folds"], [str(v) for v in z["labels"]]
    embs, y, folds, labels = load_patch_embeddings(root, **kwargs)
    if cache is not None:
        np.savez(cache, emb=np.stack(embs), y=y, folds=folds, labels=np.array(labels))
    return embs, y, folds, labels


def run(*, data_dir: str | Path | None = None, folds: Sequence[int] = (1, 2, 3, 4, 5), models_dir=None,
        threads: int = 1, seed: int = 0, cache: str | Path | None = None, inner_folds: int = 1) -> dict[str, Any]:
    """Nested 5-fold evaluation (see the module docstring); the JSON of the command. `cache`: an
    .npz keeping the YAMNet embeddings between runs (features only; every fit is redone).
    `inner_folds`: training folds held out in turn for the choices (1 by default; 4 is a full
    leave-one-fold-out at 4x the fits)."""
    from avu._paths import shared_data

    root = Path(data_dir) if data_dir else Path(shared_data()) / "esc10"
    t0 = time.perf_counter()
    embs, y, fold_of, labels = cached_patch_embeddings(root, Path(cache) if cache else None,
                                                       models_dir=models_dir, threads=threads)
    t1 = time.perf_counter()
    feats = {how: np.stack([pool(e, how) for e in embs]) for how in POOLINGS}
    all_folds = sorted(set(fold_of.tolist()))
    accs, chosen = [], []
    from threadpoolctl import threadpool_limits

    with threadpool_limits(threads):  # small fits: BLAS threads only contend
        for k in folds:
            train = [f for f in all_folds if f > k] + [f for f in all_folds if f < k]  # next fold first
            how, c, inner = choose(feats, y, fold_of, train, seed, inner_folds)
            tr, te = np.isin(fold_of, train), fold_of == k
            acc = _fit_score(feats[how][tr], y[tr], feats[how][te], y[te], c, seed)
            accs.append(round(acc, 4))
            chosen.append({"fold": k, "pooling": how, "C": c, "inner_accuracy": round(inner, 4)})
    return {"model": "yamnet", "features": "YAMNet 1024-d patch embeddings (0.975 s, hop 0.48 s), pooled",
            "head": "logistic regression (standardised)", "grid": {"pooling": list(POOLINGS), "C": list(CS)},
            "folds": accs, "mean_accuracy": round(float(np.mean(accs)), 4), "chosen": chosen,
            "inner_folds": inner_folds,
            "clips": int(len(y)), "labels": labels, "seed": seed, "feature_seconds": round(t1 - t0, 1),
            "seconds": round(time.perf_counter() - t0, 1)}


__all__ = ["CS", "POOLINGS", "cached_patch_embeddings", "choose", "load_patch_embeddings", "pool", "run"]
