"""The trainer: losses fall, checkpoints and resume, Ray Train with 2 CPU workers, avshapes end to end.

The avshapes tests render a few real videos with ESC-10 sound (skipped without ../shared/data);
`SyntheticTask` needs no data: each caption names one of 4 pictures and one of 4 sounds."""
from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
import torch

from avu.train.config import TrainConfig
from avu.train.loop import fit

WORDS = ["red", "green", "blue", "white"], ["dog", "rain", "clock", "saw"]


class _Split:
    def __init__(self, n: int, seed: int):
        g = torch.Generator().manual_seed(seed)
        self.pic = torch.randint(0, 4, (n,), generator=g)
        self.snd = torch.randint(0, 4, (n,), generator=g)
        self.captions = [f"a {WORDS[0][p]} shape and a {WORDS[1][s]}" for p, s in zip(self.pic, self.snd)]

    def __len__(self):
        return len(self.captions)


class SyntheticTask:
    """Frames are flat colours (one per picture word); audio is a band of energy per sound word."""

    name = "synthetic"

    def __init__(self, n=96):
        self.splits = {"train": _Split(n, 0), "val": _Split(32, 1), "test": _Split(32, 2)}

    def captions(self, split):
        return self.splits[split].captions

    def batch(self, model, split, idx, *, train, g=None, device="cpu"):
        s = self.splits[split]
        b = len(idx)
        video = torch.zeros(b, 4, 3, 64, 64)
        for i, k in enumerate(idx):
            video[i, :, int(s.pic[k]) % 3] = 0.3 + 0.2 * int(s.pic[k])
        audio = torch.randn(b, 64, 100) * 0.1
        for i, k in enumerate(idx):
            audio[i, 16 * int(s.snd[k]): 16 * int(s.snd[k]) + 16] += 3.0
        caps = [s.captions[int(k)] for k in idx]
        return {"video": video, "audio": audio, "text": model.text.featurize(caps), "captions": caps}

    def evaluate(self, model, split="test", *, device="cpu"):
        from avu.metrics import retrieval_metrics

        model.eval()
        with torch.no_grad():
            b = self.batch(model, split, torch.arange(len(self.splits[split])), train=False)
            sim = (model.encode_text(b["text"]) @ model.encode_video(b).T).numpy()
        gt = [{j for j in range(len(sim)) if self.splits[split].captions[j] == self.splits[split].captions[i]}
              for i in range(len(sim))]
        return {"t2v": retrieval_metrics(sim, gt), "v2t": retrieval_metrics(sim.T, gt), "n": len(sim)}


def synthetic_cfg(tmp_path, **kw):
    base = dict(model="avshapes_student", epochs=4, batch_size=16, lr=3e-3, eval_every=2, out=str(tmp_path / "run"),
                threads=1)
    return TrainConfig.from_dict({**base, **kw})


@pytest.mark.parametrize("kw", [{}, {"loss": "infonce"}, {"adversarial": 0.1},
                                {"model_overrides": {"fusion": "late", "retrieval": "tri", "fusion_options": {}}}])
def test_training_lowers_the_loss_and_writes_a_run(tmp_path, kw):
    cfg = synthetic_cfg(tmp_path, **kw)
    result = fit(cfg, task=SyntheticTask())
    rows = [json.loads(line) for line in (tmp_path / "run" / "train.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in rows] == [1, 2, 3, 4]
    assert rows[-1]["total"] < rows[0]["total"]
    assert "val" in rows[1] and "val" in rows[3] and "val" not in rows[0]
    for name in ("best", "last"):
        assert (tmp_path / "run" / name / "model.safetensors").is_file()
    assert result["test"]["t2v"]["R@10"] > 0 and json.loads((tmp_path / "run" / "result.json").read_text())["params"]
    if kw.get("adversarial"):
        assert "adversarial" in rows[0]


def test_training_learns_the_synthetic_pairs(tmp_path):
    result = fit(synthetic_cfg(tmp_path, epochs=12, eval_every=12), task=SyntheticTask())
    assert result["test"]["t2v"]["R@5"] >= 60  # 16 distinct captions among 32 test items: chance is ~25


def test_resume_continues_from_last(tmp_path):
    fit(synthetic_cfg(tmp_path, epochs=2, eval_every=1), task=SyntheticTask())
    result = fit(synthetic_cfg(tmp_path, epochs=3, eval_every=1), task=SyntheticTask(), resume=True)
    rows = [json.loads(line) for line in (tmp_path / "run" / "train.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in rows] == [1, 2, 3] and result["epochs_run"] == 1


def test_distillation_trains_a_student_from_a_teacher(tmp_path):
    attention = {"fusion": "attention", "fusion_options": {"hidden": 32, "layers": 1, "heads": 4}}
    fit(synthetic_cfg(tmp_path / "t", model="avshapes_student", epochs=2, model_overrides=attention),
        task=SyntheticTask())
    cfg = synthetic_cfg(tmp_path / "s", epochs=2, distill={"teacher": str(tmp_path / "t" / "run" / "best"),
                                                           "soft": 1.0, "feature": 1.0, "attention": 1.0},
                        model_overrides=attention)
    fit(cfg, task=SyntheticTask())
    rows = [json.loads(line) for line in (tmp_path / "s" / "run" / "train.jsonl").read_text().splitlines()]
    assert rows[0]["distill"] > 0 and rows[-1]["distill"] < rows[0]["distill"]


def test_bad_configs_are_refused(tmp_path):
    with pytest.raises(ValueError, match="unknown keys \\['epoch'\\]"):
        TrainConfig.from_dict({"epoch": 3})
    with pytest.raises(ValueError, match="loss must be"):
        TrainConfig(loss="hinge")
    (tmp_path / "bad.yaml").write_text("- a list\n")
    with pytest.raises(ValueError, match="bad.yaml: a training config is a mapping"):
        TrainConfig.from_yaml(tmp_path / "bad.yaml")


def avshapes_cfg(tmp_path, shared, **kw):
    data = {"esc10_dir": str(shared / "esc10"), "limit": 16, "train_videos": 48}
    return TrainConfig.from_yaml("configs/avshapes.yaml", **{"data": data, "epochs": 2, "batch_size": 8,
                                                              "eval_every": 1, "out": str(tmp_path / "fused"),
                                                              "data_cache": str(tmp_path / "cache"), **kw})


def test_avshapes_videos_are_real_media_with_their_sound(tmp_path, shared_data):
    from avu.data.avshapes import HELD_OUT, build
    from avu.media import probe

    cfg = avshapes_cfg(tmp_path, shared_data)
    from avu.data.avshapes import AvShapesConfig

    splits = build(AvShapesConfig(**{**cfg.data, "train_folds": tuple(cfg.data.get("train_folds", (1, 2, 3)))}),
                   tmp_path / "data")
    test = splits["test"]
    assert test.frames.shape == (16, 8, 64, 64, 3) and test.mels.shape == (16, 64, 501)
    assert all(c in HELD_OUT for c in test.combos)
    assert not set(splits["train"].combos) & set(HELD_OUT)
    info = probe(test.files[0])
    assert info.has_video and info.has_audio and abs(info.duration - 5.0) < 0.2
    assert test.captions[0].count(test.combos[0][0]) == 1  # the caption names the shape


def test_avu_train_with_two_ray_train_workers(tmp_path, shared_data):
    """`avu train` end to end through Ray Train (TorchTrainer, 2 CPU workers, DDP), one epoch."""
    out = tmp_path / "ray_run"
    cmd = [sys.executable, "-m", "avu", "train", "configs/avshapes.yaml", "--workers", "2", "--out", str(out),
           "--set", "epochs=1", "--set", "batch_size=8", "--set", f"data.esc10_dir={shared_data / 'esc10'}",
           "--set", "data.limit=16", "--set", "data.train_videos=48", "--set", "model=avshapes_student",
           "--set", f"data_cache={tmp_path / 'cache'}"]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert p.returncode == 0, p.stderr[-3000:]
    result = json.loads((out / "result.json").read_text())
    assert result["workers"] == 2 and result["epochs_run"] == 1 and "test" in result
    assert (out / "best" / "model.safetensors").is_file() and (out / "ray").is_dir()


# Rendered avshapes data kept between test sessions (built aside and renamed in one step, so safe to
# share): 320 training videos and the full 80-video validation and test splits. The query-by-example
# tests use the same data.
AVSHAPES_CACHE = Path(tempfile.gettempdir()) / "avu-test-cache"
AVSHAPES_DATA = {"train_videos": 320}


@pytest.mark.slow
def test_eval_avshapes_learns_and_marks_reused_rows(tmp_path, shared_data, monkeypatch):
    """`avu eval avshapes` on a small config: the fused model ranks the right video far above chance,
    each row says whether it was trained or reused, and a different code version retrains."""
    import avu.train.loop as loop
    from avu.eval.avshapes import run as run_avshapes

    cfg = avshapes_cfg(tmp_path, shared_data, epochs=4, batch_size=32, eval_every=4, data_cache=str(AVSHAPES_CACHE),
                       data={"esc10_dir": str(shared_data / "esc10"), **AVSHAPES_DATA})
    result = run_avshapes(cfg, root=tmp_path / "avs", variants=["visual", "audio", "fused", "distilled"],
                          log=lambda s: None)
    assert set(result) >= {"visual", "audio", "fused", "variants", "distillation", "fused_minus_best_single_R@1",
                           "code_version", "reused"}
    assert result["test_videos"] == 80 and result["reused"] == []
    assert [r["variant"] for r in result["variants"]][0] == "fused"
    assert not any(r["reused"] for r in result["variants"])
    # 80 test videos: chance R@5 is 6.25; measured fused R@5 72.5 (R@1 30.0), visual 32.5, audio 55.0
    assert result["fused"]["R@5"] >= 40, result["fused"]
    assert result["distillation"]["param_ratio"] <= 0.25
    again = run_avshapes(cfg, root=tmp_path / "avs", variants=["visual"], log=lambda s: None)
    assert again["visual"] == result["visual"] and again["reused"] == ["visual"]
    assert again["variants"][0]["reused"] is True and again["code_version"] == result["code_version"]
    monkeypatch.setattr(loop, "code_version", lambda: "other-code")
    third = run_avshapes(cfg, root=tmp_path / "avs", variants=["visual"], log=lambda s: None)
    assert third["reused"] == [] and third["code_version"] == "other-code"


def test_bench_train_reports_samples_per_second():
    from avu.bench.train import bench_train

    r = bench_train(model="avshapes_student", batch=8, steps=2)
    assert r["cpu_fp32"]["samples_per_s"] > 0 and r["cpu_fp32"]["params"] > 0


def test_modality_dropout_trains_the_single_stream_embedding(tmp_path):
    """With modality dropout, early fusion's stand-ins for an absent stream get gradients (without it
    they keep their random values), a sample never loses both streams, and evaluation drops nothing."""
    from avu.train.loop import build_model
    from avu.train.objective import Objective

    task = SyntheticTask(n=64)
    torch.manual_seed(0)
    grads = {}
    for p in (0.0, 0.5):
        cfg = synthetic_cfg(tmp_path, modality_dropout=p)
        model = build_model(cfg, task)
        assert model.cfg.fusion == "early"
        obj = Objective(model, cfg)
        batch = task.batch(model, "train", torch.arange(64), train=True)
        masks = obj.stream_masks(model.train(), batch)
        if p:
            vm, am = masks["visual_mask"], masks["audio_mask"]
            assert bool((vm | am).all()) and 0 < int((~vm).sum()) < 32 and 0 < int((~am).sum()) < 32
            assert obj.stream_masks(model.eval(), batch) == {}
            model.train()
        else:
            assert masks == {}
        obj(model, batch)["total"].backward()
        grads[p] = (model.fusion.missing_visual.grad.abs().sum(), model.fusion.missing_audio.grad.abs().sum())
    assert grads[0.0] == (0, 0) and min(grads[0.5]) > 0
    with pytest.raises(ValueError, match="modality_dropout"):
        TrainConfig(modality_dropout=1.0)
