"""`avu eval esc10 --model mfcc-rf`: the classic ESC-10 baseline as code, on the same folds.

Piczak (2015) introduced ESC-50/ESC-10 with a baseline of per-clip MFCC statistics and a random
forest (72.7% on ESC-10 in the paper). This module re-runs that kind of baseline on this copy of
ESC-10 (16 kHz mono Vorbis), so the anchor the README quotes beside the from-scratch model is a
figure anyone can re-measure:

- features per 5 s clip: 13 MFCCs without the 0th (loudness) coefficient and the zero-crossing
  rate, each as mean and standard deviation over 25 ms frames (10 ms hop), plus the same
  statistics of the MFCC deltas: 2 x (12 + 1) + 2 x 12 = 50 values (librosa);
- a random forest (scikit-learn, `trees` trees, fixed `seed`) trained on four official folds and
  scored on the fifth, for each fold, as `avu eval esc10` does for the neural model.

`run(...) -> dict` returns the per-fold accuracies and their mean; the forest is seeded and
single-threaded by default, so a rerun gives the same figures.
"""
from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Sequence

import numpy as np

SR = 16000
N_MFCC = 13  # MFCCs computed; the 0th (overall level) is dropped
WIN, HOP = 400, 160  # 25 ms windows, 10 ms hop at 16 kHz


def clip_features(wave: np.ndarray, sr: int = SR) -> np.ndarray:
    """The 50 per-clip statistics of one mono waveform (see the module docstring)."""
    import librosa

    wave = np.asarray(wave, dtype=np.float32)
    if wave.ndim != 1 or wave.size < WIN:
        raise ValueError(f"expected a mono waveform of at least {WIN} samples, got shape {wave.shape}")
    mfcc = librosa.feature.mfcc(y=wave, sr=sr, n_mfcc=N_MFCC, n_fft=512, win_length=WIN, hop_length=HOP)[1:]
    zcr = librosa.feature.zero_crossing_rate(wave, frame_length=WIN, hop_length=HOP)
    delta = librosa.feature.delta(mfcc, width=9, mode="nearest")
    frames = np.concatenate([mfcc, zcr])
    return np.concatenate([frames.mean(1), frames.std(1), delta.mean(1), delta.std(1)]).astype(np.float32)


def load_features(root: str | Path) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[str]]:
    """(features [N, 50], targets [N], folds [N], labels) of every ESC-10 clip under `root`."""
    from avu.data.esc10 import clip_waves

    root = Path(root)
    labels, waves = clip_waves(root)
    feats, targets, folds = [], [], []
    for w, target, fold in waves:
        feats.append(clip_features(w))
        targets.append(target)
        folds.append(fold)
    return np.stack(feats), np.array(targets), np.array(folds), labels


def cross_validate(x: np.ndarray, y: np.ndarray, folds: np.ndarray, *, test_folds: Sequence[int] = (1, 2, 3, 4, 5),
                   trees: int = 500, seed: int = 0, jobs: int = 1) -> list[float]:
    """Accuracy of a random forest trained on the other folds, for each of `test_folds`."""
    from sklearn.ensemble import RandomForestClassifier

    accs = []
    for k in test_folds:
        test = folds == k
        if not test.any() or test.all():
            raise ValueError(f"fold {k}: needs clips both in and outside it (folds present: {sorted(set(folds))})")
        rf = RandomForestClassifier(n_estimators=trees, random_state=seed, n_jobs=jobs)
        rf.fit(x[~test], y[~test])
        accs.append(float((rf.predict(x[test]) == y[test]).mean()))
    return accs


def run(*, data_dir: str | Path | None = None, folds: Sequence[int] = (1, 2, 3, 4, 5), trees: int = 500,
        seed: int = 0, jobs: int = 1) -> dict[str, Any]:
    """MFCC statistics + random forest, one model per held-out official fold (the JSON of the command)."""
    from avu._paths import shared_data

    root = Path(data_dir) if data_dir else Path(shared_data()) / "esc10"
    t0 = time.perf_counter()
    x, y, fold_of, _ = load_features(root)
    t1 = time.perf_counter()
    accs = cross_validate(x, y, fold_of, test_folds=folds, trees=trees, seed=seed, jobs=jobs)
    return {"model": "mfcc-rf", "features": int(x.shape[1]), "trees": trees, "seed": seed,
            "folds": [round(a, 4) for a in accs], "mean_accuracy": round(float(np.mean(accs)), 4),
            "clips": int(len(y)), "feature_seconds": round(t1 - t0, 1),
            "seconds": round(time.perf_counter() - t0, 1)}


__all__ = ["clip_features", "cross_validate", "load_features", "run"]
