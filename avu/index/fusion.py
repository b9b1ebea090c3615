"""How a moment's per-modality similarities become one score in [0, 1] (the search fusion rule).

1. **Calibration.** Each modality compares the query's vector with the moment's by cosine, but
   the cosines live on different scales: a sentence against a line said (speech), against the
   MiniLM average of predicted labels (seen, heard) or against on-screen text (read). Each
   modality's cosine `c` is mapped to `p = sigmoid(a_m * (c - b_m))`, the probability that the
   moment matches the query, fitted per modality by logistic regression (classes balanced) on
   matching and non-matching (query, item) pairs of shared data (`avu.index.calibrate`, which
   also records the pairs, AUCs and the fit; the figures are in `CALIBRATION`). `b_m` is the
   cosine at which a match and a non-match are equally likely; `a_m` how fast the evidence grows.
2. **Fusion** is a weighted noisy-OR of the calibrated evidence:
   `score = 1 - prod_m (1 - p_m) ** w_m` over the requested modalities (`weights`, default 1
   each; 0 leaves a modality out; 2 counts its evidence twice). A moment matches when it matches
   in any modality, and more surely when several agree (a dog seen and a bark heard). A modality
   a moment has nothing in (no speech, no picture) adds no evidence. Speech is one modality
   like the others, and a verbatim occurrence of the query in what is said or shown is one more
   piece of evidence (`PHRASE_P`), so no bonus can take a score past 1.
3. **Weak.** A best hit below `WEAK_BELOW` (measured: see `CALIBRATION["weak"]`) is labelled weak:
   that is what unrelated queries typically reach on an index of the shared clips.
"""
from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Mapping

import numpy as np

TEXT_MODALITIES = ("speech", "seen", "heard", "read")  # MiniLM space: a text query's default modalities
TRAINED_MODALITIES = ("visual", "audio", "fused")  # a trained checkpoint's joint space (when the index has it)
ALL_MODALITIES = TEXT_MODALITIES + TRAINED_MODALITIES
PHRASE = "phrase"  # the verbatim-occurrence evidence (not a modality one can request)

# Fitted by `python -m avu.index.calibrate` (see its docstring for the pairs): a, b, AUC per modality;
# "weak": the weak-hit threshold and how it was measured.
CALIBRATION: dict = json.loads((Path(__file__).resolve().parent / "calibration.json").read_text())
PHRASE_P = 0.5  # a verbatim occurrence counts as much as a cosine at the equal-odds point b
WEAK_BELOW = float(CALIBRATION.get("weak", {}).get("threshold", 0.5))


def calibrate(modality: str, cosine: float | None) -> float | None:
    """The calibrated match probability of one modality's cosine (None stays None)."""
    if cosine is None or not math.isfinite(cosine):
        return None
    fitted = CALIBRATION["modalities"].get(modality)
    if fitted is None:  # a trained checkpoint's space: no shared-data fit; the cosine clipped to [0, 1]
        return min(1.0, max(0.0, float(cosine)))
    a, b = fitted["a"], fitted["b"]
    z = a * (float(cosine) - b)
    return 1.0 / (1.0 + math.exp(-z)) if z > -50 else 0.0


def fuse(evidence: Mapping[str, float | None], weights: Mapping[str, float] | None = None) -> float:
    """Weighted noisy-OR of calibrated evidence {modality: p in [0, 1] or None}: a score in [0, 1]."""
    weights = weights or {}
    log_miss = 0.0
    for m, p in evidence.items():
        if p is None:
            continue
        w = float(weights.get(m, 1.0))
        if not (0.0 <= p <= 1.0) or not math.isfinite(w) or w < 0:
            raise ValueError(f"evidence {m}={p} must be in [0, 1] and its weight {w} >= 0")
        if w == 0.0:
            continue
        if p >= 1.0:
            return 1.0
        log_miss += w * math.log1p(-p)
    return min(1.0, max(0.0, -math.expm1(log_miss)))


def fuse_arrays(cosines: Mapping[str, np.ndarray], weights: Mapping[str, float] | None = None) -> np.ndarray:
    """`fuse` of `calibrate`d cosines for many moments at once ({modality: [n] cosines, NaN: nothing})."""
    weights = weights or {}
    log_miss = None
    for m, c in cosines.items():
        c = np.asarray(c, dtype=np.float64)
        fitted = CALIBRATION["modalities"].get(m)
        if fitted is None:
            p = np.clip(c, 0.0, 1.0)
        else:
            p = 1.0 / (1.0 + np.exp(-np.clip(fitted["a"] * (c - fitted["b"]), -50, 50)))
        term = float(weights.get(m, 1.0)) * np.log1p(-np.minimum(np.nan_to_num(p, nan=0.0), 1.0 - 1e-15))
        log_miss = term if log_miss is None else log_miss + term
    return np.zeros(0) if log_miss is None else np.clip(-np.expm1(log_miss), 0.0, 1.0)


def check_weights(weights: Mapping[str, float] | None, modalities) -> dict:
    """`weights` restricted to known names, each finite and >= 0 (a clear error otherwise)."""
    weights = dict(weights or {})
    unknown = set(weights) - set(ALL_MODALITIES) - {PHRASE}
    if unknown:
        raise ValueError(f"weights for unknown modalities {sorted(unknown)}; choose from {ALL_MODALITIES}")
    for m, w in weights.items():
        if not isinstance(w, (int, float)) or not math.isfinite(w) or w < 0:
            raise ValueError(f"weights[{m!r}] must be a finite number >= 0, got {w!r}")
    if modalities and all(weights.get(m, 1.0) == 0 for m in modalities):
        raise ValueError("every requested modality has weight 0: nothing would be scored")
    return weights


__all__ = ["ALL_MODALITIES", "CALIBRATION", "PHRASE", "PHRASE_P", "TEXT_MODALITIES", "TRAINED_MODALITIES",
           "WEAK_BELOW", "calibrate", "check_weights", "fuse", "fuse_arrays"]
