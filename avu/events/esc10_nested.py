"""Nested cross-validation for ESC-10: every recipe choice made on validation folds, never on the test fold.

The shipped recipe (`configs/esc10.yaml`) was tuned while watching the 5-fold cross-validation's
test folds, so its figure is optimistic. `nested_cross_validate` gives the honest one: for each
official test fold k, every candidate recipe (the shipped one plus `CHOICES`, the alternatives
that were tried: stem depth, training length, weight averaging, test-time shifts, mixing) is
trained on the training folds minus one validation fold and scored on that validation fold (for
each of `inner` validation folds, taken in turn from the four training folds); the candidate with
the best mean validation accuracy is then retrained on all four training folds and scored once
on fold k. The outer accuracies are what the procedure (choice included) achieves on unseen folds.

It costs `5 x (inner x len(candidates) + 1)` trainings; `inner=1` (the validation fold is the
training fold after k) is the cheap form. Ties go to the earlier candidate, the shipped recipe first.
"""
from __future__ import annotations

import time
from typing import Any, Mapping, Sequence

import numpy as np

from avu.data.esc10 import Esc10Data, load_esc10
from avu.events.esc10 import Esc10Config, data_dir, train

# the alternatives to the shipped recipe that were tried while tuning it (README: ESC-10 notes)
CHOICES: dict[str, dict[str, Any]] = {
    "shipped": {},
    "stem1": {"stem_stages": 1},
    "epochs40": {"epochs": 40},
    "epochs80": {"epochs": 80},
    "ema": {"ema_decay": 0.999},
    "shifts4": {"eval_shifts": 4},
    "no_mixup": {"mixup_alpha": 0.0},
}


def validation_folds(train_folds: Sequence[int], test_fold: int, inner: int) -> list[int]:
    """`inner` validation folds from `train_folds`, starting with the fold after `test_fold` (cyclically)."""
    order = sorted(train_folds)
    if not 1 <= inner <= len(order) - 1:
        raise ValueError(f"inner must be between 1 and {len(order) - 1} (one training fold must stay), got {inner}")
    after = [f for f in order if f > test_fold] + [f for f in order if f < test_fold]
    return after[:inner]


def nested_cross_validate(base: Esc10Config, candidates: Mapping[str, Mapping[str, Any]] | None = None, *,
                          data: Esc10Data | None = None, folds: Sequence[int] = (1, 2, 3, 4, 5), inner: int = 1,
                          log: bool = False) -> dict[str, Any]:
    """Choose a recipe on validation folds inside each outer training set, then test it once (see above)."""
    cands = dict(CHOICES if candidates is None else candidates)
    if not cands:
        raise ValueError("no candidate recipes given")
    configs = {name: Esc10Config(**{**base.to_dict(), **dict(over)}) for name, over in cands.items()}
    t0 = time.time()
    data = data or load_esc10(data_dir(base), n_mels=base.n_mels)
    all_folds = sorted(set(data.folds.tolist()))
    outer = []
    for k in folds:
        if k not in all_folds:
            raise ValueError(f"test fold {k} not in the data's folds {all_folds}")
        train_folds = [f for f in all_folds if f != k]
        vals = validation_folds(train_folds, k, inner)
        scores: dict[str, list[float]] = {}
        for name, cfg in configs.items():
            for v in vals:
                _, info = train(cfg, data, [f for f in train_folds if f != v], eval_fold=v)
                scores.setdefault(name, []).append(round(info["accuracy"], 4))
            if log:
                print(f"test fold {k}: {name} validation {scores[name]}", flush=True)
        mean_val = {n: round(float(np.mean(s)), 4) for n, s in scores.items()}
        chosen = max(mean_val, key=lambda n: (mean_val[n], -list(configs).index(n)))
        _, info = train(configs[chosen], data, train_folds, eval_fold=k)
        outer.append({"test_fold": k, "validation_folds": vals, "validation": mean_val, "chosen": chosen,
                      "test_accuracy": round(info["accuracy"], 4)})
        if log:
            print(f"test fold {k}: chose {chosen}, test accuracy {info['accuracy']:.4f}", flush=True)
    accs = [o["test_accuracy"] for o in outer]
    return {"protocol": "nested", "inner": inner, "candidates": {n: dict(o) for n, o in cands.items()},
            "folds": accs, "mean_accuracy": round(float(np.mean(accs)), 4), "outer": outer,
            "trainings": len(folds) * (inner * len(cands) + 1), "seconds": round(time.time() - t0, 1)}


__all__ = ["CHOICES", "nested_cross_validate", "validation_folds"]
