"""The ESC-10 protocol behind the README's figures: reruns give the same model, recipe choices are
made on validation folds inside the training folds (nested), and the MFCC + random forest
baseline is code that scores the official folds.

Training runs use random log-mels with ESC-10's layout and a small encoder (seconds); the MFCC
baseline's real run on the shared clips is marked `shared` and `slow`.
"""
from __future__ import annotations

import numpy as np
import pytest
import torch

from avu.eval import esc10_mfcc as M
from avu.events import esc10_nested as N
from avu.events.esc10 import Esc10Config, Esc10Data, cross_validate, seed_spread, train

SMALL = dict(stem_channels=4, stem_stages=1, width=8, stage_mults=(1, 2), embed_dim=16, epochs=2, batch_size=4,
             crop_seconds=0.5, threads=1)


def tiny_data(n_per_fold: int = 4, frames: int = 101) -> Esc10Data:
    """Random log-mels with ESC-10's layout (5 folds, 10 labels)."""
    g = torch.Generator().manual_seed(0)
    n = 5 * n_per_fold
    return Esc10Data(torch.randn(n, 64, frames, generator=g), torch.arange(n) % 10, torch.arange(n) // n_per_fold + 1,
                     [f"c{i}" for i in range(10)], [f"{i}.ogg" for i in range(n)])


def test_a_rerun_gives_the_same_model_and_figures():
    data, cfg = tiny_data(), Esc10Config(**SMALL)
    (m1, i1), (m2, i2) = (train(cfg, data, [1, 2, 3, 4], eval_fold=5) for _ in range(2))
    assert i1["loss_history"] == i2["loss_history"] and i1["accuracy"] == i2["accuracy"]
    assert all(torch.equal(a, b) for a, b in zip(m1.state_dict().values(), m2.state_dict().values()))
    _, i3 = train(Esc10Config(**{**SMALL, "seed": 1}), data, [1, 2, 3, 4], eval_fold=5)
    assert i3["loss_history"] != i1["loss_history"]  # the seed is what changes a run
    assert not torch.are_deterministic_algorithms_enabled()  # restored after training


def test_seed_spread_reports_each_seed():
    r = seed_spread(Esc10Config(**{**SMALL, "epochs": 1}), seeds=(0, 1), data=tiny_data(), folds=(5,))
    assert [x["seed"] for x in r["runs"]] == [0, 1] and r["spread"] == round(r["max"] - r["min"], 4)
    again = cross_validate(Esc10Config(**{**SMALL, "epochs": 1, "seed": 1}), data=tiny_data(), folds=(5,))
    assert again["folds"] == r["runs"][1]["folds"]


def test_validation_folds_never_include_the_test_fold():
    assert N.validation_folds([1, 2, 3, 4], 5, 1) == [1]
    assert N.validation_folds([1, 2, 4, 5], 3, 2) == [4, 5]
    assert N.validation_folds([2, 3, 4, 5], 1, 3) == [2, 3, 4]
    with pytest.raises(ValueError, match="inner"):
        N.validation_folds([1, 2, 3, 4], 5, 4)


def test_nested_choice_is_made_without_the_test_fold(monkeypatch):
    """Every training call of a candidate excludes the outer test fold and is scored on a validation
    fold; only the chosen recipe is scored on the test fold, and the choice follows validation."""
    calls = []
    val_acc = {"a": 0.5, "b": 0.7}

    def fake_train(cfg, data, folds, *, eval_fold=None, log=False):
        name = "a" if cfg.epochs == 1 else "b"
        calls.append((name, tuple(folds), eval_fold))
        return None, {"accuracy": val_acc[name] if len(folds) < 4 else 0.6}

    monkeypatch.setattr(N, "train", fake_train)
    r = N.nested_cross_validate(Esc10Config(**SMALL), {"a": {"epochs": 1}, "b": {"epochs": 3}}, data=tiny_data(),
                                inner=2)
    assert [o["chosen"] for o in r["outer"]] == ["b"] * 5 and r["folds"] == [0.6] * 5
    assert r["trainings"] == len(calls) == 5 * (2 * 2 + 1)
    for i, o in enumerate(r["outer"]):
        k, mine = o["test_fold"], calls[5 * i: 5 * i + 5]
        for name, folds, scored_on in mine[:4]:  # candidates: trained without k, scored on a validation fold
            assert k not in folds and scored_on in o["validation_folds"] and scored_on not in folds
        assert mine[4] == ("b", tuple(f for f in range(1, 6) if f != k), k)  # then the chosen one, on k


def test_nested_on_real_training_runs():
    r = N.nested_cross_validate(Esc10Config(**{**SMALL, "epochs": 1}), {"shipped": {}, "stem0": {"stem_channels": 0}},
                                data=tiny_data(), folds=(5,), inner=1)
    (o,) = r["outer"]
    assert o["validation_folds"] == [1] and set(o["validation"]) == {"shipped", "stem0"}
    assert o["chosen"] == max(o["validation"], key=lambda n: (o["validation"][n], n == "shipped"))
    assert 0.0 <= r["mean_accuracy"] <= 1.0


def test_eval_esc10_scratch_nested_runs_the_nested_protocol_on_the_recipe(monkeypatch, tmp_path):
    """`avu eval esc10 --model scratch-nested --config Y --folds 5`: the recipe at Y is the nested
    protocol's shipped candidate (beside the tried alternatives), on the folds asked for."""
    import json

    from typer.testing import CliRunner

    from avu.cli import eval as eval_commands

    seen = {}

    def fake_nested(base, candidates=None, *, folds, log):
        seen.update(base=base, candidates=candidates, folds=folds)
        return {"protocol": "nested", "folds": [0.5], "mean_accuracy": 0.5}

    monkeypatch.setattr(N, "nested_cross_validate", fake_nested)
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text("epochs: 7\nwidth: 8\n")
    r = CliRunner().invoke(eval_commands.app, ["esc10", "--model", "scratch-nested", "--config", str(recipe),
                                               "--folds", "5", "--json"])
    assert r.exit_code == 0, r.output
    assert json.loads(r.output)["protocol"] == "nested" and seen["folds"] == (5,)
    assert (seen["base"].epochs, seen["base"].width) == (7, 8) and seen["candidates"] is None  # CHOICES
    missing = CliRunner().invoke(eval_commands.app, ["esc10", "--model", "scratch-nested", "--config",
                                                     str(tmp_path / "nope.yaml"), "--json"])
    assert missing.exit_code != 0 and "config not found" in missing.output


# ---------------------------------------------------------------- MFCC + random forest ------------
def test_mfcc_features_and_forest_on_separable_tones():
    sr, rng = 16000, np.random.default_rng(0)
    t = np.arange(sr) / sr
    waves = [np.sin(2 * np.pi * (300 + 900 * (i % 2)) * t) * 0.3 + 0.01 * rng.standard_normal(sr) for i in range(40)]
    x = np.stack([M.clip_features(w) for w in waves])
    assert x.shape == (40, 50) and np.isfinite(x).all()
    y, folds = np.arange(40) % 2, np.arange(40) // 8 + 1
    assert M.cross_validate(x, y, folds, trees=20) == [1.0] * 5
    shuffled = M.cross_validate(x, rng.permutation(y), folds, trees=20)
    assert np.mean(shuffled) < 0.9  # labels that do not follow the sound are not learnt
    with pytest.raises(ValueError, match="mono waveform"):
        M.clip_features(np.zeros((2, 100)))


@pytest.mark.shared
@pytest.mark.slow
def test_mfcc_rf_baseline_on_esc10(shared_data):
    """`avu eval esc10 --model mfcc-rf` measured mean 0.74 (folds 0.6625, 0.7, 0.7625, 0.8125, 0.7625;
    500 trees, seed 0); the forest is seeded, so the figure is asserted tightly."""
    x, y, folds, labels = M.load_features(shared_data / "esc10")
    assert x.shape == (400, 50) and len(labels) == 10 and sorted(set(folds.tolist())) == [1, 2, 3, 4, 5]
    accs = M.cross_validate(x, y, folds, trees=500, seed=0)
    assert abs(np.mean(accs) - 0.74) <= 0.02 and min(accs) >= 0.6
    assert M.cross_validate(x, y, folds, test_folds=(5,), trees=500, seed=0) == accs[4:]  # a rerun: the same
