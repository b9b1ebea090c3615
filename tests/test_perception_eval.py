"""The perception evaluations: ESC-10 choices are made inside the training folds only; the COCO
zero-shot split is the training task's, and the settings fixed in the code are the ones chosen on
its 104 train images."""
from __future__ import annotations

import numpy as np
import pytest

from avu.eval import coco_zero_shot, esc10_yamnet
from avu.perception import ObjectTag, SegmentPerception, Tag


def test_silent_patches_are_dropped_but_the_loudest_stays():
    rms = np.array([[0.0, 0.2, 1e-4, 0.05], [0.0, 1e-5, 0.0, 0.0]])
    assert esc10_yamnet.kept(rms, 1e-3).tolist() == [[False, True, False, True], [False, True, False, False]]
    assert esc10_yamnet.kept(rms, 0.0).all()
    with pytest.raises(ValueError):
        esc10_yamnet.kept(np.zeros(4), 1e-3)


def test_clip_prediction_pools_kept_patches_only():
    rng = np.random.default_rng(0)
    y = np.repeat(np.arange(3), 10)
    emb = rng.normal(size=(30, 4, 6)) + 3 * np.eye(6)[y][:, None, :]
    emb[:, 3] = 3 * np.eye(6)[(y + 1) % 3]  # the last patch of every clip looks like the next class
    rms = np.ones((30, 4))
    rms[:, 3] = 0.0  # ... and is silent
    keep = esc10_yamnet.kept(rms, 1e-3)
    clf = esc10_yamnet.fit_patches(emb, keep, y, np.arange(30), c=1.0, seed=0)
    emb[:, 3] *= 10  # a confident wrong patch: pooled, it would flip every clip
    assert (esc10_yamnet.predict_clips(clf, emb, keep, np.arange(30)) == y).all()
    assert (esc10_yamnet.predict_clips(clf, emb, np.ones_like(keep), np.arange(30)) != y).any()


class _Probabilities:
    """A "classifier" whose patch features are already its class probabilities."""

    classes_ = np.array([0, 1])

    def predict_proba(self, x):
        return x


@pytest.mark.parametrize("pooling, expected", [("logp", [0, 1]), ("prob", [0, 0]), ("max", [1, 1])])
def test_each_pooling_decides_a_clip_its_own_way(pooling, expected):
    clips = np.array([[[0.9, 0.1], [0.9, 0.1], [0.05, 0.95]],  # one short loud sound of class 1: max hears it
                      [[0.001, 0.999], [0.8, 0.2], [0.8, 0.2]]])  # one patch all but rules out class 0: logp
    keep = np.ones((2, 3), dtype=bool)
    got = esc10_yamnet.predict_clips(_Probabilities(), clips, keep, np.arange(2), pooling=pooling)
    assert got.tolist() == expected
    keep[1, 0] = False  # without that patch, every pooling says class 0
    assert esc10_yamnet.predict_clips(_Probabilities(), clips, keep, np.array([1]), pooling=pooling).tolist() == [0]


def test_choice_never_sees_the_test_fold(monkeypatch):
    monkeypatch.setattr(esc10_yamnet, "CS", (0.1,))  # both floors, one C: fewer fits
    rng = np.random.default_rng(0)
    y = np.repeat(np.arange(4), 25)
    folds = np.tile(np.arange(1, 6), 20)
    emb = rng.normal(size=(100, 3, 8)) + y[:, None, None]
    rms = rng.uniform(0, 2e-3, size=(100, 3))
    a = esc10_yamnet.choose(emb, rms, y, folds, [2, 3, 4, 5], seed=0)
    f1 = (folds == 1)[:, None, None]
    scrambled = np.where(f1, rng.normal(size=emb.shape) * 100, emb)
    rms_scrambled = np.where(f1[..., 0], rng.uniform(0, 1, size=rms.shape), rms)
    y_scrambled = np.where(folds == 1, rng.permutation(y), y)
    b = esc10_yamnet.choose(scrambled, rms_scrambled, y_scrambled, folds, [2, 3, 4, 5], seed=0)
    assert a == b  # fold 1 changed beyond recognition, the choice did not
    assert a[0] in esc10_yamnet.FLOORS and a[1] in esc10_yamnet.CS and a[2] in esc10_yamnet.POOLINGS and a[3] > 0.5
    with pytest.raises(ValueError):
        esc10_yamnet.choose(emb, rms, y, folds, [2, 3, 4, 5], seed=0, inner_folds=5)


def test_variant_narrows_like_the_perceiver():
    p = SegmentPerception(seen=[Tag("a", 0.5), Tag("b", 0.3), Tag("c", 0.005)],
                          objects=[ObjectTag("person", 0.9, 2), ObjectTag("cup", 0.3, 1)])
    v = coco_zero_shot.variant(p, seen_top_k=2, seen_min=0.0, object_min=0.4)
    assert [t.label for t in v.seen] == ["a", "b"] and [o.label for o in v.objects] == ["person"]
    v = coco_zero_shot.variant(p, seen_top_k=5, seen_min=0.01, object_min=0.25)
    assert [t.label for t in v.seen] == ["a", "b"] and len(v.objects) == 2


def test_split_is_the_training_tasks(shared_data):
    images, train, test = coco_zero_shot.load_split(shared_data / "coco")
    assert (len(images), len(train), len(test)) == (154, 104, 50)
    assert max(im.image_id for im in train) < min(im.image_id for im in test)


@pytest.mark.slow
def test_fixed_settings_are_the_train_choice(shared_data):
    from avu._paths import shared_models
    from avu.models.text import load_minilm
    from avu.perception.files import PINS

    if not all((shared_models() / n).is_file() for n in PINS):
        pytest.skip(f"pretrained models absent: {shared_models()}")
    _, train, _ = coco_zero_shot.load_split(shared_data / "coco")
    percepts = coco_zero_shot.perceive_images(train)
    sel = coco_zero_shot.select(train, percepts, load_minilm())
    assert sel["chosen"] == coco_zero_shot.fixed_knobs()


def test_eval_coco_zero_shot_flag(monkeypatch):
    """`avu eval coco --zero-shot --json` (the spelling of #17) runs the zero-shot evaluation, as
    `--model zero-shot` does; it takes no checkpoint."""
    import json

    from typer.testing import CliRunner

    from avu.cli import app

    ran = []
    monkeypatch.setattr(coco_zero_shot, "run", lambda models_dir=None: ran.append(models_dir) or {"t2i": {"R@5": 1}})
    for args in (["--zero-shot"], ["--model", "zero-shot"]):
        r = CliRunner().invoke(app, ["eval", "coco", *args, "--json"])
        assert r.exit_code == 0 and json.loads(r.stdout) == {"t2i": {"R@5": 1}}, r.output
    assert ran == [None, None]
    r = CliRunner().invoke(app, ["eval", "coco", "--zero-shot", "--checkpoint", "runs/x/best"])
    assert r.exit_code == 1 and "loads no checkpoint" in r.stderr and len(ran) == 2
