"""The perception evaluations: ESC-10 choices are made inside the training folds only; the COCO
zero-shot split is the training task's, and the settings fixed in the code are the ones chosen on
its 104 train images."""
from __future__ import annotations

import numpy as np
import pytest

from avu.eval import coco_zero_shot, esc10_yamnet
from avu.perception import ObjectTag, SegmentPerception, Tag


def test_pooling_shapes():
    e = np.arange(20, dtype=np.float32).reshape(10, 2)
    assert esc10_yamnet.pool(e, "mean").tolist() == [9.0, 10.0]
    assert esc10_yamnet.pool(e, "max").tolist() == [18.0, 19.0]
    assert esc10_yamnet.pool(e, "mean+max").shape == (4,)
    with pytest.raises(ValueError):
        esc10_yamnet.pool(e, "median")


def test_choice_never_sees_the_test_fold(monkeypatch):
    monkeypatch.setattr(esc10_yamnet, "CS", (0.1, 1.0))
    rng = np.random.default_rng(0)
    y = np.repeat(np.arange(4), 25)
    folds = np.tile(np.arange(1, 6), 20)
    x = rng.normal(size=(100, 8)) + y[:, None]
    feats = {how: x for how in esc10_yamnet.POOLINGS}
    a = esc10_yamnet.choose(feats, y, folds, [2, 3, 4, 5], seed=0)
    scrambled = {how: np.where((folds == 1)[:, None], rng.normal(size=x.shape) * 100, x) for how in feats}
    y_scrambled = np.where(folds == 1, rng.permutation(y), y)
    b = esc10_yamnet.choose(scrambled, y_scrambled, folds, [2, 3, 4, 5], seed=0)
    assert a == b  # fold 1 changed beyond recognition, the choice did not
    assert a[0] in esc10_yamnet.POOLINGS and a[1] in esc10_yamnet.CS and a[2] > 0.5


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
