"""Frozen pretrained towers (avu.models.pretrained) and their cached features (avu.train.tasks._features):
shapes, no trainable extractor, one extraction per item, and a short training run above chance."""
from __future__ import annotations

from pathlib import Path

import pytest
import torch

from avu._paths import shared_models
from avu.models.model import AVModel
from avu.models.pretrained import FeatureTower, pretrained_backbones
from avu.models.registry import get_model_config

HAVE_MODELS = all((shared_models() / n).is_file()
                  for n in ("tf2_mobilenet_v2_1.0_224_ptq.tflite", "yamnet.tflite", "yamnet_class_map.csv"))
needs_models = pytest.mark.skipif(not HAVE_MODELS, reason=f"pretrained models absent: {shared_models()}")


def test_pretrained_towers_shapes_and_nothing_trainable():
    cfg = get_model_config("avshapes_pretrained").replace(text={"vocab": ["<pad>", "<unk>", "a", "red", "dog"]})
    model = AVModel(cfg)
    assert isinstance(model.visual, FeatureTower) and isinstance(model.audio, FeatureTower)
    assert (model.visual.out_dim, model.audio.out_dim) == (1280, 1024)
    assert pretrained_backbones(cfg) == {"visual": "mobilenet_v2_tflite", "audio": "yamnet"}
    assert not list(model.visual.parameters()) and not list(model.audio.parameters())
    v = torch.randn(3, 4, 1280, requires_grad=True)
    a = torch.randn(3, 10, 1024, requires_grad=True)
    out = model.stream_embeddings({"video": v, "audio": a})
    assert {k: tuple(x.shape) for k, x in out.items()} == {"visual": (3, 128), "audio": (3, 128), "fused": (3, 128)}
    out["fused"].sum().backward()
    assert v.grad is None and a.grad is None  # nothing flows back into the extractor's output
    assert model.encode_image(torch.randn(2, 1280)).shape == (2, 128)  # one image = one token
    with pytest.raises(ValueError, match="cached 1280-d features"):
        model.encode_video({"video": torch.rand(3, 4, 3, 64, 64), "audio": a})


@pytest.fixture(scope="module")
def small_task(tmp_path_factory, shared_data):
    from avu.train.config import TrainConfig
    from avu.train.tasks import create_task

    cache = tmp_path_factory.mktemp("pretrained")
    data = {"esc10_dir": str(shared_data / "esc10"), "limit": 24, "train_videos": 48}
    cfg = TrainConfig.from_yaml("configs/avshapes.yaml", data=data, epochs=12, batch_size=8, eval_every=12,
                                model="avshapes_pretrained", out=str(cache / "run"), data_cache=str(cache))
    return cfg, create_task(cfg)


@needs_models
@pytest.mark.slow
def test_features_are_computed_once_and_cached(small_task, monkeypatch):
    import avu.train.tasks._features as feats

    cfg, task = small_task
    calls = {"frames": 0, "audio": 0}
    frame_features, audio_features = feats.frame_features, feats.audio_features

    def count(kind, fn):
        def wrapped(*a, **k):
            calls[kind] += 1
            return fn(*a, **k)
        return wrapped

    monkeypatch.setattr(feats, "frame_features", count("frames", frame_features))
    monkeypatch.setattr(feats, "audio_features", count("audio", audio_features))
    both = {"visual": "mobilenet_v2_tflite", "audio": "yamnet"}
    first = feats.split_features(task, "test", both)
    second = feats.split_features(task, "test", both)
    assert calls == {"frames": 1, "audio": 1}
    n = len(task.splits["test"])
    assert first["visual"].shape == (n, 8, 1280) and first["audio"].shape == (n, 10, 1024)
    assert torch.equal(first["visual"], second["visual"]) and torch.equal(first["audio"], second["audio"])
    assert first["visual"].std() > 0 and first["audio"].std() > 0
    files = sorted(p.name for p in (Path(cfg.data_cache) / "features").iterdir())
    assert len(files) == 2 and all(f.endswith(".safetensors") for f in files), files


@needs_models
@pytest.mark.slow
def test_training_on_pretrained_features_beats_chance(small_task):
    from avu.train.loop import fit

    cfg, task = small_task
    result = fit(cfg, task=task)
    n = result["test"]["n"]
    chance_r5 = 100 * 5 / n
    assert result["test"]["t2v"]["R@5"] >= 2 * chance_r5, result["test"]["t2v"]
